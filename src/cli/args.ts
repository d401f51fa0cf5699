/**
 * Command-line parsing helpers shared by the commands: strict flag parsing
 * (node:util parseArgs), and the small value syntaxes of the CLI:
 *
 *   --grant 'RESOURCE:perm1,perm2'      split on the LAST ':' (resources contain '://')
 *   --constraint 'ARG=KIND:VALUE'       KIND: exact, oneOf, range, glob, prefix, under, and the
 *                                       v1.1 kinds (notOneOf, decimal, length, subset, contains,
 *                                       cidr, regex, urlSafe, url, json); ARG may be a path
 *   --tools a,b  --closed               tool-bound grants, closed arguments
 *   --ttl 1h / 10m / 30s / 90          durations (src/duration.ts)
 *   --args '{"id": 7}' or --args @FILE  a JSON object
 *
 * Mistakes in any of these are a UsageError (exit 2).
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../duration.ts';

/** The command line itself is wrong: exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command ran and failed outside the library (e.g. a file cannot be written): exit 1. */
export class Failure extends Error {
  override readonly name = 'Failure';
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** May be given more than once (collected into a list). */
  readonly multiple?: boolean;
  readonly short?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** Parsed flags with typed accessors. */
export class Flags {
  readonly positionals: readonly string[];
  readonly #values: Record<string, unknown>;

  constructor(values: Record<string, unknown>, positionals: readonly string[]) {
    this.#values = values;
    this.positionals = positionals;
  }

  /** A single-valued string flag, or undefined. */
  string(name: string): string | undefined {
    const v = this.#values[name];
    return typeof v === 'string' ? v : undefined;
  }

  /** A required single-valued string flag. */
  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    if (v === '') throw new UsageError(`--${name} must not be empty`);
    return v;
  }

  /** A repeatable string flag (possibly empty list). */
  list(name: string): string[] {
    const v = this.#values[name];
    return Array.isArray(v) ? v.map(String) : [];
  }

  bool(name: string): boolean {
    return this.#values[name] === true;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Turns node's parseArgs messages into one short line. */
function usageMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = oneLine(String(err.message ?? e));
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /Unknown option '([^']+)'/.exec(msg);
    return `unknown option ${m ? m[1] : msg}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const m = /Unexpected argument '([^']*)'/.exec(msg);
    return `unexpected argument ${m ? `'${m[1]}'` : msg}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /Option '(-\w, )?(--[\w-]+)[^']*' argument missing/.exec(msg);
    if (m) return `${m[2]} needs a value`;
    const amb = /Option '(-\w, )?(--[\w-]+)[^']*' argument is ambiguous/.exec(msg);
    if (amb) return `${amb[2]}: a value starting with '-' must be written ${amb[2]}=VALUE`;
    const bool = /Option '(-\w, )?(--[\w-]+)' does not take an argument/.exec(msg);
    if (bool) return `${bool[2]} does not take a value`;
  }
  return msg.split('. ')[0]!.replace(/\.$/, '');
}

/**
 * Strict parsing: unknown flags, a missing value, an unexpected positional
 * argument or a single-valued flag given twice are UsageErrors.
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs, positionals: { min: number; max: number } = { min: 0, max: 0 }): Flags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: specs as Record<string, FlagSpec>,
      strict: true,
      allowPositionals: positionals.max > 0,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError(usageMessage(e));
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (!specs[t.name]?.multiple) {
      if (seen.has(t.name)) throw new UsageError(`--${t.name} is given more than once`);
      seen.add(t.name);
    }
  }
  const pos = parsed.positionals;
  if (pos.length < positionals.min) throw new UsageError(positionals.min === 1 ? 'missing argument' : `expected ${positionals.min} arguments`);
  if (pos.length > positionals.max) throw new UsageError(`unexpected argument '${pos[positionals.max]}'`);
  return new Flags(parsed.values as Record<string, unknown>, pos);
}

/** Whether argv asks for help (`--help` or `-h` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** `--ttl 1h`: a positive duration in seconds. */
export function durationFlag(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

/** A non-negative whole number flag (`--max-depth 2`, `--skew 30`). */
export function integerFlag(name: string, text: string, max: number): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw new UsageError(`--${name} must be a whole number from 0 to ${max}`);
  const n = Number(text.trim());
  if (n > max) throw new UsageError(`--${name} must be a whole number from 0 to ${max}`);
  return n;
}

/** Parses JSON call arguments (an object). The message never echoes the text. */
export function parseJsonArgs(name: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`--${name} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`--${name} must be a JSON object, e.g. '{"id": 7}'`);
  return v as Record<string, unknown>;
}
