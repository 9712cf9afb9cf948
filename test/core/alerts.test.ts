import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  alertsOnRunEnd, alertsOnSkippedSlots, alertsOnSweep, alertsOnWorkers, effectiveAlertRules, nextDeliveryAttempt,
  schedulerDownEvent, validateAlertChannel, validateAlertSettings, validateJobDefinition, NO_ALERT_RULES,
  DEFAULT_DELIVERY_RETRY, SQLSTATE, type AlertRules, type AlertSettings,
} from "../../extension/src/core/index.ts";

const MIN = 60_000;
const settings = (input: unknown): AlertSettings | null => {
  const r = validateAlertSettings(input);
  assert.ok(r.ok, JSON.stringify(r));
  return r.settings;
};
const rules = (p: Partial<AlertRules>): AlertRules => ({ ...NO_ALERT_RULES, ...p });
const run = (state: string, extra: object = {}) => ({ id: "7", state, trigger: "manual", slotAtMs: null, startedAtMs: null, reason: null, ...extra });

describe("alert settings", () => {
  test("each condition in the definition's words becomes milliseconds or a count", () => {
    assert.deepEqual(settings({ missed: "5m", long_running: "1h", failures: 3, dead_man: "1 day", recovery: true, to: "ops" }), {
      off: false, missedMs: 5 * MIN, longRunningMs: 60 * MIN, failures: 3, deadManMs: 24 * 60 * MIN, recovery: true, to: ["ops"],
    });
  });
  test("every bad value is reported with its path, all at once", () => {
    const r = validateAlertSettings({ missed: 0, long_running: "0.5s", failures: 1.5, dead_man: "2 years", recovery: 1, to: [1], oops: 1 });
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => e.path).sort(), ["alerts.dead_man", "alerts.failures", "alerts.long_running", "alerts.missed", "alerts.oops", "alerts.recovery", "alerts.to"]);
    assert.ok(r.errors.every((e) => e.code === SQLSTATE.invalid_alert));
  });
  test("an unknown channel is named with a suggestion when channels are known", () => {
    const r = validateAlertSettings({ to: ["opz"] }, "alerts", ["ops", "dba"]);
    assert.ok(!r.ok);
    assert.equal(r.errors[0]!.code, SQLSTATE.unknown_alert_channel);
    assert.match(r.errors[0]!.message, /unknown alert channel "opz" \(did you mean "ops"\?\)/);
  });
  test("a job's keys override the defaults; false turns one off; alerts: false turns all off", () => {
    const defaults = settings({ failures: 2, recovery: true, to: ["ops"] });
    assert.deepEqual(effectiveAlertRules(defaults, null), rules({ failures: 2, recovery: true, to: ["ops"] }));
    assert.deepEqual(effectiveAlertRules(defaults, settings({ failures: false, dead_man: "1h" })), rules({ deadManMs: 60 * MIN, recovery: true, to: ["ops"] }));
    assert.deepEqual(effectiveAlertRules(defaults, settings({ to: [] })), rules({ failures: 2, recovery: true, to: [] }));
    assert.deepEqual(effectiveAlertRules(defaults, settings(false)), NO_ALERT_RULES);
  });
  test("the alerts section is part of a job definition's validation", () => {
    const r = validateJobDefinition({ name: "j", steps: { a: { sql: "select 1" } }, alerts: { failures: "x" } });
    assert.ok(!r.ok);
    assert.equal(r.errors[0]!.path, "alerts.failures");
  });
});

