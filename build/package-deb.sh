#!/usr/bin/env bash
# Builds Clockwork's Debian packages for PostgreSQL 15 on Debian 12 with the platform's
# own tools (dpkg-deb, dpkg-shlibdeps), from what `make build` left in the checkout:
#
#   clockwork_<version>-1_<arch>.deb            the extensions clockwork and clockwork_v8:
#       the runtime (with its private copies of Debian's libnode and libc-ares, as
#       `make install` puts them) and the SQL scripts, at PostgreSQL 15's Debian paths;
#   clockwork-supervisor_<version>-1_all.deb    the `clockwork` command (the compiled CLI
#       and its production npm dependencies), the systemd units and /etc/clockwork.
#
# Two packages because they go to different hosts: the extension to the database server,
# the supervisor wherever it runs (often a container). The supervisor needs Node.js 20 or
# later, which Debian 12 itself does not ship (see docs/deploying.md).
#
#   build/package-deb.sh [OUTDIR]     (default dist/deb; prints the paths of the packages)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/deb}
cd "$root"

pg_major=15
pkglib=/usr/lib/postgresql/$pg_major/lib
extdir=/usr/share/postgresql/$pg_major/extension
version=$(node -p 'require("./package.json").version')
revision=1
arch=$(dpkg --print-architecture)
maintainer="Clockwork developers <clockwork@localhost>"
runtime=extension/runtime
v8lib=.deps/v8/usr/lib/x86_64-linux-gnu

