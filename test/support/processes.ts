// What the tests read about processes from /proc, the way the supervisor's registry reads
// it (supervisor/src/steps/process-registry.ts), but written apart from it: a test must
// not check the product with the product's own code.
import { readdirSync, readFileSync } from "node:fs";

/**
 * The live members of process group `pgid`: zombies (Z) and dead processes (X) do not
 * count, since a zombie waiting to be reaped still answers kill(0). The state and group
 * are read after the last ")" of /proc/PID/stat: a command name may itself hold ") ".
 */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z" && state !== "X") members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}
