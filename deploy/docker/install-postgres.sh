#!/bin/sh
# Installs Clockwork's extension package (clockwork_…_amd64.deb, from build/package-deb.sh)
# into a Debian 12 system with PostgreSQL 15 from apt: the PostgreSQL image
# (postgres.Dockerfile, on postgres:15-bookworm) runs exactly this, and so does the
# packaging test, in a clean Debian 12 root:
#   deploy/docker/install-postgres.sh /tmp/clockwork_1.1.0-1_amd64.deb
set -eu
deb=${1:?usage: install-postgres.sh CLOCKWORK_DEB}
case $deb in /*) ;; *) deb=$(pwd)/$deb ;; esac
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "$deb"
rm -rf /var/lib/apt/lists/*
test -f /usr/share/postgresql/15/extension/clockwork.control
test -f /usr/lib/postgresql/15/lib/clockwork_v8/clockwork_v8_engine.so
echo "clockwork and clockwork_v8 installed for PostgreSQL 15"
