// Built-in steps' arguments are checked when the job is defined: each bad one is refused
// with its path, secrets can only be named (CLOCKWORK_SECRET_*), files only in the working
// area, and the network built-ins only for roles allowed to use them.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE, validateBuiltinArgs, validateJobDefinition, checkWorkPath } from "../../extension/src/core/index.ts";

const refused = (name: string, args: unknown): [string, string][] => {
  const r = validateBuiltinArgs(name, args, "steps.s.args");
  assert.ok(!r.ok, `${name} ${JSON.stringify(args)} should be refused`);
  return r.errors.map((e) => [e.code, `${e.path}: ${e.message}`]);
};

describe("built-in arguments", () => {
  test("good arguments are normalized", () => {
    const sleep = validateBuiltinArgs("sleep", { duration: "1m30s" }, "a");
    assert.deepEqual(sleep.ok && sleep.args, { builtin: "sleep", durationMs: 90_000 });
    const http = validateBuiltinArgs("http", {
      url: "https://api.example.com/v1/x", method: "post", body: { a: 1 }, allow_status: [404],
      headers: { "X-Team": "dba" }, secret_headers: { Authorization: { secret: "CLOCKWORK_SECRET_API", prefix: "Bearer " } },
    }, "a");
    assert.ok(http.ok && http.args.builtin === "http");
    assert.equal(http.args.method, "POST");
    assert.equal(http.args.body, '{"a":1}');
    assert.deepEqual(http.args.secretHeaders, { Authorization: { env: "CLOCKWORK_SECRET_API", prefix: "Bearer " } });
    const copy = validateBuiltinArgs("copy_to", { file: "out/day.csv", query: "select 1", header: true }, "a");
    assert.ok(copy.ok && copy.args.builtin === "copy_to" && copy.args.format === "csv");
  });

  const cases: [string, string, unknown, [string, RegExp][]][] = [
    ["sleep without a duration", "sleep", {}, [[SQLSTATE.invalid_builtin, /^steps\.s\.args\.duration: is required/]]],
    ["sleep too long", "sleep", { duration: "2 days" }, [[SQLSTATE.invalid_builtin, /duration: must be at most 1 day/]]],
    ["an unknown argument, with a suggestion", "sleep", { duraton: "1s" }, [
      [SQLSTATE.invalid_builtin, /args\.duraton: unknown argument "duraton" of sleep \(did you mean "duration"\?\)/],
      [SQLSTATE.invalid_builtin, /duration: is required/]]],
    ["http to a non-http URL", "http", { url: "file:///etc/passwd" }, [[SQLSTATE.invalid_builtin, /url: must be an http:\/\/ or https:\/\/ URL, got file:/]]],
    ["http with a password in the URL", "http", { url: "https://u:p@x.example/" }, [[SQLSTATE.secret_in_definition, /url: must not carry a user or password/]]],
    ["http with a literal Authorization header", "http", { url: "https://x.example/", headers: { Authorization: "Bearer t0ken" } }, [[SQLSTATE.secret_in_definition, /headers\.Authorization: the Authorization header is a credential/]]],
    ["a secret header naming a variable outside CLOCKWORK_SECRET_", "http", { url: "https://x.example/", secret_headers: { Authorization: "PGPASSWORD" } }, [[SQLSTATE.secret_in_definition, /secret_headers\.Authorization: must name a secret, not hold one/]]],
    ["a secret header holding a value", "http", { url: "https://x.example/", secret_headers: { "X-Key": "abc123" } }, [[SQLSTATE.secret_in_definition, /secret_headers\.X-Key/]]],
    ["an argument that looks like a secret", "http", { url: "https://x.example/", token: "abc" }, [[SQLSTATE.secret_in_definition, /args\.token: unknown argument/]]],
    ["a GET with a body, a bad method, a bad status", "http", { url: "https://x.example/", body: "x", method: "FETCH", allow_status: [99] }, [
      [SQLSTATE.invalid_builtin, /method: must be one of GET/], [SQLSTATE.invalid_builtin, /allow_status: must be "any"/]]],
    ["mail without recipients or subject", "mail", { body: "hi" }, [[SQLSTATE.invalid_builtin, /subject: is required/], [SQLSTATE.invalid_builtin, /to: needs at least one address/]]],
    ["mail to a bad address, a header injection, an absolute attachment", "mail", { to: ["a@b.c", "nope"], subject: "x\nBcc: all@example.com", attachments: ["/etc/shadow"] }, [
      [SQLSTATE.invalid_builtin, /attachments\[0\]: "\/etc\/shadow" is absolute/], [SQLSTATE.invalid_builtin, /subject: must be one line/], [SQLSTATE.invalid_builtin, /to\[1\]: "nope" is not a mail address/]]],
    ["download out of the working area", "download", { url: "https://x.example/f", to: "../../etc/cron.d/x" }, [[SQLSTATE.invalid_builtin, /to: "\.\.\/\.\.\/etc\/cron\.d\/x" climbs out of the working area/]]],
    ["download too large a limit", "download", { url: "https://x.example/f", to: "f", max_size: 0 }, [[SQLSTATE.invalid_builtin, /max_size: must be a whole number of bytes/]]],
    ["copy_from into a table name with SQL in it", "copy_from", { file: "a.csv", table: "t; drop table x" }, [[SQLSTATE.invalid_builtin, /table: "t; drop table x" must be a table name/]]],
    ["copy_to with both a table and a query", "copy_to", { file: "a.csv", table: "t", query: "select 1" }, [[SQLSTATE.invalid_builtin, /query: give either a table or a query/]]],
    ["copy_to with two statements", "copy_to", { file: "a.csv", query: "select 1; drop table t" }, [[SQLSTATE.invalid_builtin, /query: must be one query/]]],
    ["copy with a header in binary", "copy_from", { file: "a.bin", table: "t", format: "binary", header: true }, [[SQLSTATE.invalid_builtin, /header: only the csv format has a header line/]]],
    ["queue without a name, with bad options", "queue", { data: [], options: { priority: -1, retry_limt: 2 } }, [
      [SQLSTATE.invalid_builtin, /queue: is required/], [SQLSTATE.invalid_builtin, /data: must be an object/], [SQLSTATE.invalid_builtin, /options\.retry_limt: unknown option "retry_limt" \(did you mean "retry_limit"\?\)/],
      [SQLSTATE.invalid_builtin, /options\.priority: must be a whole number/]]],
  ];
  for (const [what, name, args, expected] of cases) {
    test(`refuses ${what}`, () => {
      const got = refused(name, args);
      for (const [code, re] of expected) assert.ok(got.some(([c, m]) => c === code && re.test(m)), `${re} (${code}) in ${JSON.stringify(got)}`);
      assert.equal(got.length, expected.length, JSON.stringify(got));
    });
  }

  test("working-area paths: relative, no climbing, no empty segments", () => {
    for (const ok of ["a.csv", "in/2026/a.csv", ".hidden"]) assert.equal(checkWorkPath(ok), null, ok);
    for (const bad of ["", "/abs", "~/x", "a/../../b", "a//b", "./a", "a\\b", "a\0b", 7]) assert.notEqual(checkWorkPath(bad), null, String(bad));
  });

  test("network built-ins need the right to use the network; the others do not", () => {
    const job = (builtin: string, args: object) => ({ name: "j", steps: { s: { builtin, args } } });
    const r = validateJobDefinition(job("http", { url: "https://x.example/" }));
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => [e.code, e.path]), [[SQLSTATE.network_not_allowed, "steps.s.builtin"]]);
    assert.ok(validateJobDefinition(job("http", { url: "https://x.example/" }), { allowNetworkBuiltins: true }).ok);
    assert.ok(validateJobDefinition(job("sleep", { duration: 1 })).ok);
  });
});
