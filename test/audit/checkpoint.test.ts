import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../src/audit/index.ts';
import { hashRecord } from '../../src/audit/record.ts';
import { generateKey } from '../../src/index.ts';
import { formatPublicKey } from '../../src/crypto/keys.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { canonicalJson } from '../../src/token/args.ts';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/command.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const readLines = (p: string) => readFileSync(p, 'utf8').split('\n').slice(0, -1);
const writeLines = (p: string, ls: string[]) => writeFileSync(p, ls.map((l) => l + '\n').join(''));

/** 5 lines, checkpoint (seq 6, at 5) at T0; 5 lines, checkpoint (seq 12, at 11) at T0+60 s; 2 lines. */
async function signedLog(dir: string, key = generateKey()) {
  const path = join(dir, 'a.jsonl');
  let now = T0;
  const log = AuditLog.open({ path, now: () => now, checkpoint: { signer: keySigner(key), everyLines: 1_000_000, everySeconds: 0 } });
  const write = (n: number, from: number) => {
    for (let i = from; i < from + n; i++)
      log.write({ decision: i % 2 ? 'allow' : 'deny', code: 'ERR_SCOPE_RESOURCE', tool: 't', subject: 'agent:a', callId: `c${i}` });
  };
  write(5, 0);
  await log.checkpoint();
  now += 60_000;
  write(5, 5);
  await log.checkpoint();
  write(2, 10);
  log.close();
  return { path, key };
}

test('checkpoints: a signed log verifies, and the result says which lines a signature covers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const { path, key } = await signedLog(dir);
    const lines = readLines(path);
    assert.equal(lines.length, 14);
    const cp = JSON.parse(lines[11]!) as Record<string, unknown>;
    assert.equal(cp.type, 'checkpoint');
    assert.equal(cp.at, 11);
    assert.equal(cp.seq, 12);
    const r = verifyAuditLog(path, { trust: [key.publicKey], now: T0 + 70_000, maxCheckpointAge: 30 });
    assert.equal(r.ok, true, r.problem?.message);
    assert.deepEqual(r.checkpoint, { seq: 12, at: 11, time: new Date(T0 + 60_000).toISOString() });
    assert.equal(r.uncovered, 2);
    // Without keys the checkpoint lines are ordinary chain links.
    assert.equal(verifyAuditLog(path).ok, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints: cutting off the end (with its checkpoint) is detected by the checkpoint age; the bare chain cannot see it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const { path, key } = await signedLog(dir);
    writeLines(path, readLines(path).slice(0, 9));
    assert.equal(verifyAuditLog(path).ok, true, 'a hash chain alone accepts its own truncation');
    const r = verifyAuditLog(path, { trust: [key.publicKey], now: T0 + 70_000, maxCheckpointAge: 30 });
    assert.equal(r.ok, false);
    assert.equal(r.problem?.kind, 'stale-checkpoint');
    const u = verifyAuditLog(path, { trust: [key.publicKey], maxUncovered: 2 });
    assert.equal(u.problem?.kind, 'stale-checkpoint');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints: a chain rewritten consistently from an early line is caught by the signed head', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const { path, key } = await signedLog(dir);
    const lines = readLines(path);
    // Rewrite line 3 (deny -> allow) and re-hash every later line: the bare chain is consistent again.
    let prev: string | undefined;
    const out = lines.map((l, i) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      delete o.hash;
      if (i === 2) {
        o.decision = 'allow';
        o.code = null;
      }
      if (prev !== undefined && i > 2) o.prev = prev;
      const hash = hashRecord(o as never);
      prev = hash;
      return canonicalJson({ ...o, hash });
    });
    writeLines(path, out);
    assert.equal(verifyAuditLog(path).ok, true, 'a rewritten chain verifies on its own');
    const r = verifyAuditLog(path, { trust: [key.publicKey] });
    assert.equal(r.ok, false);
    assert.equal(r.problem?.kind, 'bad-checkpoint');
    assert.equal(r.problem?.seq, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints: another key, a tampered signature or no checkpoint at all is refused when keys are trusted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const { path, key } = await signedLog(dir);
    assert.equal(verifyAuditLog(path, { trust: [generateKey().publicKey] }).problem?.kind, 'bad-checkpoint');
    const lines = readLines(path);
    const o = JSON.parse(lines[5]!) as Record<string, unknown>;
    delete o.hash;
    o.sig = (o.sig as string).slice(0, -4) + ((o.sig as string).endsWith('AAAA') ? 'BBBB' : 'AAAA');
    lines[5] = canonicalJson({ ...o, hash: hashRecord(o as never) });
    // re-link the next line so only the signature is wrong
    const n = JSON.parse(lines[6]!) as Record<string, unknown>;
    delete n.hash;
    n.prev = (JSON.parse(lines[5]) as { hash: string }).hash;
    lines[6] = canonicalJson({ ...n, hash: hashRecord(n as never) });
    const first7 = lines.slice(0, 7);
    writeLines(path, first7);
    const r = verifyAuditLog(path, { trust: [key.publicKey] });
    assert.equal(r.problem?.kind, 'bad-checkpoint');

    const plain = join(dir, 'plain.jsonl');
    const log = AuditLog.open({ path: plain });
    log.write({ decision: 'allow', tool: 't' });
    log.close();
    assert.equal(verifyAuditLog(plain, { trust: [key.publicKey] }).problem?.kind, 'no-checkpoint');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints: the writer signs every N lines on its own, and reopening continues the chain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const key = generateKey();
    const path = join(dir, 'b.jsonl');
    let log = AuditLog.open({ path, checkpoint: { signer: keySigner(key), everyLines: 4, everySeconds: 0 } });
    for (let i = 0; i < 10; i++) {
      log.write({ decision: 'allow', tool: 't', callId: `c${i}` });
      await new Promise((r) => setImmediate(r)); // let the signature land between lines
    }
    await log.checkpoint();
    assert.ok(log.lastCheckpoint);
    log.close();
    log = AuditLog.open({ path });
    log.write({ decision: 'deny', code: 'ERR_REPLAY', tool: 't' });
    log.close();
    const r = verifyAuditLog(path, { trust: [key.publicKey], maxUncovered: 4 });
    assert.equal(r.ok, true, r.problem?.message);
    const kinds = readLines(path).map((l) => (JSON.parse(l) as { type?: string }).type ?? 'decision');
    assert.ok(kinds.filter((k) => k === 'checkpoint').length >= 3, kinds.join(','));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('capframe audit verify --trust: reports the signed range, and fails on a stale checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cp-'));
  try {
    const { key } = await signedLog(dir);
    const out: string[] = [];
    const io: Io = { stdout: (t) => void out.push(t), stderr: () => {}, env: {}, cwd: dir };
    assert.equal(await main(['audit', 'verify', 'a.jsonl', '--trust', formatPublicKey(key.publicKey)], io), 0);
    assert.match(out.join(''), /signed: every line through seq 11 \(checkpoint at seq 12, /);
    out.length = 0;
    // The checkpoints were made at 2026-12-01: today they are far older than 2 minutes.
    assert.equal(await main(['audit', 'verify', 'a.jsonl', '--trust', formatPublicKey(key.publicKey), '--max-age', '2m'], io), 1);
    assert.match(out.join(''), /stale-checkpoint/);
    out.length = 0;
    assert.equal(await main(['audit', 'verify', 'a.jsonl', '--max-age', '2m'], io), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