describe("alert decisions", () => {
  test("failures open at the threshold, counting earlier failures in a row only", () => {
    const r = rules({ failures: 3 });
    assert.deepEqual(alertsOnRunEnd(r, run("failed"), ["failed", "succeeded", "failed"]).open, []);
    const open = alertsOnRunEnd(r, run("timed_out"), ["failed", "failed", "succeeded"]).open;
    assert.equal(open.length, 1);
    assert.equal(open[0]!.condition, "failures");
    assert.equal(open[0]!.details.failed_in_a_row, 3);
  });
  test("a success resolves failures and dead-man, and is a recovery only after a failure", () => {
    const r = rules({ failures: 1, recovery: true });
    const d = alertsOnRunEnd(r, run("succeeded"), ["failed", "failed"]);
    assert.deepEqual(d.resolve.map((x) => x.condition), ["long_running", "failures", "dead_man"]);
    assert.deepEqual(d.open.map((o) => [o.condition, o.event]), [["recovery", true]]);
    assert.deepEqual(alertsOnRunEnd(r, run("succeeded"), ["succeeded"]).open, []);
  });
  test("a cancelled run neither fails nor recovers", () => {
    const d = alertsOnRunEnd(rules({ failures: 1, recovery: true }), run("cancelled"), ["failed"]);
    assert.deepEqual(d.open, []);
    assert.deepEqual(d.resolve.map((x) => x.condition), ["long_running"]);
  });
  test("a scheduled run that started within the grace resolves missed", () => {
    const r = rules({ missedMs: MIN });
    const onTime = alertsOnRunEnd(r, run("failed", { trigger: "schedule", slotAtMs: 0, startedAtMs: 30_000 }), []);
    assert.ok(onTime.resolve.some((x) => x.condition === "missed"));
    const late = alertsOnRunEnd(r, run("failed", { trigger: "schedule", slotAtMs: 0, startedAtMs: 2 * MIN }), []);
    assert.ok(!late.resolve.some((x) => x.condition === "missed"));
  });
  test("skipped slots are one missed alert, with the count and reasons", () => {
    const d = alertsOnSkippedSlots(rules({ missedMs: MIN }), [
      { fromMs: 0, toMs: 9 * MIN, count: 10, reason: "misfire_skipped" }, { fromMs: 10 * MIN, toMs: 10 * MIN, count: 1, reason: "overlap_skipped" },
    ]);
    assert.equal(d.open.length, 1);
    assert.equal(d.open[0]!.details.slots, 11);
    assert.deepEqual(d.open[0]!.details.reasons, ["misfire_skipped", "overlap_skipped"]);
    assert.deepEqual(alertsOnSkippedSlots(rules({}), [{ fromMs: 0, toMs: 0, count: 1, reason: "misfire_skipped" }]).open, []);
  });
  test("the sweep opens late, long and dead-man alerts exactly past their limits", () => {
    const r = rules({ missedMs: MIN, longRunningMs: 10 * MIN, deadManMs: 60 * MIN });
    const facts = { waitingRuns: [{ runId: "1", slotAtMs: 0 }], runningRuns: [{ runId: "2", startedAtMs: 0 }], lastSuccessMs: 0, watchedSinceMs: 0 };
    assert.deepEqual(alertsOnSweep(r, facts, MIN).open, []);
    assert.deepEqual(alertsOnSweep(r, facts, MIN + 1).open.map((o) => o.condition), ["missed"]);
    assert.deepEqual(alertsOnSweep(r, facts, 10 * MIN + 1).open.map((o) => [o.condition, o.key]), [["missed", ""], ["long_running", "2"]]);
    assert.deepEqual(alertsOnSweep(r, facts, 60 * MIN + 1).open.map((o) => o.condition), ["missed", "long_running", "dead_man"]);
    // A watch started after the last success counts from its start.
    assert.deepEqual(alertsOnSweep(r, { ...facts, waitingRuns: [], runningRuns: [], watchedSinceMs: 30 * MIN }, 60 * MIN + 1).open, []);
  });
  test("workers: silent beyond the lease is lost; back, stopped or removed resolves", () => {
    const d = alertsOnWorkers([
      { name: "a", heartbeatAtMs: 0, stoppedAtMs: null }, { name: "b", heartbeatAtMs: 0, stoppedAtMs: 1 }, { name: "c", heartbeatAtMs: 50_000, stoppedAtMs: null },
    ], 30_000, 60_000, ["b", "c", "gone"]);
    assert.deepEqual(d.open.map((o) => o.key), ["a"]);
    assert.deepEqual(d.resolve.map((x) => x.key), ["b", "c", "gone"]);
  });
  test("an outage is an event only when it lasted beyond the lease", () => {
    assert.equal(schedulerDownEvent(0, 30_000, 30_000), null);
    const e = schedulerDownEvent(0, 30_000, 90_000)!;
    assert.equal(e.details.down_ms, 60_000);
    assert.equal(e.event, true);
  });
  test("delivery back-off doubles up to its bound, then gives up", () => {
    const p = { attempts: 4, delayMs: 1000, maxDelayMs: 3000 };
    assert.deepEqual([1, 2, 3, 4].map((n) => nextDeliveryAttempt(p, n, 0)), [1000, 2000, 3000, null]);
    assert.equal(nextDeliveryAttempt(DEFAULT_DELIVERY_RETRY, 1, 0), 10_000);
  });
});

describe("alert channels", () => {
  test("webhook, email and job targets are read with their defaults", () => {
    const w = validateAlertChannel("webhook", { url: "https://hooks.example.com/a?b=c", secret_env: "CLOCKWORK_SECRET_A", headers: { "X-Team": "dba" } });
    assert.ok(w.ok && w.channel.kind === "webhook");
    assert.equal(w.channel.webhook.timeoutMs, 10_000);
    const m = validateAlertChannel("email", { to: "dba@example.com" });
    assert.ok(m.ok && m.channel.kind === "email" && m.channel.email.to[0] === "dba@example.com");
    assert.ok(!validateAlertChannel("job", { job: "nope" }, ["pager"]).ok);
  });
  test("credentials are refused wherever they could hide", () => {
    for (const target of [
      { url: "http://u:p@h/" }, { url: "http://u@h/" }, { url: "http://h/", headers: { authorization: "x" } },
      { url: "http://h/", secret_env: "DATABASE_URL" }, { url: "http://h/", password: "x" }, { url: "http://h/", token: "x" },
    ]) assert.ok(!validateAlertChannel("webhook", target).ok, JSON.stringify(target));
  });
});
