// clockwork.define_job: create or replace a job from a full definition (jsonb, or YAML
// text parsed to the same object). Every error in the definition is reported at once.
import { JSON_SCHEMA, load as parseYaml, YAMLException } from "js-yaml";
import { storeJob } from "../db/jobs.ts";
import { raise } from "../db/raise.ts";
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
  comment: "Creates or replaces a job from a YAML (or JSON) definition; returns the job id.",
  body: (definition: string, now: Date): number => {
    let parsed: unknown;
    try {
      // JSON_SCHEMA: plain YAML values only (no dates or other implicit types).
      parsed = parseYaml(definition, { json: true, schema: JSON_SCHEMA });
    } catch (e) {
      const where = e instanceof YAMLException ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : "";
      const reason = e instanceof YAMLException ? e.reason : (e as Error).message;
      raise("invalid_definition", "", `the definition is not valid YAML${where}: ${reason}`);
    }
    return bigintResult(storeJob(parsed, instantOf(now)));
  },
});
