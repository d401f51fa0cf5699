/** `--rate` and `--budget` on `capframe issue` and `delegate` (docs/limits.md), in process. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';
import { parseBudget, parseRate } from '../../src/cli/grants.ts';
import { UsageError } from '../../src/cli/args.ts';
import { Token } from '../../src/index.ts';
import { decodeChain } from '../../src/token/chain.ts';

class MemoryIo implements Io {
  out = '';
  err = '';
  readonly env = {};
  constructor(readonly cwd: string) {}
  stdout(t: string) {
    this.out += t;
  }
  stderr(t: string) {
    this.err += t;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'capframe-cli-limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const run = async (...argv: string[]) => {
  const io = new MemoryIo(dir);
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
};

test('--rate CALLS/PER and --budget ARG=TOTAL[/PER] parse to the grant limits; bad text is a usage error', () => {
  assert.deepEqual(parseRate('100/1h'), { calls: 100, per: 3600 });
  assert.deepEqual(parseRate('5/90'), { calls: 5, per: 90 });
  assert.deepEqual(parseBudget('amount=50/1d'), { arg: 'amount', total: '50', per: 86400 });
  assert.deepEqual(parseBudget('items[].price=0.25'), { arg: 'items[].price', total: '0.25' });
  for (const bad of ['100', '0/1h', '10/xyz', 'x/1h']) assert.throws(() => parseRate(bad), UsageError, bad);
  for (const bad of ['amount', 'amount=-1', 'amount=5.0', 'amount=1e3', '=5', 'amount=5/0']) assert.throws(() => parseBudget(bad), UsageError, bad);
});

test('issue with limits, delegate tighter (allowed) and wider (ERR_ATTENUATION), inspect shows them', async () => {
  const auth = JSON.parse((await run('keygen', '--out', 'auth.key')).out) as { publicKey: string };
  const agent = JSON.parse((await run('keygen', '--out', 'agent.key')).out) as { publicKey: string };
  const sub = JSON.parse((await run('keygen', '--out', 'sub.key')).out) as { publicKey: string };
  void auth;
  writeFileSync(join(dir, 'agent.pub'), JSON.stringify(agent) + '\n');
  writeFileSync(join(dir, 'sub.pub'), JSON.stringify(sub) + '\n');
  const issued = await run(
    'issue',
    '--key',
    'auth.key',
    '--sub',
    'agent:pay',
    '--holder',
    'agent.pub',
    '--grant',
    'bank://acct/*:transfer',
    '--rate',
    '100/1h',
    '--budget',
    'amount=50/1d',
    '--ttl',
    '1h',
    '--max-depth',
    '1',
    '--out',
    'root.tok',
  );
  assert.equal(issued.code, 0, issued.err);
  const root = decodeChain(Token.parse(readFileSync(join(dir, 'root.tok'), 'utf8').trim()));
  assert.deepEqual(root.blocks[0]!.grants[0]!.rate, { calls: 100, per: 3600 });
  assert.deepEqual(root.blocks[0]!.grants[0]!.budget, { arg: 'amount', total: '50', per: 86400 });
  const ok = await run(
    'delegate',
    '--token',
    'root.tok',
    '--key',
    'agent.key',
    '--to',
    'sub.pub',
    '--sub',
    'agent:sub',
    '--rate',
    '10/1h',
    '--out',
    'child.tok',
  );
  assert.equal(ok.code, 0, ok.err);
  const wide = await run('delegate', '--token', 'root.tok', '--key', 'agent.key', '--to', 'sub.pub', '--sub', 'agent:sub', '--budget', 'amount=51/1d');
  assert.equal(wide.code, 1);
  assert.match(wide.err, /ERR_ATTENUATION/);
  const shown = await run('inspect', 'child.tok');
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /rate 10\/3600s/);
});
