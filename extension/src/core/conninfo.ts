// libpq connection strings, in both forms (`host=db1 port=5432 dbname=app` and
// `postgresql://db1:5432/app?sslmode=require`), read into their parameters, and the rules
// for the ones an SQL step may carry. One reader serves the definition checks in the
// database and the supervisor that connects with them.

export type Conninfo = Record<string, string>;

export type ConninfoResult = { ok: true; params: Conninfo } | { ok: false; message: string };

/** libpq's parameter names (PostgreSQL 15), to refuse a misspelt one at definition time. */
export const LIBPQ_PARAMETERS = [
  "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding", "connect_timeout",
  "client_encoding", "options", "application_name", "fallback_application_name", "keepalives", "keepalives_idle",
  "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode", "requiressl",
  "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
  "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "service", "target_session_attrs",
] as const;

/** Parameters that carry a secret: never in a definition or a table. */
export const SECRET_PARAMETERS = ["password", "sslpassword"] as const;

/**
 * What a step's connection may say, and what the supervisor honours. Anything else is
 * refused at definition time: options the supervisor would silently ignore are surprises.
 */
export const SUPPORTED_PARAMETERS = [
  "host", "hostaddr", "port", "dbname", "user", "service", "sslmode", "sslrootcert", "sslcert", "sslkey",
  "connect_timeout", "application_name", "options",
] as const;

/**
 * Parameters naming files on the supervisor's machine. Only a superuser's connection may
 * set them: anyone else would make the supervisor read files of their choosing.
 */
export const FILE_PARAMETERS = ["sslrootcert", "sslcert", "sslkey"] as const;

const URI_PREFIX = /^postgres(?:ql)?:\/\//i;

function percentDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function parseUri(text: string): ConninfoResult {
  const rest = text.replace(URI_PREFIX, "");
  const params: Conninfo = {};
  const q = rest.indexOf("?");
  const main = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : "";
  const slash = main.indexOf("/");
  const authority = slash >= 0 ? main.slice(0, slash) : main;
  const path = slash >= 0 ? main.slice(slash + 1) : "";
  const at = authority.lastIndexOf("@");
  const userinfo = at >= 0 ? authority.slice(0, at) : "";
  const hostspec = at >= 0 ? authority.slice(at + 1) : authority;
  if (userinfo !== "") {
    const colon = userinfo.indexOf(":");
    const user = percentDecode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    if (user === null) return { ok: false, message: "the user name is not valid percent-encoding" };
    if (user !== "") params.user = user;
    if (colon >= 0) params.password = percentDecode(userinfo.slice(colon + 1)) ?? "";
  }
  if (hostspec !== "") {
    const hosts: string[] = [];
    const ports: string[] = [];
    for (const part of hostspec.split(",")) {
      let host = part;
      let port = "";
      if (part.startsWith("[")) {
        const close = part.indexOf("]");
        if (close < 0) return { ok: false, message: `unterminated IPv6 address in "${part}"` };
        host = part.slice(1, close);
        if (part[close + 1] === ":") port = part.slice(close + 2);
      } else if (part.includes(":")) {
        host = part.slice(0, part.lastIndexOf(":"));
        port = part.slice(part.lastIndexOf(":") + 1);
      }
      const decoded = percentDecode(host);
      if (decoded === null) return { ok: false, message: `host "${host}" is not valid percent-encoding` };
      hosts.push(decoded);
      ports.push(port);
    }
    if (hosts.some((h) => h !== "")) params.host = hosts.join(",");
    if (ports.some((p) => p !== "")) params.port = ports.join(",");
  }
  if (path !== "") {
    const dbname = percentDecode(path);
    if (dbname === null) return { ok: false, message: "the database name is not valid percent-encoding" };
    params.dbname = dbname;
  }
  if (query !== "") {
    for (const pair of query.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      if (eq <= 0) return { ok: false, message: `"${pair}" is not key=value` };
      const key = percentDecode(pair.slice(0, eq));
      const value = percentDecode(pair.slice(eq + 1));
      if (key === null || value === null) return { ok: false, message: `"${pair}" is not valid percent-encoding` };
      // libpq accepts ssl=true as sslmode=require in URIs (JDBC style).
      if (key === "ssl" && value === "true") params.sslmode = "require";
      else params[key] = value;
    }
  }
  return { ok: true, params };
}

