/**
 * A linear-time regular expression engine for the `regex` constraint
 * (docs/spec.md §6.2): Thompson NFA construction, simulated state set by
 * state set, so matching costs O(pattern size x input length) whatever the
 * pattern: no backtracking, no catastrophic cases like (a+)+$.
 *
 * Restricted syntax (anything else is refused when the pattern is
 * validated): literals; `.` (any code point); classes `[a-z_]`, `[^...]`;
 * escapes `\d \D \w \W \s \S` and `\` before a metacharacter; groups `( )`
 * and `(?: )`; alternation `|`; quantifiers `* + ?` and `{n}`, `{n,}`,
 * `{n,m}` with n, m <= 100. No anchors, backreferences, lookaround or lazy
 * quantifiers: the pattern always matches the WHOLE value. Matching is on
 * Unicode code points, case-sensitive.
 */

/** Longest value a regex constraint examines, in code points; a longer value fails the constraint. */
export const MAX_REGEX_INPUT = 4096;
/** Largest compiled program (NFA states). */
export const MAX_REGEX_PROGRAM = 4096;
const MAX_REPEAT = 100;

type Pred = (cp: number) => boolean;
type Node = { k: 'char'; p: Pred } | { k: 'cat'; a: Node[] } | { k: 'alt'; a: Node[] } | { k: 'rep'; n: Node; min: number; max: number }; // max = Infinity for unbounded

const META = new Set([...'\\.[]()|*+?{}^$-/']);
const isDigit: Pred = (c) => c >= 48 && c <= 57;
const isWord: Pred = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: Pred = (c) => c === 32 || (c >= 9 && c <= 13);

export class RegexSyntaxError extends Error {}

function parse(src: string): Node {
  const cps = [...src].map((c) => c.codePointAt(0)!);
  let i = 0;
  const fail = (why: string): never => {
    throw new RegexSyntaxError(`${why} at offset ${i}`);
  };
  const peek = () => cps[i];
  const ch = (c: string) => c.codePointAt(0)!;

  function escape(inClass: boolean): Pred {
    const c = cps[++i];
    if (c === undefined) fail('dangling "\\"');
    i++;
    const s = String.fromCodePoint(c!);
    switch (s) {
      case 'd':
        return isDigit;
      case 'D':
        return (x) => !isDigit(x);
      case 'w':
        return isWord;
      case 'W':
        return (x) => !isWord(x);
      case 's':
        return isSpace;
      case 'S':
        return (x) => !isSpace(x);
    }
    if (!META.has(s) && !(inClass && s === ' ')) fail(`unsupported escape "\\${s}"`);
    return (x) => x === c;
  }

  function classAtom(): { p: Pred; cp?: number } {
    if (peek() === ch('\\')) {
      const save = i;
      const p = escape(true);
      const c = cps[save + 1]!;
      const s = String.fromCodePoint(c);
      return 'dDwWsS'.includes(s) ? { p } : { p, cp: c };
    }
    const c = cps[i++]!;
    if (c === ch('[')) fail('"[" inside a class (escape it)');
    return { p: (x) => x === c, cp: c };
  }

  function cls(): Node {
    i++; // [
    let neg = false;
    if (peek() === ch('^')) {
      neg = true;
      i++;
    }
    const preds: Pred[] = [];
    let first = true;
    while (true) {
      const c = peek();
      if (c === undefined) fail('unclosed "["');
      if (c === ch(']') && !first) {
        i++;
        break;
      }
      if (c === ch(']')) fail('empty class');
      first = false;
      const a = classAtom();
      if (peek() === ch('-') && cps[i + 1] !== undefined && cps[i + 1] !== ch(']')) {
        i++;
        const b = classAtom();
        if (a.cp === undefined || b.cp === undefined || b.cp < a.cp) fail('bad class range');
        const lo = a.cp!,
          hi = b.cp!;
        preds.push((x) => x >= lo && x <= hi);
      } else preds.push(a.p);
    }
    const any: Pred = (x) => preds.some((p) => p(x));
    return { k: 'char', p: neg ? (x) => !any(x) : any };
  }

  function atom(): Node {
    const c = peek()!;
    if (c === ch('(')) {
      i++;
      if (peek() === ch('?')) {
        if (cps[i + 1] !== ch(':')) fail('only (?: ) groups are supported');
        i += 2;
      }
      const n = alt();
      if (peek() !== ch(')')) fail('unclosed "("');
      i++;
      return n;
    }
    if (c === ch('[')) return cls();
    if (c === ch('.')) {
      i++;
      return { k: 'char', p: () => true };
    }
    if (c === ch('\\')) return { k: 'char', p: escape(false) };
    const s = String.fromCodePoint(c);
    if (META.has(s) && s !== '-' && s !== '/') fail(`unexpected "${s}" (anchors are implicit; escape metacharacters)`);
    i++;
    return { k: 'char', p: (x) => x === c };
  }

  function num(): number {
    let s = '';
    while (peek() !== undefined && isDigit(peek()!)) s += String.fromCodePoint(cps[i++]!);
    if (s === '' || s.length > 3) fail('bad repetition count');
    const n = parseInt(s, 10);
    if (n > MAX_REPEAT) fail(`repetition count above ${MAX_REPEAT}`);
    return n;
  }

  function quantified(): Node {
    let n = atom();
    const c = peek();
    let q: [number, number] | undefined;
    if (c === ch('*')) {
      i++;
      q = [0, Infinity];
    } else if (c === ch('+')) {
      i++;
      q = [1, Infinity];
    } else if (c === ch('?')) {
      i++;
      q = [0, 1];
    } else if (c === ch('{')) {
      i++;
      const min = num();
      let max = min;
      if (peek() === ch(',')) {
        i++;
        max = peek() === ch('}') ? Infinity : num();
      }
      if (peek() !== ch('}')) fail('unclosed "{"');
      i++;
      if (max < min) fail('repetition {n,m} with m < n');
      q = [min, max];
    }
    if (q) {
      n = { k: 'rep', n, min: q[0], max: q[1] };
      const d = peek();
      if (d === ch('*') || d === ch('+') || d === ch('?') || d === ch('{')) fail('a quantifier cannot follow a quantifier');
    }
    return n;
  }

  function seq(): Node {
    const a: Node[] = [];
    while (peek() !== undefined && peek() !== ch('|') && peek() !== ch(')')) a.push(quantified());
    return { k: 'cat', a };
  }

  function alt(): Node {
    const a = [seq()];
    while (peek() === ch('|')) {
      i++;
      a.push(seq());
    }
    return a.length === 1 ? a[0]! : { k: 'alt', a };
  }

  const n = alt();
  if (i !== cps.length) fail('unexpected ")"');
  return n;
}

