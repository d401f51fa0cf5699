import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../src/audit/index.ts';
import { rotatedFiles } from '../../src/audit/log.ts';
import { hashRecord } from '../../src/audit/record.ts';
import { CapframeError } from '../../src/errors.ts';
import { generateKey, issueToken, Verifier } from '../../src/index.ts';
import { canonicalJson } from '../../src/token/args.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'capframe-audit-'));

function fill(path: string, n: number, opts: { maxBytes?: number; maxFiles?: number } = {}): AuditLog {
  const log = AuditLog.open({ path, ...opts });
  for (let i = 0; i < n; i++) {
    log.write({
      decision: i % 3 ? 'allow' : 'deny',
      code: i % 3 ? undefined : 'ERR_SCOPE_RESOURCE',
      tool: 't',
      operation: 'read',
      resource: `r://x/${i}`,
      callId: `c${i}`,
      latencyMs: 0.05,
    });
  }
  return log;
}
const readLines = (p: string) => readFileSync(p, 'utf8').split('\n').slice(0, -1);
const writeLines = (p: string, ls: string[]) => writeFileSync(p, ls.map((l) => l + '\n').join(''));
function rehash(line: string, change: (o: Record<string, unknown>) => void): string {
  const o = JSON.parse(line) as Record<string, unknown>;
  delete o.hash;
  change(o);
  return canonicalJson({ ...o, hash: hashRecord(o as never) });
}

