/**
 * Shared fixtures for the token-core tests: deterministic keys, an injected
 * clock, hand-crafted blocks (for chains that delegate() would refuse to
 * build) and a counting crypto backend. Not a test file itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CapframeError, type ErrorCode } from '../../src/errors.ts';
import {
  importSeed,
  issueToken,
  delegate,
  Token,
  Invocation,
  Verifier,
  type Allowed,
  type Decision,
  type Denied,
  type Grant,
  type PrivateKey,
  type VerifierOptions,
} from '../../src/index.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import { type Ed25519Backend } from '../../src/crypto/backend.ts';
import { encodeDelegationPayload, encodeRootPayload, type DelegationPayload, type RootPayload } from '../../src/token/block.ts';
import { encodeInvocationPayload, type InvocationPayload } from '../../src/token/invocation-payload.ts';
import { blockDigest } from '../../src/token/token.ts';
import { signedMessage } from '../../src/token/chain.ts';
import { encode } from '../../src/token/cbor.ts';

/** Every error code of src/errors.ts, read from the source so the list cannot drift. */
export const ERROR_CODES: ReadonlySet<string> = new Set(
  [
    ...readFileSync(new URL('../../src/errors.ts', import.meta.url), 'utf8')
      .split('export class')[0]!
      .matchAll(/'(ERR_[A-Z_]+)'/g),
  ].map((m) => m[1]!),
);

export const T0 = 1_800_000_000; // a fixed "now" (2027-01-15)

/** A settable clock. */
export function makeClock(start = T0): { (): number; now: number; advance(s: number): void } {
  const c = (() => c.now) as { (): number; now: number; advance(s: number): void };
  c.now = start;
  c.advance = (s: number) => {
    c.now += s;
  };
  return c;
}

/** Deterministic key from a one-byte tag (fast, reproducible). */
export function key(tag: number): PrivateKey {
  return importSeed(new Uint8Array(32).fill(tag));
}

export const backend = nodeBackend();

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Signs a root payload with the authority key and returns the token (no validity checks). */
export function craftRoot(authority: PrivateKey, payload: Uint8Array | RootPayload): Token {
  const p = payload instanceof Uint8Array ? payload : encodeRootPayload(payload);
  const sig = backend.sign(authority.seed, signedMessage('root', p, authority.kid));
  return Token.parse(encode([authority.kid, concat(p, sig)]));
}

/** Root payload fields with sensible defaults. */
export function rootPayload(over: Partial<RootPayload> & { holder: Uint8Array }): RootPayload {
  return {
    tid: new Uint8Array(randomBytes(16)),
    subject: 'agent:root',
    grants: [{ resource: 'database://users/*', permissions: ['read', 'write'] }],
    iat: T0,
    exp: T0 + 3600,
    maxDepth: 2,
    ...over,
  };
}

/**
 * Appends a hand-crafted delegation block signed by `signer` (normally the
 * parent's holder key) with the given payload fields; `parent` defaults to
 * the correct link. Bypasses every check delegate() makes.
 */
export function craftDelegation(token: Token, signer: PrivateKey, fields: (Omit<DelegationPayload, 'parent'> & { parent?: Uint8Array }) | Uint8Array): Token {
  const last = token.blocks[token.blocks.length - 1]!;
  const payload = fields instanceof Uint8Array ? fields : encodeDelegationPayload({ parent: blockDigest(last.payload), ...fields });
  const sig = backend.sign(signer.seed, signedMessage('delegation', payload));
  return Token.parse(encode([token.kid, ...token.blocks.map((b) => b.bytes), concat(payload, sig)]));
}

/** Signs an arbitrary invocation payload with `signer`. */
export function craftInvocation(signer: PrivateKey, p: InvocationPayload | Uint8Array): Invocation {
  const payload = p instanceof Uint8Array ? p : encodeInvocationPayload(p);
  const sig = backend.sign(signer.seed, signedMessage('invocation', payload));
  return Invocation.fromBlock(concat(payload, sig));
}