/** Instructions: a char test (an ASCII table, the predicate beyond), a fork, a jump, or the final state. */
type Inst = { op: 0; p: Pred; ascii?: Uint8Array; x: number } | { op: 1; x: number; y: number } | { op: 2; x: number } | { op: 3 };

function asciiTable(p: Pred): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) t[c] = p(c) ? 1 : 0;
  return t;
}

/**
 * Most node visits while compiling. A repeated node that emits no state (`(){100}`,
 * `(a{0}){100}`) costs visits but no states, so the state limit alone would not stop
 * `((((){100}){100}){100}){100}` from taking 100^4 visits.
 */
const MAX_COMPILE_VISITS = 64 * MAX_REGEX_PROGRAM;

function compile(root: Node): Inst[] {
  const prog: Inst[] = [];
  // One ASCII table per predicate: a repeated atom reuses its table instead of rebuilding it per copy.
  const tables = new Map<Pred, Uint8Array>();
  const tableOf = (p: Pred) => {
    let t = tables.get(p);
    if (!t) tables.set(p, (t = asciiTable(p)));
    return t;
  };
  let visits = 0;
  const emit = (ins: Inst) => {
    prog.push(ins);
    if (prog.length > MAX_REGEX_PROGRAM) throw new RegexSyntaxError(`pattern compiles to more than ${MAX_REGEX_PROGRAM} states`);
    return prog.length - 1;
  };
  function gen(n: Node): void {
    if (++visits > MAX_COMPILE_VISITS) throw new RegexSyntaxError('pattern is too complex (repeats of empty groups)');
    switch (n.k) {
      case 'char': {
        const at = emit({ op: 0, p: n.p, ascii: tableOf(n.p), x: 0 });
        (prog[at] as { x: number }).x = at + 1;
        return;
      }
      case 'cat':
        for (const c of n.a) gen(c);
        return;
      case 'alt': {
        const jumps: number[] = [];
        for (let k = 0; k < n.a.length - 1; k++) {
          const split = emit({ op: 1, x: 0, y: 0 });
          (prog[split] as { x: number }).x = split + 1;
          gen(n.a[k]!);
          jumps.push(emit({ op: 2, x: 0 }));
          (prog[split] as { y: number }).y = prog.length;
        }
        gen(n.a[n.a.length - 1]!);
        for (const j of jumps) (prog[j] as { x: number }).x = prog.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) gen(n.n);
        if (n.max === Infinity) {
          const split = emit({ op: 1, x: 0, y: 0 });
          (prog[split] as { x: number }).x = split + 1;
          gen(n.n);
          emit({ op: 2, x: split });
          (prog[split] as { y: number }).y = prog.length;
        } else {
          const splits: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            const split = emit({ op: 1, x: 0, y: 0 });
            (prog[split] as { x: number }).x = split + 1;
            splits.push(split);
            gen(n.n);
          }
          for (const s of splits) (prog[s] as { y: number }).y = prog.length;
        }
        return;
      }
    }
  }
  gen(root);
  emit({ op: 3 });
  return prog;
}

