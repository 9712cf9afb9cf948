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
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}   ${c.summary}`);
  return `usage: clockwork <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nclockwork <command> --help shows a command's options.\n`;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
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
