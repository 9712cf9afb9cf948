// `clockwork supervisor [options]`: the long-running sidecar (supervisor/src/main.ts).
import { USAGE } from "../config.ts";
import { runSupervisor } from "../main.ts";

export async function supervisorCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return runSupervisor(argv);
}
