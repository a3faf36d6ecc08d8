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

need=()
for p in freeradius freeradius-postgresql freeradius-utils; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "Installing ${need[*]} (Debian's FreeRADIUS 3.2; the system service is not used)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/src/cli.js ]; then
  npm ci --no-audit --no-fund
fi

exec node bin/lango up