test('decisions become chained lines without tokens, keys or raw arguments', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'audit.jsonl');
    const authority = generateKey();
    const holder = generateKey();
    const token = issueToken({
      key: authority,
      subject: 'agent:a',
      holder: holder.publicKey,
      grants: [{ resource: 'db://x/*', permissions: ['read'] }],
      ttl: '1h',
    });
    const v = new Verifier({ trusted: [authority.publicKey] });
    const log = AuditLog.open({ path, source: 'local' });
    const ok = await v.authorize(token, { tool: 'q', operation: 'read', resource: 'db://x/users', args: { password: 'hunter2-secret' }, callId: 'c1' });
    const no = await v.authorize(token, { tool: 'q', operation: 'write', resource: 'db://x/users', args: { password: 'hunter2-secret' }, callId: 'c2' });
    log.write({ ...ok, latencyMs: 0.2, token: token.toString(), args: { password: 'hunter2-secret' } });
    log.sink({ decision: no, latencyMs: 0.3, token: token.toString(), key: holder.seed });
    log.close();
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes('hunter2'));
    assert.ok(!text.includes(token.toString().slice(5, 40)));
    const [a, b] = readLines(path).map((l) => JSON.parse(l));
    assert.equal(a.decision, 'allow');
    assert.equal(a.code, null);
    assert.equal(a.subject, 'agent:a');
    assert.equal(a.resource, 'db://x/users');
    assert.equal(a.mode, 'local');
    assert.equal(a.source, 'local');
    assert.deepEqual(a.chain, ok.chainIds);
    assert.equal(a.argsDigest, ok.argsDigest);
    assert.equal(a.latencyMs, 0.2);
    assert.equal(b.decision, 'deny');
    assert.equal(b.code, 'ERR_SCOPE_PERMISSION');
    assert.equal(b.callId, 'c2');
    assert.equal(b.prev, a.hash);
    const r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.equal(r.lines, 2);
    assert.deepEqual(r.head, { seq: 2, hash: b.hash });
    // reopening continues the chain
    const again = AuditLog.open({ path });
    assert.equal(again.head.seq, 2);
    again.write({ decision: 'allow' });
    again.close();
    assert.equal(verifyAuditLog(path).lines, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('odd text in events (quotes, separators, emoji, lone surrogates) still gives canonical, verifiable lines', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'u.jsonl');
    const log = AuditLog.open({ path });
    log.write({
      decision: 'deny',
      code: 'ERR_CONSTRAINT',
      tool: 't\u2028"\\\ud800',
      resource: 'r://é/😀',
      callId: '\u0001\u007f',
      subject: 'x'.repeat(5000),
      chainIds: ['zz', 'ab'],
    });
    log.close();
    const r = verifyAuditLog(path);
    assert.equal(r.ok, true, r.problem?.message);
    const o = JSON.parse(readLines(path)[0]!);
    assert.equal(o.tool, 't\u2028"\\\ufffd');
    assert.equal(o.subject.length, 1024);
    assert.deepEqual(o.chain, ['ab']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit verify reports the first altered, inserted or deleted line', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'a.jsonl');
    fill(path, 20).close();
    const orig = readLines(path);
    const check = (ls: string[]) => {
      writeLines(path, ls);
      return verifyAuditLog(path).problem;
    };

    // edited in place, hash left alone
    let p = check(orig.map((l, i) => (i === 6 ? l.replace('"decision":"deny"', '"decision":"allow"') : l)));
    assert.deepEqual([p?.kind, p?.line, p?.seq], ['altered', 7, 7]);
    // edited and its own hash recomputed: the next line's prev gives it away
    p = check(
      orig.map((l, i) =>
        i === 9
          ? rehash(l, (o) => {
              o.resource = 'r://x/other';
            })
          : l,
      ),
    );
    assert.deepEqual([p?.kind, p?.line, p?.seq], ['altered', 10, 10]);
    // deleted
    p = check(orig.filter((_, i) => i !== 4));
    assert.deepEqual([p?.kind, p?.line, p?.seq], ['deleted', 5, 6]);
    assert.match(p!.message, /1 line\(s\) deleted before this one \(seq 5\)/);
    // inserted: a well-formed forged line that links to the line before it
    const after = JSON.parse(orig[11]!) as { seq: number; hash: string };
    const forged = rehash(orig[11]!, (o) => {
      o.callId = 'forged';
      o.seq = after.seq + 1;
      o.prev = after.hash;
    });
    p = check([...orig.slice(0, 12), forged, ...orig.slice(12)]);
    assert.deepEqual([p?.kind, p?.line, p?.seq], ['inserted', 13, 13]);
    // a copied line dropped in (same seq as its neighbour)
    p = check([
      ...orig.slice(0, 12),
      rehash(orig[11]!, (o) => {
        o.callId = 'copy';
      }),
      ...orig.slice(12),
    ]);
    assert.deepEqual([p?.kind, p?.line], ['inserted', 13]);
    // reordered lines
    p = check([...orig.slice(0, 3), orig[4]!, orig[3]!, ...orig.slice(5)]);
    assert.equal(p?.line, 4);
    // garbage line
    p = check([...orig.slice(0, 2), 'not json', ...orig.slice(2)]);
    assert.deepEqual([p?.kind, p?.line], ['altered', 3]);
    // tail cut off: only an expected head can tell
    writeLines(path, orig.slice(0, 15));
    assert.equal(verifyAuditLog(path).ok, true);
    const head = JSON.parse(orig[19]!).hash as string;
    assert.equal(verifyAuditLog(path, { expectHead: head }).problem?.kind, 'head-mismatch');
    writeLines(path, orig);
    assert.equal(verifyAuditLog(path, { expectHead: `20:${head}` }).ok, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation by size keeps one chain across files', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'audit.jsonl');
    fill(path, 120, { maxBytes: 4096 }).close();
    const rotated = rotatedFiles(path);
    assert.ok(rotated.length >= 3, `expected several rotated files, got ${rotated.length}`);
    for (const r of rotated) assert.ok(readFileSync(r.file).length <= 4096);
    let r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.equal(r.lines, 120);
    assert.equal(r.files.length, rotated.length + 1);
    // the new file's first line links to the last line of the previous one
    const firstOfActive = JSON.parse(readLines(path)[0]!);
    const lastOfPrev = JSON.parse(readLines(rotated.at(-1)!.file).at(-1)!);
    assert.equal(firstOfActive.prev, lastOfPrev.hash);
    // a rotated file in the middle deleted
    unlinkSync(rotated[1]!.file);
    r = verifyAuditLog(path);
    assert.equal(r.problem?.kind, 'deleted');
    assert.equal(r.problem?.file, rotated[2]!.file);
    assert.equal(r.problem?.line, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maxFiles prunes the oldest files; the rest still verifies', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'audit.jsonl');
    fill(path, 150, { maxBytes: 4096, maxFiles: 2 }).close();
    assert.equal(rotatedFiles(path).length, 2);
    const r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.ok(r.firstSeq! > 1);
    assert.match(r.warnings.join('\n'), /starts at seq/);
    assert.equal(r.head?.seq, 150);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn last line is reported, then cut off when the writer reopens', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'audit.jsonl');
    fill(path, 5).close();
    appendFileSync(path, '{"v":1,"seq":6,"ti');
    let r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.equal(r.lines, 5);
    assert.match(r.warnings[0]!, /incomplete/);
    const log = AuditLog.open({ path });
    assert.equal(log.head.seq, 5);
    log.write({ decision: 'deny', code: 'ERR_REPLAY' });
    log.close();
    r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.equal(r.lines, 6);
    assert.equal(r.warnings.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a writer killed with SIGKILL mid-stream loses at most the line being written', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'audit.jsonl');
    for (const maxBytes of [0, 64 * 1024]) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'writer-child.ts'), path, String(maxBytes)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      await new Promise((r) => setTimeout(r, 150));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      const r = verifyAuditLog(path);
      assert.equal(r.ok, true, r.problem?.message);
      assert.ok(r.lines >= 200);
      assert.ok(r.warnings.filter((w) => /incomplete/.test(w)).length <= 1);
    }
    // after both crashes the log still continues and verifies
    const log = AuditLog.open({ path });
    const before = log.head.seq;
    log.write({ decision: 'allow' });
    log.close();
    const r = verifyAuditLog(path);
    assert.equal(r.ok, true);
    assert.equal(r.head?.seq, before + 1);
    assert.ok(rotatedFiles(path).length >= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed write (disk full, /dev/full on Linux) is a typed ERR_UNAVAILABLE and does not advance the chain', () => {
  const log = AuditLog.open({ path: '/dev/full' });
  const before = log.head;
  assert.throws(
    () => log.write({ decision: 'allow', code: 'OK', tool: 't' } as never),
    (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE' && /ENOSPC/.test(e.message),
  );
  assert.deepEqual(log.head, before);
});

test('a rotation that fails is ERR_UNAVAILABLE and leaves the log owning only its own file descriptor', async () => {
  const { mkdirSync, openSync, writeSync, closeSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'capframe-rot-'));
  try {
    const path = join(dir, 'a.jsonl');
    const log = AuditLog.open({ path, maxBytes: 4096 });
    mkdirSync(`${path}.1`); // the rename target is a directory: rotation fails
    let err: unknown;
    for (let i = 0; i < 100 && !err; i++) {
      try {
        log.write({ allowed: true, tool: 'x'.repeat(200) });
      } catch (e) {
        err = e;
      }
    }
    assert.ok(err instanceof CapframeError && err.code === 'ERR_UNAVAILABLE', String(err));
    const other = openSync(join(dir, 'other.txt'), 'w'); // would reuse a descriptor the log had closed
    assert.throws(
      () => log.write({ allowed: true }),
      (e: unknown) => e instanceof CapframeError && e.code === 'ERR_UNAVAILABLE',
    );
    assert.equal(writeSync(other, 'hello'), 5, 'the other file is still open and its own');
    closeSync(other);
    log.close();
    assert.equal(readFileSync(join(dir, 'other.txt'), 'utf8'), 'hello');
    assert.ok(!readFileSync(path, 'utf8').includes('hello'));
    rmSync(`${path}.1`, { recursive: true });
    const r = verifyAuditLog(path);
    assert.equal(r.ok, true, JSON.stringify(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit verify: a line edited to hold what canonical JSON cannot (a lone surrogate) is reported as altered, not thrown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-surr-'));
  try {
    const path = join(dir, 'a.jsonl');
    const log = AuditLog.open({ path });
    log.write({ allowed: true, tool: 'one' });
    log.write({ allowed: true, tool: 'two' });
    log.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"tool":"two"', '"tool":"\\ud800"');
    writeFileSync(path, lines.join('\n'));
    const r = verifyAuditLog(path);
    assert.equal(r.ok, false);
    assert.equal(r.problem?.kind, 'altered');
    assert.equal(r.problem?.line, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