function parseKeywords(text: string): ConninfoResult {
  const params: Conninfo = {};
  let i = 0;
  const n = text.length;
  const space = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);
  while (i < n) {
    while (space(text[i])) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && text[i] !== "=" && !space(text[i])) i++;
    const key = text.slice(keyStart, i);
    while (space(text[i])) i++;
    if (text[i] !== "=") return { ok: false, message: `missing "=" after "${key}"` };
    i++;
    while (space(text[i])) i++;
    let value = "";
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i]!;
        if (c === "\\" && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { ok: false, message: `unterminated quoted value for "${key}"` };
    } else {
      while (i < n && !space(text[i])) {
        if (text[i] === "\\" && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else value += text[i++];
      }
    }
    if (key === "") return { ok: false, message: "empty parameter name" };
    params[key] = value;
  }
  return { ok: true, params };
}

/** Reads a libpq connection string in either form. */
export function parseConninfo(text: string): ConninfoResult {
  const trimmed = text.trim();
  return URI_PREFIX.test(trimmed) ? parseUri(trimmed) : parseKeywords(trimmed);
}

/** Whether a libpq connection string (key=value or URI form) carries a password. */
export function conninfoHasPassword(conninfo: string): boolean {
  const parsed = parseConninfo(conninfo);
  if (!parsed.ok) {
    // Unreadable: err on the side of refusing anything that looks like a password.
    return /password\s*=|:\/\/[^/@:]*:[^/@]*@/i.test(conninfo);
  }
  return SECRET_PARAMETERS.some((p) => parsed.params[p] !== undefined);
}

/** A connection string for messages and the database: key=value, values quoted as libpq wants. */
export function formatConninfo(params: Conninfo): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`}`)
    .join(" ");
}

export interface ConninfoRules {
  /** The role that will own the steps using it (the caller defining it). */
  owner: string;
  /** Whether that role is a superuser: may name another login role and files. */
  superuser: boolean;
}

/**
 * Problems with a connection string a step or a named connection carries, as messages
 * (empty when it is fine): unreadable, a password, an unknown or unsupported parameter, a
 * file parameter from a role that is not a superuser, or a login role other than the
 * owner's from a role that is not a superuser (that would let the owner log in as someone
 * else, e.g. `user=postgres` to this very cluster under another host name).
 */
export function conninfoProblems(text: string, rules: ConninfoRules): string[] {
  const parsed = parseConninfo(text);
  if (!parsed.ok) return [`not a valid connection string: ${parsed.message}`];
  const problems: string[] = [];
  const known = LIBPQ_PARAMETERS as readonly string[];
  const supported = SUPPORTED_PARAMETERS as readonly string[];
  for (const [key, value] of Object.entries(parsed.params)) {
    if ((SECRET_PARAMETERS as readonly string[]).includes(key)) {
      problems.push(`it contains a ${key}`);
    } else if (key === "passfile") {
      problems.push("passfile is the supervisor's setting (PGPASSFILE), not a connection's");
    } else if (!known.includes(key)) {
      problems.push(`unknown parameter "${key}"`);
    } else if (!supported.includes(key)) {
      problems.push(`parameter "${key}" is not supported (supported: ${SUPPORTED_PARAMETERS.join(", ")})`);
    } else if ((FILE_PARAMETERS as readonly string[]).includes(key) && !rules.superuser) {
      problems.push(`only a superuser may name files on the supervisor's machine (${key})`);
    } else if ((key === "host" || key === "port" || key === "hostaddr") && value.includes(",")) {
      problems.push(`several hosts are not supported (${key}=${value}); name one server, and say which role it must have with server_role`);
    } else if (key === "user" && value !== rules.owner && !rules.superuser) {
      problems.push(`user=${value}: steps log in as their owner (${rules.owner}); only a superuser may define a connection that logs in as another role`);
    }
  }
  return problems;
}
