# syntax=docker/dockerfile:1
# The Clockwork supervisor image: small (Node's slim Debian 12 image), non-root, with a
# health check. Build from the repository root:
#   docker build -f deploy/docker/supervisor.Dockerfile -t clockwork/supervisor .
# Configuration is environment variables only (docs/configuration.md), e.g.
#   docker run -e CLOCKWORK_DB_HOST=db -e CLOCKWORK_DB_NAME=clockwork \
#     -e CLOCKWORK_DB_USER=clockwork_supervisor -e CLOCKWORK_DB_PASSWORD_FILE=/run/secrets/pw …

FROM node:20-bookworm AS build
COPY . /src
RUN /src/deploy/docker/build-packages.sh /out

FROM node:20-bookworm-slim
COPY --from=build /out/clockwork-*.tgz /tmp/clockwork.tgz
COPY deploy/docker/install-supervisor.sh deploy/docker/healthcheck.mjs /usr/local/lib/clockwork/
RUN /usr/local/lib/clockwork/install-supervisor.sh /tmp/clockwork.tgz \
 && rm /tmp/clockwork.tgz && npm cache clean --force
USER clockwork
WORKDIR /var/lib/clockwork
ENV NODE_ENV=production CLOCKWORK_HTTP_PORT=9187
EXPOSE 9187
# Healthy = ready: registered, database answering, LISTEN up.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/usr/local/lib/clockwork/healthcheck.mjs"]
# SIGTERM: stop claiming, let running steps finish (CLOCKWORK_SHUTDOWN_GRACE, 30 s), hand
# back the rest. Give the container longer than that: docker stop -t 40.
STOPSIGNAL SIGTERM
ENTRYPOINT ["clockwork"]
CMD ["supervisor"]
