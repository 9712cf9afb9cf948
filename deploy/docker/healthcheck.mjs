// The supervisor image's HEALTHCHECK: healthy means ready (/readyz answers 200: registered,
// database answering, LISTEN up), so that `depends_on: condition: service_healthy` and
// `docker ps` mean what they say. Node's fetch: the slim image has no curl.
//   node healthcheck.mjs      (port from CLOCKWORK_HTTP_PORT, default 9187)
const port = process.env.CLOCKWORK_HTTP_PORT || "9187";
try {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2500) });
  const reason = (await response.text()).trim();
  console.log(`${response.status} ${reason}`);
  process.exit(response.status === 200 ? 0 : 1);
} catch (error) {
  console.log(`unreachable: ${error.message}`);
  process.exit(1);
}