for f in "$runtime/clockwork_v8.so" "$runtime/clockwork_v8_engine.so" dist/extension/clockwork.control dist/supervisor/index.js; do
  [ -f "$f" ] || { echo "package-deb: $f is missing: run \`make build\` first" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

copyright() { # $1 = destination directory of the package's docs
  mkdir -p "$1"
  cat > "$1/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: clockwork
Comment: clockwork_v8 ships private copies of libnode.so.108 (Debian package libnode108,
 Node.js and V8, MIT and BSD licences) and libcares.so.2 (Debian package libc-ares2, MIT),
 unmodified, because libnode108 cannot be installed beside the Node.js 20 the supervisor
 uses. Their copyright files are those of Debian's packages.

Files: *
License: MIT
EOF
  printf 'clockwork (%s-%s) bookworm; urgency=medium\n\n  * Release %s: see CHANGELOG.md.\n\n -- %s  %s\n' \
    "$version" "$revision" "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$1/changelog.Debian.gz"
}

# --- clockwork: the extensions -------------------------------------------------------
ext=$work/clockwork
install -d "$ext$pkglib/clockwork_v8" "$ext$extdir"
install -m 755 "$runtime/clockwork_v8.so" "$ext$pkglib/"
install -m 755 "$runtime/clockwork_v8_engine.so" "$ext$pkglib/clockwork_v8/"
install -m 644 "$v8lib/libnode.so.108" "$v8lib/libcares.so.2" "$ext$pkglib/clockwork_v8/"
install -m 644 "$runtime/clockwork_v8.control" "$runtime"/sql/clockwork_v8--*.sql "$ext$extdir/"
install -m 644 dist/extension/clockwork.control dist/extension/clockwork--*.sql "$ext$extdir/"
strip --strip-unneeded "$ext$pkglib/clockwork_v8.so" "$ext$pkglib/clockwork_v8/clockwork_v8_engine.so"
copyright "$ext/usr/share/doc/clockwork"

# Shared-library dependencies as Debian computes them; the private libnode/libcares are
# found in the package itself (-l) and their own dependencies (libuv, ICU, OpenSSL…) are
# looked up like any other. PostgreSQL's symbols are left for the backend to provide.
mkdir -p "$work/shlibs/debian"
printf 'Source: clockwork\n\nPackage: clockwork\nArchitecture: any\n' > "$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O --ignore-missing-info -l"$ext$pkglib/clockwork_v8" \
  "$ext$pkglib/clockwork_v8.so" "$ext$pkglib/clockwork_v8/clockwork_v8_engine.so" \
  "$ext$pkglib/clockwork_v8/libnode.so.108" "$ext$pkglib/clockwork_v8/libcares.so.2" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$ext/DEBIAN"
cat > "$ext/DEBIAN/control" <<EOF
Package: clockwork
Version: $version-$revision
Architecture: $arch
Maintainer: $maintainer
Section: database
Priority: optional
Depends: postgresql-$pg_major, $shlibs
Suggests: clockwork-supervisor
Installed-Size: $(du -sk "$ext" | cut -f1)
Description: job scheduler inside PostgreSQL $pg_major (extensions clockwork and clockwork_v8)
 Clockwork defines jobs in SQL or YAML and fires them exactly once, with a history
 you can query. This package installs the PostgreSQL extensions: clockwork (the
 scheduler, PL/v8 functions) and clockwork_v8 (LANGUAGE plv8 on Debian's V8).
 Run CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork; in a database,
 and a supervisor (package clockwork-supervisor, or the container image) beside it.
EOF
dpkg-deb --root-owner-group -Zgzip --build "$ext" "$out/clockwork_${version}-${revision}_${arch}.deb" >/dev/null

# --- clockwork-supervisor: the command, its dependencies, systemd units ---------------
sup=$work/clockwork-supervisor
app=$sup/usr/lib/clockwork
tarball=$(npm pack --silent --ignore-scripts --pack-destination "$work")
install -d "$app"
printf '{"name":"clockwork-supervisor-install","private":true}\n' > "$app/package.json"
(cd "$app" && npm install --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error --no-package-lock "$work/$tarball" >/dev/null)
rm -f "$app/package.json"
install -d "$sup/usr/bin"
ln -s ../lib/clockwork/node_modules/clockwork/supervisor/bin/clockwork.js "$sup/usr/bin/clockwork"
install -d "$sup/lib/systemd/system" "$sup/etc/clockwork/jobs"
install -m 644 deploy/systemd/*.service deploy/systemd/*.timer "$sup/lib/systemd/system/"
install -m 640 deploy/clockwork.conf "$sup/etc/clockwork/clockwork.conf"
copyright "$sup/usr/share/doc/clockwork-supervisor"

mkdir -p "$sup/DEBIAN"
echo /etc/clockwork/clockwork.conf > "$sup/DEBIAN/conffiles"
cat > "$sup/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# The supervisor runs as the system user clockwork, never as root; the configuration
# (which may hold a password) is readable by root and that user only.
set -e
if [ "$1" = configure ]; then
  if ! getent passwd clockwork >/dev/null; then
    adduser --system --group --home /var/lib/clockwork --no-create-home --quiet clockwork
  fi
  install -d -o clockwork -g clockwork -m 750 /var/lib/clockwork /var/log/clockwork
  chgrp clockwork /etc/clockwork/clockwork.conf
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
exit 0
EOF
cat > "$sup/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
EOF
chmod 755 "$sup/DEBIAN/postinst" "$sup/DEBIAN/postrm"
cat > "$sup/DEBIAN/control" <<EOF
Package: clockwork-supervisor
Version: $version-$revision
Architecture: all
Maintainer: $maintainer
Section: database
Priority: optional
Depends: nodejs (>= 20), adduser, procps
Recommends: postgresql-client
Installed-Size: $(du -sk "$sup" | cut -f1)
Description: job scheduler inside PostgreSQL: the supervisor and the clockwork command
 The supervisor keeps time next to a database with the clockwork extension, runs the
 shell and program steps a database cannot run, and reports results. This package
 installs the clockwork command, a systemd unit (clockwork-supervisor.service), a
 timer and service pair for one-shot runs (clockwork-run@.timer), and
 /etc/clockwork/clockwork.conf.
EOF
dpkg-deb --root-owner-group -Zgzip --build "$sup" "$out/clockwork-supervisor_${version}-${revision}_all.deb" >/dev/null

echo "$out/clockwork_${version}-${revision}_${arch}.deb"
echo "$out/clockwork-supervisor_${version}-${revision}_all.deb"
