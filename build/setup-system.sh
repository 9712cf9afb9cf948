#!/usr/bin/env bash
# Installs the Debian packages Clockwork builds and tests with, when they are missing.
# Idempotent and quiet when everything is already there, so `make test` stays fast on re-runs.
set -euo pipefail

# chromium and a font: the console's browser tests drive Debian's Chromium (playwright-core, no browser download).
# debootstrap: the Debian packages are tested in a clean Debian 12 root (test/packaging).
packages=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron pgagent build-essential pkg-config chromium fonts-dejavu-core debootstrap)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "clockwork: missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "clockwork: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
