/**
 * The built-in file tools of Deep Agents (ls, read_file, write_file,
 * edit_file, delete, glob, grep) as capframe sees them: a default policy each
 * (resource template over the path argument, operation `read` or `write`)
 * and the view of a call's arguments the templates read.
 *
 * Deep Agents paths are absolute (`/reports/q3.md`). A multi-segment template
 * needs a relative path, so the view drops the leading `/`:
 * `/reports/q3.md` becomes `files://reports/q3.md`, and a grant
 * `files://reports/**` covers every file under /reports. The directory tools
 * (ls, glob, grep) read a directory's entries: their resource is the
 * directory's `~` entry, `/reports` -> `files://reports/~` and the root `/`
 * (their default) -> `files://~`, so `files://reports/**` also covers
 * listing and searching /reports, and nothing covers the root but a grant
 * on `files://~` or `files://**`. A `~` segment in a path is refused (Deep
 * Agents refuses it too), so no file can pose as a listing. The directory
 * tools accept one trailing `/`. Everything else the template rules refuse
 * (empty, `.` or `..` segments, backslashes, encoded separators) is a
 * denial; so is a glob pattern that could reach a `..` segment: the
 * backends expand braces before they resolve paths (`.{.,}/x` is `../x`),
 * so a pattern's brace groups may only list plain names (`*.{md,txt}`), and
 * a backslash (an escape) is refused.
 *
 * `execute` (a shell) has no default policy: without one in the config it is
 * denied (ERR_NO_SCHEMA). Its command cannot be scoped by path.
 */
import { ScopeResourceError } from '../errors.ts';
import type { ToolPolicySpec } from '../config/tools.ts';

/** The segment that stands for a directory's entries (its listing). */
export const LISTING_SEGMENT = '~';

interface FileTool {
  /** The argument that names the file or directory. */
  readonly arg: 'path' | 'file_path';
  /** Directory tools: the argument may be absent (root) and may end with `/`. */
  readonly directory: boolean;
  /** Arguments holding glob patterns (a `..` segment is refused). */
  readonly patterns?: readonly string[];
  readonly operation: 'read' | 'write';
}

const TOOLS: Readonly<Record<string, FileTool>> = Object.freeze({
  ls: { arg: 'path', directory: true, operation: 'read' },
  read_file: { arg: 'file_path', directory: false, operation: 'read' },
  write_file: { arg: 'file_path', directory: false, operation: 'write' },
  edit_file: { arg: 'file_path', directory: false, operation: 'write' },
  delete: { arg: 'file_path', directory: false, operation: 'write' },
  glob: { arg: 'path', directory: true, patterns: ['pattern'], operation: 'read' },
  grep: { arg: 'path', directory: true, patterns: ['glob'], operation: 'read' },
});

export const FILE_TOOL_NAMES: readonly string[] = Object.freeze(Object.keys(TOOLS));

export function isFileTool(name: string): boolean {
  return Object.hasOwn(TOOLS, name);
}

/** The default policy of each file tool: `files://{ARG*}` and its operation. */
export const FILE_TOOL_POLICIES: Readonly<Record<string, ToolPolicySpec>> = Object.freeze(
  Object.fromEntries(Object.entries(TOOLS).map(([name, t]) => [name, Object.freeze({ resource: `files://{${t.arg}*}`, operation: t.operation })])),
);

const DOT_DOT = /(^|[/\\])\.\.([/\\]|$)/;
/** A brace group of plain names: it expands to non-empty text without `.` or `/`. */
const PLAIN_BRACES = /\{[A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)+\}/g;

/** Whether a glob pattern could name a `..` segment once its braces are expanded. */
function mayClimb(pattern: string): boolean {
  if (pattern.includes('\\')) return true;
  // Each plain group stands for a name with no dot: one such character keeps the check exact.
  const flat = pattern.replace(PLAIN_BRACES, '_');
  return flat.includes('{') || flat.includes('}') || DOT_DOT.test(flat);
}

/**
 * The arguments the policy's template and constraints see: the tool's own
 * (after its schema ran), the path argument made relative. Throws
 * ScopeResourceError for a path the tools would read differently.
 */
export function fileToolView(name: string, args: Record<string, unknown>): Record<string, unknown> {
  const t = TOOLS[name];
  if (!t) return args;
  for (const p of t.patterns ?? []) {
    const v = args[p];
    if (typeof v === 'string' && mayClimb(v))
      throw new ScopeResourceError(`argument "${p}" may reach a ".." segment (brace groups may only list plain names; no backslashes)`);
  }
  const raw = args[t.arg];
  if (t.directory && (raw === undefined || raw === null || raw === '' || raw === '/')) return { ...args, [t.arg]: LISTING_SEGMENT };
  if (typeof raw !== 'string') throw new ScopeResourceError(`argument "${t.arg}" must be a path`);
  if (!raw.startsWith('/')) throw new ScopeResourceError(`argument "${t.arg}" must be an absolute path (starting with /)`);
  let v = raw.slice(1);
  if (t.directory && v.endsWith('/')) v = v.slice(0, -1);
  if (v.split('/').includes(LISTING_SEGMENT)) throw new ScopeResourceError(`argument "${t.arg}" has a "${LISTING_SEGMENT}" segment`);
  return { ...args, [t.arg]: t.directory ? `${v}/${LISTING_SEGMENT}` : v };
}
