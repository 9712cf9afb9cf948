// clockwork.define_job: create or replace a job from a full definition (jsonb, or YAML
// text parsed to the same object). Every error in the definition is reported at once.
import { JSON_SCHEMA, load as parseYaml, YAMLException } from "js-yaml";
import { definitionTextTooLarge } from "../core/index.ts";
import { storeJob } from "../db/jobs.ts";
import { isInterrupt, raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { bigintResult, instantOf } from "../db/values.ts";

export const define_job = sqlFunction({
  name: "define_job",
  args: "definition jsonb, now timestamptz DEFAULT now()",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Creates or replaces a job from its definition (see docs/definition.md); returns the job id. Replacing keeps the job's history.",
  body: (definition: unknown, now: Date): number => bigintResult(storeJob(definition, instantOf(now))),
});

export const define_job_yaml = sqlFunction({
  name: "define_job",
  entry: "define_job_yaml",
  args: "definition text, now timestamptz DEFAULT now()",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Creates or replaces a job from a YAML (or JSON) definition, keeping its text (comments, key order) for export; returns the job id.",
  body: (definition: string, now: Date): number => {
    // Bounded before it is parsed; what it parses to is bounded by storeJob's validation.
    const tooLarge = definitionTextTooLarge(definition);
    if (tooLarge !== null) raise("invalid_definition", "", tooLarge);
    let parsed: unknown;
    try {
      // JSON_SCHEMA: plain YAML values only (no dates or other implicit types).
      parsed = parseYaml(definition, { json: true, schema: JSON_SCHEMA });
    } catch (e) {
      if (isInterrupt(e)) throw e;
      // Some errors (several documents in one text) carry no position.
      const where = e instanceof YAMLException && e.mark != null ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : "";
      const reason = e instanceof YAMLException ? e.reason : (e as Error).message;
      raise("invalid_definition", "", `the definition is not valid YAML${where}: ${reason}`);
    }
    return bigintResult(storeJob(parsed, instantOf(now), { source: definition, appliedFrom: null }));
  },
});

/** Names of sets of definition files: what `clockwork apply --set` accepts. */
const SET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;

export const apply_job = sqlFunction({
  name: "apply_job",
  args: "definition jsonb, source text, managed_by text, now timestamptz DEFAULT now()",
  returns: "bigint",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Creates or replaces a job from a definition file (clockwork apply): like define_job, and it keeps the file's text for export and marks the job as managed by the named set of files. Returns the job id.",
  body: (definition: unknown, source: string | null, managedBy: string, now: Date): number => {
    if (typeof managedBy !== "string" || !SET_NAME.test(managedBy)) {
      raise("invalid_argument", "managed_by", `set name ${JSON.stringify(managedBy)} must be 1–128 letters, digits, _ . : / - (not starting with . : / -)`);
    }
    // The file's text is kept for export: bounded as the definition is.
    const tooLarge = typeof source === "string" ? definitionTextTooLarge(source) : null;
    if (tooLarge !== null) raise("invalid_definition", "source", tooLarge);
    return bigintResult(storeJob(definition, instantOf(now), { source: source ?? null, appliedFrom: managedBy }));
  },
});
