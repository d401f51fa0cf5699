/**
 * Argument paths (docs/spec.md §6.1, format version 2): a constraint key
 * names a top-level argument (`to`), a member of an object argument
 * (`message.to`), every element of an array (`participants[]`), or a
 * combination (`items[].sku`, `rows[][]`).
 *
 *   path    = segment *( "." segment )
 *   segment = name *"[]"
 *   name    = [A-Za-z_][A-Za-z0-9_-]*          (at most 8 segments, 256 bytes)
 *
 * Resolution yields the values the constraint is applied to, or "missing":
 * a missing member, or a value of the wrong shape on the way (not a plain
 * object where a member is read, not an array where `[]` is), makes the
 * whole path missing, and a missing path fails its constraint. `[]` over an
 * empty array yields no values: the constraint holds vacuously (require
 * elements with `length`).
 */

export type Step = { readonly member: string } | { readonly each: true };
export const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(?:\[\])*(?:\.[A-Za-z_][A-Za-z0-9_-]*(?:\[\])*)*$/;
export const MAX_PATH_SEGMENTS = 8;

const parsed = new Map<string, readonly Step[]>();

/** The steps of a valid path (check with isPath first). */
export function parsePath(p: string): readonly Step[] {
  let steps = parsed.get(p);
  if (steps) return steps;
  const out: Step[] = [];
  for (const seg of p.split('.')) {
    const name = seg.replace(/(?:\[\])+$/, '');
    out.push({ member: name });
    for (let k = (seg.length - name.length) / 2; k > 0; k--) out.push({ each: true });
  }
  steps = Object.freeze(out);
  if (parsed.size >= 1024) parsed.delete(parsed.keys().next().value!);
  parsed.set(p, steps);
  return steps;
}

export function isPath(p: string): boolean {
  return PATH.test(p) && p.split('.').length <= MAX_PATH_SEGMENTS;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Values at the path, or undefined when the path is missing. */
export function resolvePath(steps: readonly Step[], args: unknown): unknown[] | undefined {
  // Members only (the common case): one walk, no intermediate lists.
  let v: unknown = args;
  let k = 0;
  for (; k < steps.length; k++) {
    const s = steps[k]!;
    if (!('member' in s)) break;
    if (!isPlainObject(v) || !own(v, s.member)) return undefined;
    v = v[s.member];
    if (v === undefined) return undefined;
  }
  if (k === steps.length) return [v];
  let cur: unknown[] = [v];
  steps = steps.slice(k);
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if ('member' in s) {
        if (!isPlainObject(v) || !own(v, s.member)) return undefined;
        const m = v[s.member];
        if (m === undefined) return undefined;
        next.push(m);
      } else {
        if (!Array.isArray(v)) return undefined;
        for (const e of v) next.push(e === undefined ? null : e); // as JSON: an undefined element is null
      }
    }
    cur = next;
  }
  return cur;
}

/** A trie of the constrained paths of a grant, for the closed-world check. */
interface Trie {
  end: boolean;
  members: Map<string, Trie>;
  each?: Trie;
}

export function buildTrie(paths: readonly (readonly Step[])[]): Trie {
  const root: Trie = { end: false, members: new Map() };
  for (const steps of paths) {
    let t = root;
    for (const s of steps) {
      if ('member' in s) {
        let n = t.members.get(s.member);
        if (!n) {
          n = { end: false, members: new Map() };
          t.members.set(s.member, n);
        }
        t = n;
      } else {
        t.each ??= { end: false, members: new Map() };
        t = t.each;
      }
    }
    t.end = true;
  }
  return root;
}

/**
 * Closed-world check (`args: closed`): every part of the arguments must lie
 * on or under a constrained path. Returns the first path that does not, or
 * null. A constrained path covers its whole value (members and elements).
 */
export function unconstrainedMember(trie: Trie, v: unknown, at = ''): string | null {
  if (trie.end) return null;
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    if (!trie.each) return `${at}[]`;
    for (const e of v) {
      const r = unconstrainedMember(trie.each, e, `${at}[]`);
      if (r) return r;
    }
    return null;
  }
  if (isPlainObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === undefined) continue;
      const path = at === '' ? k : `${at}.${k}`;
      const n = trie.members.get(k);
      if (!n) return path;
      const r = unconstrainedMember(n, v[k], path);
      if (r) return r;
    }
    return null;
  }
  return at === '' ? null : at; // a scalar where only deeper paths are constrained
}
