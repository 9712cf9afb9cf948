// `clockwork console [options]`: the web console (supervisor/src/console/).
import { CONSOLE_USAGE } from "../console/config.ts";
import { runConsole } from "../console/main.ts";

export async function consoleCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${CONSOLE_USAGE}\n`);
    return 0;
  }
  return runConsole(argv);
}
