#!/usr/bin/env bash
# Makes a private copy of the machine's PostgreSQL 15 installation (binaries, libraries,
# share directory) under DIR and prints the path of its pg_config. PostgreSQL finds its
# share and library directories relative to its binaries, so `make install` and the tests
# run with PG_CONFIG=<that path> install into and start clusters from the copy alone: two
# checkouts of Clockwork can then build, install and test side by side without
# overwriting each other's extension files in the system's directories.
#   PG_CONFIG=$(build/private-pg.sh /tmp/pg-mine) make test
set -euo pipefail
dir=${1:?usage: build/private-pg.sh DIR}
src_bin=$(pg_config --bindir)          # /usr/lib/postgresql/15/bin
src_lib=$(dirname "$src_bin")          # /usr/lib/postgresql/15
src_share=$(pg_config --sharedir)      # /usr/share/postgresql/15
src_include=$(pg_config --includedir)  # /usr/include/postgresql (PGXS builds against it)
if [ ! -x "$dir$src_bin/pg_config" ]; then
  for d in "$src_lib" "$src_share" "$src_include"; do
    mkdir -p "$dir$(dirname "$d")"
    cp -a "$d" "$dir$(dirname "$d")/"
  done
fi
echo "$dir$src_bin/pg_config"