export interface CompiledRegex {
  readonly source: string;
  readonly size: number;
  /** Whole-value match; false for values longer than MAX_REGEX_INPUT code points. */
  test(s: string): boolean;
}

const compiled = new Map<string, CompiledRegex>();

/** Compiles a pattern of the restricted syntax; throws RegexSyntaxError. Results are cached. */
export function compileRegex(source: string): CompiledRegex {
  const hit = compiled.get(source);
  if (hit) return hit;
  const prog = compile(parse(source));
  const n = prog.length;
  // Two state lists with generation marks: each step visits each state at most once.
  // Float64, not Uint32: the generation grows by one per uncached step for as long as the compiled
  // pattern is cached, and a 32-bit mark would wrap after 2^32 steps, stop matching the generation
  // and let the epsilon closure loop. Doubles count exactly to 2^53.
  const mark = new Float64Array(n);
  let gen = 0;
  const cur = new Int32Array(n),
    next = new Int32Array(n);
  // Each state is pushed at most once per generation (marked when pushed), so n + 1 slots suffice.
  const stack = new Int32Array(n + 1);
  function add(list: Int32Array, len: number, pc: number): number {
    // Iterative epsilon closure with an explicit stack.
    let sp = 0;
    if (mark[pc] === gen) return len;
    mark[pc] = gen;
    stack[sp++] = pc;
    while (sp > 0) {
      const s = stack[--sp]!;
      const ins = prog[s]!;
      if (ins.op === 1) {
        if (mark[ins.y] !== gen) {
          mark[ins.y] = gen;
          stack[sp++] = ins.y;
        }
        if (mark[ins.x] !== gen) {
          mark[ins.x] = gen;
          stack[sp++] = ins.x;
        }
        continue;
      }
      if (ins.op === 2) {
        if (mark[ins.x] !== gen) {
          mark[ins.x] = gen;
          stack[sp++] = ins.x;
        }
        continue;
      }
      list[len++] = s;
    }
    return len;
  }
  /**
   * A lazily built DFA over the NFA (as RE2 does): each DFA state is a set of
   * NFA states, and its transition on an ASCII code point is computed once
   * by one NFA step and then reused. At most MAX_DFA_STATES are kept; past
   * that, steps are computed without being remembered. Either way each input
   * character costs at most one NFA step: still linear.
   */
  interface DState {
    readonly list: Int32Array;
    readonly accept: boolean;
    readonly next: (DState | undefined)[];
  }
  const dstates = new Map<string, DState>();
  const MAX_DFA_STATES = 512;
  function dstate(list: Int32Array, len: number): DState {
    const sorted = Array.from(list.subarray(0, len)).sort((a, b) => a - b);
    const key = sorted.join(',');
    let d = dstates.get(key);
    if (d) return d;
    let accept = false;
    for (const st of sorted) if (prog[st]!.op === 3) accept = true;
    d = { list: Int32Array.from(sorted), accept, next: [] };
    if (dstates.size < MAX_DFA_STATES) dstates.set(key, d);
    return d;
  }
  function step(d: DState, cp: number): DState {
    gen++;
    let nextLen = 0;
    const l = d.list;
    for (let k = 0; k < l.length; k++) {
      const ins = prog[l[k]!]!;
      if (ins.op === 0 && (cp < 128 ? ins.ascii![cp] === 1 : ins.p(cp))) nextLen = add(next, nextLen, ins.x);
    }
    return dstate(next, nextLen);
  }
  gen++;
  const start = dstate(cur, add(cur, 0, 0));
  const re: CompiledRegex = {
    source,
    size: n,
    test(s: string): boolean {
      if (typeof s !== 'string' || s.length > MAX_REGEX_INPUT * 2) return false;
      let count = 0;
      let d = start;
      for (let i = 0; i < s.length; i++) {
        if (++count > MAX_REGEX_INPUT) return false;
        let cp = s.charCodeAt(i);
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
          const lo = s.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
            i++;
          }
        }
        let nd = cp < 128 ? d.next[cp] : undefined;
        if (nd === undefined) {
          nd = step(d, cp);
          if (cp < 128 && dstates.size < MAX_DFA_STATES) d.next[cp] = nd;
        }
        d = nd;
        if (d.list.length === 0) return false;
      }
      return d.accept;
    },
  };
  if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, re);
  return re;
}
