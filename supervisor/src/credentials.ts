// How the supervisor finds credentials for the connections it opens as job owners, the way
// libpq does (node-pg reads neither a service file nor, from version 9 on, a password
// file): a password file (PGPASSFILE, else ~/.pgpass), a connection service file
// (PGSERVICEFILE, else ~/.pg_service.conf, then PGSYSCONFDIR/pg_service.conf), and the
// default client certificate (~/.postgresql/postgresql.crt and .key). Files are read when a
// connection opens, so a rotated password is picked up without a restart. Nothing here
// reads the environment: config.ts says where the files are.
import { readFileSync, statSync } from "node:fs";
import type { Conninfo } from "../../extension/src/core/index.ts";

export interface CredentialFiles {
  /** The password file; libpq ignores one that group or others can read, and so do we. */
  readonly passfile: string;
  /** Service files in the order libpq reads them (the first that has the service wins). */
  readonly serviceFiles: readonly string[];
  /** Directory of the default client certificate, key and root certificate (~/.postgresql). */
  readonly certDir: string;
}

export interface PassfileEntry {
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
}

/** Splits a password file line at unescaped colons; `\:` and `\\` are escapes. */
function passfileFields(line: string): string[] {
  const fields: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && i + 1 < line.length) current += line[++i];
    else if (c === ":" && fields.length < 4) {
      fields.push(current);
      current = "";
    } else current += c;
  }
  fields.push(current);
  return fields;
}

export function parsePassfile(text: string): PassfileEntry[] {
  const entries: PassfileEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === "" || raw.startsWith("#")) continue;
    const fields = passfileFields(raw);
    if (fields.length !== 5) continue;
    const [host, port, database, user, password] = fields as [string, string, string, string, string];
    entries.push({ host, port, database, user, password });
  }
  return entries;
}

/** What a password file line is matched against: host "localhost" stands for a Unix socket. */
export interface PasswordQuery {
  host: string;
  port: string;
  database: string;
  user: string;
}

export function matchPassword(entries: readonly PassfileEntry[], query: PasswordQuery): string | undefined {
  const host = query.host === "" || query.host.startsWith("/") ? "localhost" : query.host;
  const match = (pattern: string, value: string) => pattern === "*" || pattern === value;
  return entries.find((e) => match(e.host, host) && match(e.port, query.port) && match(e.database, query.database) && match(e.user, query.user))?.password;
}

/** The password for a connection from the password file, or why there is none. */
export function passwordFromFile(path: string, query: PasswordQuery): { password: string } | { missing: string } {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return { missing: `the password file ${path} is not a plain file` };
    if ((stat.mode & 0o077) !== 0) return { missing: `the password file ${path} can be read by group or others, so it is ignored (chmod 0600 it)` };
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { missing: code === "ENOENT" ? `there is no password file (${path})` : `the password file ${path} cannot be read (${code})` };
  }
  const password = matchPassword(parsePassfile(text), query);
  return password === undefined
    ? { missing: `the password file ${path} has no entry for ${query.host}:${query.port}:${query.database}:${query.user}` }
    : { password };
}

/** Sections of a service file: `[name]` then `key=value` lines. */
export function parseServiceFile(text: string): Map<string, Conninfo> {
  const services = new Map<string, Conninfo>();
  let current: Conninfo | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = {};
      services.set(section[1]!.trim(), current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === null || eq <= 0) continue;
    current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return services;
}

/** A service's parameters from the first service file that has it, or why none does. */
export function serviceParameters(files: readonly string[], name: string): { params: Conninfo } | { missing: string } {
  for (const path of files) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const found = parseServiceFile(text).get(name);
    if (found !== undefined) return { params: found };
  }
  return { missing: `service "${name}" is not in any service file (${files.join(", ")})` };
}

/** Reads a file named by a connection (certificate, key), with a clear error. */
export function readCredentialFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

export function fileExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
