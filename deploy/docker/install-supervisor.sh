#!/bin/sh
# Installs the clockwork command from its npm package (npm pack of the repository) with
# production dependencies only, and the non-root user that runs it. The supervisor image
# (supervisor.Dockerfile) runs exactly this; so do the tests, in a clean directory:
#   deploy/docker/install-supervisor.sh clockwork-1.1.0.tgz
# Settings (environment): CLOCKWORK_PREFIX (default /opt/clockwork), CLOCKWORK_BIN_DIR
# (default /usr/local/bin), CLOCKWORK_CREATE_USER (yes|no, default yes: user clockwork,
# uid 10001, home /var/lib/clockwork).
set -eu
tarball=${1:?usage: install-supervisor.sh CLOCKWORK_TARBALL}
case $tarball in /*) ;; *) tarball=$(pwd)/$tarball ;; esac
prefix=${CLOCKWORK_PREFIX:-/opt/clockwork}
bindir=${CLOCKWORK_BIN_DIR:-/usr/local/bin}

mkdir -p "$prefix" "$bindir"
cd "$prefix"
printf '{"name":"clockwork-install","private":true}\n' > package.json
npm install --omit=dev --no-audit --no-fund --no-update-notifier --loglevel=error "$tarball"
ln -sf "$prefix/node_modules/.bin/clockwork" "$bindir/clockwork"
"$bindir/clockwork" --help > /dev/null

if [ "${CLOCKWORK_CREATE_USER:-yes}" = yes ] && ! id clockwork > /dev/null 2>&1; then
  useradd --system --uid 10001 --user-group --home-dir /var/lib/clockwork --create-home --shell /usr/sbin/nologin clockwork
fi
echo "clockwork installed in $prefix ($bindir/clockwork)"
