# syntax=docker/dockerfile:1
# PostgreSQL 15 with clockwork_v8 and clockwork installed (the Debian package), on the
# official image, whose PostgreSQL 15 packages satisfy the package's dependency. Build from
# the repository root:
#   docker build -f deploy/docker/postgres.Dockerfile -t clockwork/postgres:15 .
# On first start, initdb/10-clockwork.sh creates the dedicated scheduler role and database
# (CLOCKWORK_DB_USER, CLOCKWORK_DB_NAME, CLOCKWORK_DB_PASSWORD(_FILE)) with the extensions.

FROM node:20-bookworm AS build
COPY . /src
RUN /src/deploy/docker/build-packages.sh /out

FROM postgres:15-bookworm
COPY --from=build /out/clockwork_*.deb /tmp/
COPY deploy/docker/install-postgres.sh /usr/local/lib/clockwork/
RUN /usr/local/lib/clockwork/install-postgres.sh /tmp/clockwork_*.deb && rm /tmp/clockwork_*.deb
COPY deploy/docker/initdb/10-clockwork.sh /docker-entrypoint-initdb.d/
