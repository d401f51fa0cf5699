/**
 * CLI suite: how fast `capframe` starts, as whole processes. Every round
 * spawns, one after the other, a bare `node -e 0`, `capframe --help` and
 * `capframe verify` of a 2-block token with an invocation proof (the built
 * dist/, as an installed package runs it), so machine noise hits all three
 * alike; the targets are the medians divided by the bare start's median.
 * The load average at start and end goes into the metrics: on a busy
 * machine process start-up varies far more than in-process timings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPublicKey, generateKey } from '../src/crypto/keys.ts';
import { issueToken } from '../src/authority/issue.ts';
import { delegate } from '../src/holder/delegate.ts';
import { createInvocation } from '../src/holder/invoke.ts';
import { nowNs, percentile, round } from './stats.ts';
import type { BenchContext, BenchResult, Suite } from './suite.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin', 'capframe.js');
const ARGS = '{"table":"accounts","limit":10}';
const HELP_TARGET = 2;
const VERIFY_TARGET = 3;

interface Case {
  readonly name: string;
  readonly argv: () => string[];
  /** Checked on every run, so a broken command cannot look fast. */
  readonly expect: (stdout: string) => boolean;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const rounds = ctx.quick ? 2 : 15;
  const loadStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-cli-'));
  try {
    const authority = generateKey();
    const agent = generateKey();
    const sub = generateKey();
    const root = issueToken({
      key: authority,
      subject: 'agent:support',
      holder: agent.publicKey,
      grants: [{ resource: 'database://users/*', permissions: ['read', 'query'] }],
      ttl: '1h',
      maxDepth: 1,
    });
    const child = delegate(root, { key: agent, to: sub.publicKey, subject: 'agent:summarizer', permissions: ['read'], ttl: '30m' });
    writeFileSync(join(dir, 'authority.pub'), formatPublicKey(authority.publicKey) + '\n');
    writeFileSync(join(dir, 'child.tok'), child.toString() + '\n', { mode: 0o600 });
    // A fresh proof per round: a proof lives at most 300 s, a slow run may take longer.
    const freshProof = () =>
      writeFileSync(
        join(dir, 'call.inv'),
        createInvocation(child, {
          key: sub,
          tool: 'query_db',
          operation: 'read',
          resource: 'database://users/accounts',
          args: JSON.parse(ARGS) as Record<string, unknown>,
          ttl: 300,
        }).toString() + '\n',
        { mode: 0o600 },
      );

    const cases: Case[] = [
      { name: 'bare', argv: () => ['-e', '0'], expect: (out) => out === '' },
      { name: 'help', argv: () => [BIN, '--help'], expect: (out) => out.startsWith('capframe: ') },
      {
        name: 'verify',
        argv: () => [BIN, 'verify', '--token', 'child.tok', '--invocation', 'call.inv', '--trust', 'authority.pub', '--tool', 'query_db', '--args', ARGS],
        expect: (out) => out.startsWith('allowed: '),
      },
    ];
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // tsx's loader must not be timed
    const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const once = (c: Case): number => {
      const t0 = nowNs();
      const r = spawnSync(process.execPath, c.argv(), { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      const ms = Number(nowNs() - t0) / 1e6;
      if (r.status !== 0 || !c.expect(r.stdout)) throw new Error(`bench: ${c.name} failed (exit ${r.status}): ${r.stderr.split('\n')[0]}`);
      return ms;
    };
    freshProof();
    for (const c of cases) once(c); // warm the file system cache
    for (let i = 0; i < rounds; i++) {
      freshProof();
      // Rotate the order so no case always runs right after another.
      for (let j = 0; j < cases.length; j++) {
        const c = cases[(i + j) % cases.length]!;
        samples.get(c.name)!.push(once(c));
      }
    }
    const median = (name: string) => percentile(samples.get(name)!, 50);
    const bare = median('bare');
    const help = median('help');
    const verify = median('verify');
    const loadEnd = loadavg()[0]!;
    const helpRatio = help / bare;
    const verifyRatio = verify / bare;
    const ms = (x: number) => `${round(x, 1)} ms`;
    return {
      metrics: {
        cli_help_ratio: round(helpRatio, 2),
        cli_verify_ratio: round(verifyRatio, 2),
        cli_bare_ms: round(bare, 1),
        cli_help_ms: round(help, 1),
        cli_verify_ms: round(verify, 1),
        cli_loadavg_start: round(loadStart, 2),
        cli_loadavg_end: round(loadEnd, 2),
      },
      rows: [
        { name: `node -e 0 (median of ${rounds})`, value: ms(bare) },
        { name: 'capframe --help', value: `${ms(help)} = ${round(helpRatio, 2)} x bare`, target: `<= ${HELP_TARGET} x`, ok: helpRatio <= HELP_TARGET },
        {
          name: 'capframe verify (2 blocks + proof)',
          value: `${ms(verify)} = ${round(verifyRatio, 2)} x bare`,
          target: `<= ${VERIFY_TARGET} x`,
          ok: verifyRatio <= VERIFY_TARGET,
        },
        { name: 'load average (1 min) at start, end', value: `${loadStart.toFixed(2)}, ${loadEnd.toFixed(2)}` },
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const cliSuite: Suite = { name: 'cli', default: true, run };
