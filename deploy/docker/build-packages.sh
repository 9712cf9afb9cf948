#!/bin/sh
# The build stage of both images: from a copy of the repository, installs what the build
# needs (build/setup-system.sh: PostgreSQL 15 server headers, compilers; Debian's V8), builds
# (make build), and writes the npm package and the Debian packages to OUT (default /out).
# CI builds the same artefacts the same way (the packaging tests).
set -eu
out=${1:-/out}
cd "$(dirname "$0")/../.."
make deps build
mkdir -p "$out"
npm pack --ignore-scripts --pack-destination "$out"
build/package-deb.sh "$out"
