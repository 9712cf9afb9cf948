#!/usr/bin/env bash
# Puts Debian's promtool (from the package prometheus) into a private, git-ignored prefix,
# .deps/prometheus, for the tests of the alerting rules and the dashboard's queries. Like
# fetch-v8.sh: `apt-get download` + `dpkg -x`, so no Prometheus server is installed or started.
set -euo pipefail

prefix="${1:-$(cd "$(dirname "$0")/.." && pwd)/.deps/prometheus}"
stamp="$prefix/.complete"
[ -f "$stamp" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
chmod 777 "$work" # apt-get download runs as the _apt user when root
if ! apt-get download prometheus >/dev/null 2>&1; then
  apt-get update -qq
  apt-get download prometheus >/dev/null
fi
rm -rf "$prefix"
mkdir -p "$prefix"
dpkg -x ./prometheus_*.deb "$prefix"
"$prefix/usr/bin/promtool" --version >/dev/null
touch "$stamp"
echo "clockwork: promtool unpacked into $prefix"
