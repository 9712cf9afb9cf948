// Prometheus metrics of one supervisor (prom-client, own registry).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class SupervisorMetrics {
  readonly registry = new Registry();

  readonly runsFired = new Counter({
    name: "clockwork_runs_fired_total",
    help: "Runs this supervisor saw start: the first step of a run it claimed (attempt 1).",
    registers: [this.registry],
  });
  readonly stepsSucceeded = new Counter({
    name: "clockwork_steps_succeeded_total",
    help: "Step runs this supervisor ran that succeeded.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly stepsFailed = new Counter({
    name: "clockwork_steps_failed_total",
    help: "Step runs this supervisor ran that failed (non-zero exit, SQL error, time-out, spawn failure).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly stepsRefused = new Counter({
    name: "clockwork_steps_refused_total",
    help: "Results the database refused because the lease had passed to another worker (fenced).",
    registers: [this.registry],
  });
  readonly stepsHandedBack = new Counter({
    name: "clockwork_steps_handed_back_total",
    help: "SQL steps this supervisor handed back because it cannot log in as their owner or reach their target.",
    registers: [this.registry],
  });
  readonly stepConnections = new Gauge({
    name: "clockwork_step_connections",
    help: "Connections open as job owners for SQL steps, over all servers and roles.",
    registers: [this.registry],
  });
  readonly runTransactionsOpen = new Gauge({
    name: "clockwork_run_transactions_open",
    help: "Whole-run transactions (transaction: run) this supervisor holds open, each on an owner connection of its own.",
    registers: [this.registry],
  });
  readonly stepsRunning = new Gauge({
    name: "clockwork_steps_running",
    help: "Steps running on this supervisor now.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly startLag = new Histogram({
    name: "clockwork_step_start_lag_seconds",
    help: "From the time a step became due (its slot, its retry time, or when it was queued) to its start.",
    labelNames: ["kind"] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly dbRoundTrip = new Histogram({
    name: "clockwork_db_round_trip_seconds",
    help: "Time of each call to the Clockwork SQL API, by function.",
    labelNames: ["function"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly dbErrors = new Counter({
    name: "clockwork_db_errors_total",
    help: "Failed calls to the Clockwork SQL API, by function.",
    labelNames: ["function"] as const,
    registers: [this.registry],
  });
  readonly ticks = new Counter({
    name: "clockwork_ticks_total",
    help: "Calls to clockwork.tick, by what woke the supervisor.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  private readyProbe: () => boolean = () => false;
  readonly ready: Gauge = new Gauge({
    name: "clockwork_supervisor_ready",
    help: "1 while this supervisor is ready (registered, database answering, LISTEN up; or disabled on purpose), else 0: what /readyz says.",
    registers: [this.registry],
    collect: (): void => this.ready.set(this.readyProbe() ? 1 : 0),
  });

  /** What clockwork_supervisor_ready reports at each scrape. */
  setReadiness(probe: () => boolean): void {
    this.readyProbe = probe;
  }

  readonly alertDeliveries = new Counter({
    name: "clockwork_alert_deliveries_total",
    help: "Alert deliveries this supervisor attempted, by channel kind and result (delivered, failed: to be retried or given up).",
    labelNames: ["kind", "result"] as const,
    registers: [this.registry],
  });
  readonly alertsOpened = new Counter({
    name: "clockwork_alerts_opened_total",
    help: "Alerts opened by the sweeps this supervisor made (time-based conditions; alerts decided at a run's end are counted in the database only).",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "clockwork_supervisor_" });
  }
}
