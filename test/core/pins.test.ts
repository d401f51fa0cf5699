/**
 * Rules pinned in the spec for independent implementations (docs/spec.md
 * §3.0, §3.2, §3.3, §4.3, §6, §8, §9), checked through the public API. The
 * byte-level cases are in the vectors (test/vectors.test.ts); these cover the
 * issuing and delegating side and the verifier's clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argsDigest, CapframeError, delegate, issueToken, Token, Verifier, type Grant } from '../../src/index.ts';
import { MemoryReplayStore } from '../../src/verify/replay.ts';
import { T0, key } from './helpers.ts';

const AUTH = key(1);
const ALICE = key(2);
const BOB = key(3);
const isCode = (code: string) => (e: unknown) => e instanceof CapframeError && e.code === code;
const issue = (grants: Grant[], extra: Record<string, unknown> = {}) =>
  issueToken({ key: AUTH, subject: 'agent:a', holder: ALICE.publicKey, grants, ttl: 3600, maxDepth: 2, clock: () => T0, ...extra });

test('§3.2: a grant listed twice is refused when issuing', () => {
  const g = { resource: 'db://users/*', permissions: ['read'] };
  assert.throws(() => issue([g, g]), isCode('ERR_INVALID_ARGUMENT'));
  assert.throws(() => issue([g, { ...g, permissions: ['read', 'read'] }]), isCode('ERR_INVALID_ARGUMENT'), 'same after canonical permissions');
  issue([g, { ...g, permissions: ['write'] }]); // different permissions: two grants
});

test('§6: duplicate oneOf values, empty glob/prefix and control characters in constraint strings are refused', () => {
  const r = 'db://users/*';
  const bad: Record<string, unknown>[] = [
    { x: { type: 'oneOf', values: ['a', 'a'] } },
    { x: { type: 'oneOf', values: [1, 1] } },
    { x: { type: 'glob', pattern: '' } },
    { x: { type: 'prefix', prefix: '' } },
    { x: { type: 'exact', value: 'a\nb' } },
    { x: { type: 'glob', pattern: '*\u0085' } },
    { x: { type: 'prefix', prefix: '\u007f' } },
  ];
  for (const constraints of bad) {
    assert.throws(
      () => issue([{ resource: r, permissions: ['read'], constraints: constraints as Grant['constraints'] }]),
      isCode('ERR_INVALID_ARGUMENT'),
      JSON.stringify(constraints),
    );
  }
  issue([{ resource: r, permissions: ['read'], constraints: { x: { type: 'exact', value: '' } } }]); // an empty exact value is a value
});

test('§3.3: delegate() refuses a child that could never be valid', () => {
  const late = issue([{ resource: 'db://users/*', permissions: ['read'] }], { notBefore: T0 + 1000 });
  assert.throws(
    () => delegate(late, { key: ALICE, to: BOB.publicKey, subject: 'agent:b', expiresAt: T0 + 900, clock: () => T0 }),
    isCode('ERR_INVALID_ARGUMENT'),
  );
  delegate(late, { key: ALICE, to: BOB.publicKey, subject: 'agent:b', expiresAt: T0 + 1100, clock: () => T0 });
});

test('§3.0: a small-order key is refused as a holder when issuing and delegating', () => {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  assert.throws(
    () => issueToken({ key: AUTH, subject: 'a', holder: identity, grants: [{ resource: 'db://a', permissions: ['r'] }], ttl: 60 }),
    isCode('ERR_INVALID_ARGUMENT'),
  );
  const t = issue([{ resource: 'db://users/*', permissions: ['read'] }]);
  assert.throws(() => delegate(t, { key: ALICE, to: identity, subject: 'b', clock: () => T0 }), isCode('ERR_INVALID_ARGUMENT'));
});

test('§8: only HT, LF, CR and SP around a text form are ignored', () => {
  const t = issue([{ resource: 'db://users/*', permissions: ['read'] }]);
  const text = t.toString();
  assert.equal(Token.parse(` \t\r\n${text}\n\t `).toString(), text);
  for (const ws of ['\u000b', '\u000c', '\u00a0', '\ufeff', '\u2028', '\u3000']) {
    assert.throws(() => Token.parse(ws + text), isCode('ERR_MALFORMED'), JSON.stringify(ws));
  }
  assert.throws(() => Token.parse(text + ' '.repeat(64 + 16384 * 2)), isCode('ERR_TOO_LARGE'));
});

test('§4.3: nesting depth counts from the top-level object (depth 0); a value at depth 65 is refused', () => {
  const nest = (d: number) => {
    let v: unknown = 1;
    for (let i = 0; i < d; i++) v = { a: v };
    return v;
  };
  argsDigest(nest(64));
  assert.throws(() => argsDigest(nest(65)), isCode('ERR_INVALID_ARGUMENT'));
});

test('§9: the verifier takes now in whole seconds (a sub-second clock is floored)', async () => {
  const t = issue([{ resource: 'db://users/*', permissions: ['read'] }]);
  const seen: number[] = [];
  class Spy extends MemoryReplayStore {
    override checkAndRecord(k: string, expiresAt: number, now: number) {
      seen.push(expiresAt, now);
      return super.checkAndRecord(k, expiresAt, now);
    }
  }
  const v = new Verifier({ trusted: [AUTH.publicKey], clock: () => T0 + 0.75, replay: new Spy() });
  const d = await v.authorize(t, { tool: 'get', operation: 'read', resource: 'db://users/a', args: {}, callId: 'c1' });
  assert.equal(d.allowed, true);
  assert.ok(seen.length === 2 && seen.every(Number.isInteger), `replay store saw ${seen}`);
});
