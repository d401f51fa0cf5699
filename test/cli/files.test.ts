// Files named on the command line are read with a cap counted while reading:
// devices and pipes report no size, so a stat check alone would read forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInput, writeCredential } from '../../src/cli/files.ts';
import { Failure, UsageError } from '../../src/cli/args.ts';
import { CapframeError } from '../../src/errors.ts';

test('readInput: /dev/zero and oversized files are ERR_TOO_LARGE; a file at the cap is read whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-files-'));
  try {
    const io = { cwd: dir } as Parameters<typeof readInput>[0];
    const tooLarge = (e: unknown) => e instanceof CapframeError && e.code === 'ERR_TOO_LARGE';
    assert.throws(() => readInput(io, '/dev/zero', 'token', 100_000), tooLarge);
    writeFileSync(join(dir, 'big.txt'), 'x'.repeat(200_001));
    assert.throws(() => readInput(io, 'big.txt', 'token', 200_000), tooLarge);
    writeFileSync(join(dir, 'ok.txt'), 'é'.repeat(100_000)); // 200,000 bytes, split across read chunks
    assert.equal(readInput(io, 'ok.txt', 'token', 200_000), 'é'.repeat(100_000));
    assert.throws(
      () => readInput(io, 'missing.txt', 'token'),
      (e: unknown) => e instanceof UsageError && /no such file/.test(e.message),
    );
    assert.throws(
      () => readInput(io, '.', 'token'),
      (e: unknown) => e instanceof UsageError && /directory/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeCredential: 0600 even over an existing 0644 file, via a rename; a failed write leaves no temporary file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-files-'));
  try {
    const io = { cwd: dir } as Parameters<typeof writeCredential>[0];
    writeFileSync(join(dir, 'a.tok'), 'old\n');
    chmodSync(join(dir, 'a.tok'), 0o644);
    writeCredential(io, 'a.tok', 'cft1.new');
    assert.equal(statSync(join(dir, 'a.tok')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'a.tok'), 'utf8'), 'cft1.new\n');
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'x'), '');
    assert.throws(
      () => writeCredential(io, 'taken', 'cft1.x'),
      (e: unknown) => e instanceof Failure && /cannot write "taken"/.test(e.message),
    );
    assert.throws(
      () => writeCredential(io, 'no/such/dir/a.tok', 'cft1.x'),
      (e: unknown) => e instanceof Failure && /no such file/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir).sort(), ['a.tok', 'taken']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