/** A backend that counts verify() calls (a wrapper around the real node backend, not a mock). */
export function countingBackend(inner: Ed25519Backend = nodeBackend()): Ed25519Backend & { verifies: number; reset(): void } {
  const b = {
    name: 'counting-' + inner.name,
    verifies: 0,
    reset() {
      b.verifies = 0;
    },
    publicKeyFromSeed: (seed: Uint8Array) => inner.publicKeyFromSeed(seed),
    sign: (seed: Uint8Array, m: Uint8Array) => inner.sign(seed, m),
    verify(pub: Uint8Array, m: Uint8Array, s: Uint8Array) {
      b.verifies++;
      return inner.verify(pub, m, s);
    },
  };
  return b;
}

export const AUTH = key(1);
export const ALICE = key(2); // root holder
export const BOB = key(3); // first delegate
export const CAROL = key(4); // second delegate
export const MALLORY = key(9); // an attacker's key

export const USERS_RW: Grant = { resource: 'database://users/*', permissions: ['read', 'write'] };

/** Root (ALICE) -> BOB -> CAROL, issued at the clock's time, 1 h, depth 3 at the root. */
export function chain3(clock: () => number = () => T0, grants: readonly Grant[] = [USERS_RW]): { root: Token; child: Token; grandchild: Token } {
  const root = issueToken({ key: AUTH, subject: 'agent:alice', holder: ALICE.publicKey, grants, ttl: '1h', maxDepth: 3, clock });
  const child = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', clock });
  const grandchild = delegate(child, { key: BOB, to: CAROL.publicKey, subject: 'agent:carol', permissions: ['read'], clock });
  return { root, child, grandchild };
}

export function verifier(over: Partial<VerifierOptions> = {}): Verifier {
  return new Verifier({ trusted: [AUTH.publicKey], clock: () => T0, ...over });
}

let callSeq = 0;
export function callId(): string {
  return `call-${++callSeq}`;
}

/** Asserts a denial with exactly this code, a typed error and a reason. */
export function assertDenied(d: Decision, code: ErrorCode, msg?: string): asserts d is Denied {
  assert.equal(d.allowed, false, `${msg ?? ''} expected ${code}, got allowed`);
  const den = d as Denied;
  assert.equal(den.code, code, `${msg ?? ''} expected ${code}, got ${den.code}: ${den.reason}`);
  assert.ok(den.error instanceof CapframeError, 'denial carries a CapframeError');
  assert.equal(den.error.code, code);
  assert.equal(typeof den.reason, 'string');
  assert.ok(den.reason.length > 0);
}

export function assertAllowed(d: Decision, msg?: string): asserts d is Allowed {
  assert.equal(d.allowed, true, `${msg ?? ''} denied: ${d.allowed ? '' : `${d.code} ${d.reason}`}`);
}

/** Runs fn and asserts it throws a CapframeError with this code. */
export function assertThrowsCode(fn: () => unknown, code: ErrorCode, msg?: string): CapframeError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `${msg ?? ''} expected ${code}, nothing thrown`);
  assert.ok(caught instanceof CapframeError, `${msg ?? ''} expected a CapframeError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${msg ?? ''} expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** A copy of `bytes` with one bit flipped (bit index modulo the length). */
export function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[(bit >> 3) % out.length]! ^= 1 << (bit & 7);
  return out;
}

/** A 2-block token (alice -> bob, read-only, limit <= 100) at T0 and one call inside it. */
export function twoBlockFixture() {
  const clock = () => T0;
  const root = issueToken({
    key: AUTH,
    subject: 'agent:alice',
    holder: ALICE.publicKey,
    ttl: 3600,
    maxDepth: 1,
    clock,
    grants: [{ resource: 'database://users/*', permissions: ['read', 'write'], constraints: { limit: { type: 'range', max: 100 } } }],
  });
  const token = delegate(root, { key: ALICE, to: BOB.publicKey, subject: 'agent:bob', permissions: ['read'], ttl: 600, clock });
  const CALL = { tool: 'get_user', operation: 'read', resource: 'database://users/alice', args: { limit: 10 } };
  return { clock, root, token, CALL };
}
