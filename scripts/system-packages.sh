# The Debian/Ubuntu packages Lango and its tests use, installed when missing (sourced by
# scripts/up.sh and .ci/run, so the two lists cannot drift).
#   run:  Debian's FreeRADIUS 3.2 (the system service is not used: Lango starts its own with the
#         project's config).
#   test: nft, tc and ping for the gateway firewall tests (network namespaces, as root);
#         Chromium for the portal's browser tests (playwright-core drives it);
#         the PostgreSQL server package for the reports replica test (initdb, pg_ctl,
#         pg_basebackup of a primary and a streaming replica of its own).
LANGO_RUN_PACKAGES=(freeradius freeradius-postgresql freeradius-utils)
LANGO_TEST_PACKAGES=(nftables iproute2 iputils-ping chromium postgresql)
#   bench (not installed by .ci/run or up.sh; `install_system_packages "${LANGO_BENCH_PACKAGES[@]}"`):
#         valgrind for `npm run bench:profile-auth` (callgrind instruction counts per login).
# shellcheck disable=SC2034
LANGO_BENCH_PACKAGES=(valgrind)

# install_system_packages PACKAGE...: apt-get install of those not installed yet.
install_system_packages() {
  local sudo="" need=() p
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  [ "${#need[@]}" -gt 0 ] || return 0
  echo "== installing ${need[*]}"
  $sudo apt-get update -qq
  # Debian's postinst does not start daemons when policy-rc.d forbids it; nothing here needs them.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}
