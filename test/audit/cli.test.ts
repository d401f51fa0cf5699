import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';
import { AuditLog } from '../../src/audit/index.ts';

function io(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const x: Io = {
    stdout: (t) => {
      out.push(t);
    },
    stderr: (t) => {
      err.push(t);
    },
    env: {},
    cwd,
  };
  return { x, out: () => out.join(''), err: () => err.join('') };
}

test('capframe audit verify: ok with the head, then the first altered line and exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-auditcli-'));
  try {
    const log = AuditLog.open({ path: join(dir, 'a.jsonl') });
    for (let i = 0; i < 5; i++) log.write({ decision: 'allow', tool: 't', callId: `c${i}` });
    const head = log.head;
    log.close();
    let c = io(dir);
    assert.equal(await main(['audit', 'verify', 'a.jsonl'], c.x), 0);
    assert.equal(c.out(), `ok: 5 lines in 1 file(s), seq 1..5, head 5:${head.hash}\n`);
    c = io(dir);
    assert.equal(await main(['audit', 'verify', 'a.jsonl', '--head', 'f'.repeat(64)], c.x), 1);
    assert.match(c.out(), /head-mismatch/);
    const p = join(dir, 'a.jsonl');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"callId":"c2"', '"callId":"cX"'));
    c = io(dir);
    assert.equal(await main(['audit', 'verify', 'a.jsonl'], c.x), 1);
    assert.match(c.out(), /^FAILED: .*a\.jsonl:3 \(seq 3\): altered: /);
    c = io(dir);
    assert.equal(await main(['audit', 'verify', 'a.jsonl', '--json'], c.x), 1);
    assert.equal(JSON.parse(c.out()).problem.line, 3);
    c = io(dir);
    assert.equal(await main(['audit', 'verify'], c.x), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
