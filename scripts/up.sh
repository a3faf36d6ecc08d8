#!/usr/bin/env bash
# The newcomer's command: installs what Lango needs on Debian/Ubuntu and brings it up with
# working defaults (embedded PostgreSQL unless DATABASE_URL is set, FreeRADIUS with the
# project's config, the API, a demo tenant) and prints a radtest line that gets Access-Accept.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Lango needs Node.js 20 or newer with npm (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it from your distribution or nodejs.org, then run this again." >&2
  exit 1
fi

# What Lango runs on, and what `npm test` needs next to it (the README's second command);
# LANGO_SKIP_TEST_PACKAGES=1 installs only the first (Chromium is the big one).
# shellcheck source=system-packages.sh
. scripts/system-packages.sh
if [ "${LANGO_SKIP_TEST_PACKAGES:-}" = "1" ]; then
  install_system_packages "${LANGO_RUN_PACKAGES[@]}"
else
  install_system_packages "${LANGO_RUN_PACKAGES[@]}" "${LANGO_TEST_PACKAGES[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/src/cli.js ]; then
  npm ci --no-audit --no-fund
fi

exec node bin/lango up
