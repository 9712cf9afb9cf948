// Public API of the pure scheduling core. The PL/v8 adapter and the supervisor import from
// here only. Names are stable once released: add, never rename.

export {
  ERROR_KINDS, SQLSTATE, SQLSTATE_CLASS, ClockworkError, issue, formatIssue, didYouMean, editDistance,
  type ErrorKind, type ValidationIssue,
} from "./errors.ts";
export {
  ZoneView, daysFromCivil, civilFromDays, daysInMonth, isLeapYear, weekdayOfDays, localFields, localMsOf,
  formatLocalDate, formatLocalDateTime, parseTimestamp, isUtcZone, isInstantInRange, MIN_INSTANT_MS, MAX_INSTANT_MS,
  SECOND_MS, MINUTE_MS, HOUR_MS, DAY_MS,
  type TimeZoneRules, type LocalResolution, type LocalDateTime, type CivilDate, type ParsedTimestamp,
} from "./time.ts";
export { parseInterval, formatInterval, MAX_INTERVAL_MS, type IntervalResult } from "./interval.ts";
export { parseCron, nextLocalMatch, matchesLocal, CRON_MACROS, type CronSpec, type CronResult, type CronOptions, type DaySpec } from "./cron.ts";
export { parsePgAgentSets, type PgAgentSets } from "./pgagent.ts";
export {
  parseSchedule, mustParseSchedule, nextFireTime, nextFireTimes, slotsBetween, describeSchedule, checkSlot, neverFires,
  MAX_EXCLUDED_CANDIDATES,
  type SlotCheck, type Schedule, type ScheduleKind, type ScheduleContext, type ScheduleParseOptions, type ScheduleResult,
  type ScheduleExclusions, type DstGapPolicy, type DstOverlapPolicy,
} from "./schedule.ts";
export {
  decideMisfire, decideOverlap, mayStartQueued, overlapLimit, decideRetry, decideTimeout, hashString, seededUnit,
  DEFAULT_MISFIRE_POLICY, DEFAULT_OVERLAP_POLICY, DEFAULT_RETRY_POLICY, OVERLAP_MODES, OVERLAP_ALIASES, MAX_BUFFERED_RUNS,
  type MisfirePolicy, type MisfirePolicyKind, type MisfireDecision, type SkippedSlot, type SkipReason,
  type OverlapPolicy, type OverlapMode, type OverlapDecision, type ActiveRun,
  type RetryPolicy, type RetryDecision, type TimeoutDecision,
  RETENTION_KEEP, MAX_RETAINED_RUNS, type RetentionPolicy,
} from "./policies.ts";
export {
  planDueSlots, lastSlotAtOrBefore, previousFireTime, ENUMERATION_LIMIT,
  type DueSlotsPlan, type SkippedRange,
} from "./catchup.ts";
export {
  parseExpression, evaluateExpression, expressionPaths,
  type Expr, type ExpressionResult, type ExpressionError, type CompareOp, type Scalar, type Value,
} from "./expression.ts";
export {
  SESSION_RESET, renderSqlStep, renderClaimedSqlStep, stepSettings, settingsStatement, finishStatement, commitRunMessage,
  type SqlStepIdentity, type SqlStepScript, type FinishCall, type ClaimedSqlStep,
} from "./sql-step.ts";
export {
  bindNamedParameters, bindLiterals, sqlLiteral, dollarQuote, findNamedPlaceholders, expandMatrix, matrixSize, instanceId, MAX_MATRIX_INSTANCES, stepEnvironment,
  type BoundSql, type NamedPlaceholder, type Matrix, type MatrixInstance, type StepIdentity,
} from "./params.ts";
export {
  parseConninfo, conninfoHasPassword, conninfoProblems, formatConninfo,
  LIBPQ_PARAMETERS, SUPPORTED_PARAMETERS, FILE_PARAMETERS, SECRET_PARAMETERS,
  type Conninfo, type ConninfoResult, type ConninfoRules,
} from "./conninfo.ts";
export {
  scanSql, splitStatements, statementNature, analyzeSqlBody,
  type Token, type TokenKind, type ScanResult, type SqlStatement, type StatementNature, type SqlBodyAnalysis,
} from "./sql-text.ts";
export {
  validateJobDefinition, checkRunParameters, definitionTextTooLarge, coerceParameter, DEFAULT_BUILTINS, STEP_RESULT_FIELDS, PARAMETER_TYPES,
  type ParameterType,
  type JobDefinition, type StepDefinition, type CheckDefinition, type WorkDefinition, type JobPolicies,
  type StepKind, type OnError, type ValidationEnvironment, type DefinitionResult,
} from "./definition.ts";
export {
  decideRun, runInstances, checkPassed,
  type StepStatus, type StepInstanceState, type RunState, type RunDecision, type RunStatus, type Phase, type AttemptVerdict,
  type StartWork, type RetryLater, type SkipWork, type SkipReason as StepSkipReason, type CancelWork, type CancelReason,
} from "./graph.ts";
export {
  validateAlertSettings, effectiveAlertRules, watchesAnything, alertSettingsJson, alertsOnRunEnd, previousRunsNeeded,
  alertsOnSkippedSlots, alertsOnSweep, alertsOnWorkers, schedulerDownEvent, nextDeliveryAttempt,
  ALERT_CONDITIONS, SYSTEM_ALERT_CONDITIONS, NO_ALERT_RULES, DEFAULT_DELIVERY_RETRY,
  type AlertSettings, type AlertRules, type AlertCondition, type JobAlertCondition, type SystemAlertCondition, type AlertSeverity,
  type OpenAlert, type ResolveAlert, type AlertDecision, type EndedRun, type NotFiredSlots, type JobSweepFacts, type WorkerFacts,
  type DeliveryRetryPolicy,
} from "./alerts.ts";
export {
  validateBuiltinArgs, checkWorkPath, BUILTINS, BUILTIN_NAMES, DATABASE_BUILTIN_NAMES, MAX_SLEEP_MS,
  type BuiltinName, type BuiltinArgs, type SecretHeader, type QueueOptions,
} from "./builtins.ts";
export {
  validateAlertChannel, checkHttpUrl, readHeaders, readRetry, CHANNEL_KINDS, SECRET_ENV_RE, SECRET_ENV_HINT, CREDENTIAL_HEADERS,
  ALERT_JOB_PARAMETERS,
  type ChannelKind, type ChannelTarget, type WebhookTarget, type EmailTarget, type JobTarget,
} from "./channels.ts";
export {
  MAX_DEFINITION_BYTES, MAX_PARAMETER_BYTES, MAX_RUN_INSTANCES, formatBytes, utf8Length, jsonSizeAtMost, allowedBytes,
  OUTPUT_LIMIT_BYTES, truncationMarker, cutText, boundRows,
} from "./bounds.ts";
