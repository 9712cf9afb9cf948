// `clockwork <command> …`: one binary, one table of commands. Each command lives in its
// own module and is loaded only when it runs, so `clockwork --help` or a CLI command does
// not pay for the supervisor's dependencies, and the reverse.
export interface Command {
  /** One line for `clockwork --help`. */
  readonly summary: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  supervisor: {
    summary: "run the Clockwork supervisor (see clockwork supervisor --help)",
    run: async (argv) => (await import("./supervisor.ts")).supervisorCommand(argv),
  },
  // definitions as code
  validate: {
    summary: "check job definition files without a database (file:line for each problem)",
    run: async (argv) => (await import("./validate.ts")).validateCommand(argv),
  },
  apply: {
    summary: "make the database match job definition files: plan, then apply in one transaction",
    run: async (argv) => (await import("./apply.ts")).applyCommand(argv),
  },
  diff: {
    summary: "show how the database differs from job definition files, drift included",
    run: async (argv) => (await import("./apply.ts")).diffCommand(argv),
  },
  export: {
    summary: "write jobs as YAML that applies back unchanged (comments and order kept)",
    run: async (argv) => (await import("./export.ts")).exportCommand(argv),
  },
  run: {
    summary: "run a job file (Clockwork or PgQuartz) now, to completion; exit code = its result",
    run: async (argv) => (await import("./run.ts")).runFileCommand(argv),
  },
  import: {
    summary: "import jobs from pgAgent, pg_cron, pg_timetable or a crontab (--dry-run prints the YAML)",
    run: async (argv) => (await import("./import.ts")).importCommand(argv),
  },
  // operating
  status: {
    summary: "jobs with their schedules, next fire time, last run and active runs",
    run: async (argv) => (await import("./operate.ts")).statusCommand(argv),
  },
  history: {
    summary: "latest runs of a job or of all jobs; the steps of one run (--run ID)",
    run: async (argv) => (await import("./operate.ts")).historyCommand(argv),
  },
  next: {
    summary: "the next fire times of a job or of all jobs",
    run: async (argv) => (await import("./operate.ts")).nextCommand(argv),
  },
  "run-now": {
    summary: "start a run of a job now (--follow: wait for it, streaming its output)",
    run: async (argv) => (await import("./operate.ts")).runNowCommand(argv),
  },
  cancel: {
    summary: "cancel runs",
    run: async (argv) => (await import("./operate.ts")).cancelCommand(argv),
  },
  explain: {
    summary: "what happened (or will happen) to a job's slot at a time",
    run: async (argv) => (await import("./operate.ts")).explainCommand(argv),
  },
  // the web console
  console: {
    summary: "serve the web console (see clockwork console --help)",
    run: async (argv) => (await import("./console.ts")).consoleCommand(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}   ${c.summary}`);
  return `usage: clockwork <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nclockwork <command> --help shows a command's options.\n`;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    process.stdout.write(`clockwork ${(await import("../version.ts")).SUPERVISOR_VERSION}\n`);
    return 0;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return 0;
  }
  if (name === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`clockwork: unknown command ${JSON.stringify(name)} (try clockwork --help)\n`);
    return 2;
  }
  return command.run(rest);
}
