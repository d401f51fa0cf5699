/**
 * Benchmark runner: `npm run bench [-- --json] [--suite NAME ...] [--quick]`.
 *
 * Runs every suite of bench/suites.ts whose `default` is true (or the ones
 * named with --suite), one after the other in this process, and prints one
 * table: name, value, target, ok. With --json the last line of stdout is one
 * JSON object merging every suite's metrics.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { SUITES } from './suites.ts';
import { machineInfo } from './stats.ts';
import type { BenchRow, Suite } from './suite.ts';

const USAGE = `usage: npm run bench -- [--json] [--suite NAME]... [--quick] [--strict]
  --json      also print one JSON object with every metric as the last line of stdout
  --suite     run only this suite (repeatable); default: every default suite
  --quick     fewer iterations (numbers are only indicative)
  --strict    exit 1 when a target is not met
  --list      list the suites
suites: ${SUITES.map((s) => `${s.name}${s.default ? '' : ' (not default)'}`).join(', ') || '(none)'}`;

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write(USAGE + '\n');
  process.exit(msg ? 2 : 0);
}

let args: { json?: boolean; suite?: string[]; quick?: boolean; strict?: boolean; list?: boolean; help?: boolean };
try {
  args = parseArgs({
    options: {
      json: { type: 'boolean' },
      suite: { type: 'string', multiple: true },
      quick: { type: 'boolean' },
      strict: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  usage(e instanceof Error ? e.message : String(e));
}
if (args.help) usage();
if (args.list) {
  for (const s of SUITES) console.log(`${s.name}${s.default ? '' : '  (not default; run with --suite)'}`);
  process.exit(0);
}

const names = new Set(SUITES.map((s) => s.name));
if (names.size !== SUITES.length) usage('two suites share a name in bench/suites.ts');
for (const n of args.suite ?? []) if (!names.has(n)) usage(`unknown suite "${n}"`);
const selected: Suite[] = args.suite?.length ? SUITES.filter((s) => args.suite!.includes(s.name)) : SUITES.filter((s) => s.default);
if (selected.length === 0) usage('no suite to run');

interface Section {
  suite: string;
  rows: readonly BenchRow[];
  seconds: number;
  error?: string;
}

function table(sections: readonly Section[]): string {
  const head = ['name', 'value', 'target', 'ok'];
  const lines: string[][] = [];
  for (const s of sections) {
    lines.push([`[${s.suite}] ${s.error ? 'FAILED: ' + s.error : `(${s.seconds.toFixed(1)} s)`}`, '', '', '']);
    for (const r of s.rows) {
      lines.push([`  ${r.name}`, r.value, r.target ?? '', r.ok === undefined ? '' : r.ok ? 'ok' : 'FAIL']);
    }
  }
  const width = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: readonly string[]) =>
    l
      .map((c, i) => c.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), width.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

const out = (s: string) => process.stdout.write(s + '\n');
out(`capframe bench: ${machineInfo()}${args.quick ? ' [quick]' : ''}`);

const sections: Section[] = [];
const metrics: Record<string, number> = {};
let failedSuites = 0;
for (const suite of selected) {
  const t0 = process.hrtime.bigint();
  // The machine's 1-minute load average beside every suite's numbers: other processes share these cores.
  const key = suite.name.replace(/[^A-Za-z0-9]+/g, '_');
  metrics[`${key}_loadavg_start`] = Math.round(loadavg()[0]! * 100) / 100;
  try {
    const r = await suite.run({ quick: args.quick === true });
    for (const [k, v] of Object.entries(r.metrics)) {
      if (k in metrics) process.stderr.write(`bench: metric ${k} reported twice; keeping ${suite.name}'s\n`);
      metrics[k] = v;
    }
    sections.push({ suite: suite.name, rows: r.rows, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
  } catch (e) {
    failedSuites++;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`bench: suite ${suite.name} failed: ${e instanceof Error ? (e.stack ?? msg) : msg}\n`);
    sections.push({ suite: suite.name, rows: [], seconds: Number(process.hrtime.bigint() - t0) / 1e9, error: msg });
  }
  metrics[`${key}_loadavg_end`] = Math.round(loadavg()[0]! * 100) / 100;
  sections[sections.length - 1]!.rows = [
    ...sections[sections.length - 1]!.rows,
    { name: 'load average (1 min) at start / end', value: `${metrics[`${key}_loadavg_start`]} / ${metrics[`${key}_loadavg_end`]}` },
  ];
}

const rows = sections.flatMap((s) => s.rows);
const targets = rows.filter((r) => r.ok !== undefined);
const missed = targets.filter((r) => r.ok === false);
out('');
out(table(sections));
out('');
out(`${targets.length - missed.length}/${targets.length} targets met${missed.length ? `; FAIL: ${missed.map((r) => r.name).join('; ')}` : ''}`);
if (args.json) out(JSON.stringify(metrics));
process.exitCode = failedSuites > 0 ? 1 : args.strict && missed.length > 0 ? 1 : 0;
