/**
 * Checks every case of test/vectors/capframe-v1.json (docs/spec.md §11) with
 * the library, on both crypto backends, and that the generator reproduces the
 * file byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { argsDigest, formatPublicKey, importSeed, Invocation, Token, Verifier } from '../src/index.ts';
import { canonicalJson } from '../src/token/args.ts';
import { kidToString } from '../src/crypto/keys.ts';
import { nobleBackend } from '../src/crypto/noble.ts';
import { nodeBackend } from '../src/crypto/node.ts';
import { normalizeResource } from '../src/token/resource.ts';
import { type Ed25519Backend } from '../src/crypto/backend.ts';
import { type CapframeError } from '../src/errors.ts';
import { parsePattern, matchResource } from '../src/token/resource.ts';
import { generateVectors, VECTORS_PATH } from '../scripts/gen-vectors.ts';

const fileText = readFileSync(VECTORS_PATH, 'utf8');
const V = JSON.parse(fileText);
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const backends: Ed25519Backend[] = [nodeBackend(), nobleBackend()];
const pub = (name: string) => hex(V.keys[name].publicKey);
const tokenHex = new Map<string, string>(V.tokens.map((t: { name: string; hex: string }) => [t.name, t.hex]));

type Expect = { allowed: true } | { allowed: false; code: string };

test('the generator reproduces test/vectors/capframe-v1.json byte for byte', () => {
  assert.equal(generateVectors(), fileText);
});

test('vector file has the documented shape and counts', () => {
  assert.equal(V.format, 'capframe-v1-test-vectors');
  assert.ok(V.tokens.length >= 9);
  assert.ok(V.tokenErrors.length >= 40);
  assert.ok(V.calls.length >= 60);
  const codes = new Set(
    [...V.tokenErrors, ...V.calls].flatMap((c: { expect: Expect | Expect[] }) => [c.expect].flat()).map((e: Expect) => (e.allowed ? 'OK' : e.code)),
  );
  for (const c of [
    'ERR_SIGNATURE_INVALID',
    'ERR_UNKNOWN_KEY',
    'ERR_ATTENUATION',
    'ERR_DEPTH',
    'ERR_MALFORMED',
    'ERR_TOO_LARGE',
    'ERR_EXPIRED',
    'ERR_NOT_YET_VALID',
    'ERR_SCOPE_RESOURCE',
    'ERR_SCOPE_PERMISSION',
    'ERR_CONSTRAINT',
    'ERR_INVOCATION_MISMATCH',
    'ERR_REPLAY',
    'OK',
  ]) {
    assert.ok(codes.has(c), `no vector expects ${c}`);
  }
});

for (const backend of backends) {
  test(`[${backend.name}] keys: seed -> public key, kid, text forms`, () => {
    for (const [name, k] of Object.entries<Record<string, string>>(V.keys)) {
      const key = importSeed(hex(k.seed!), backend);
      assert.equal(toHex(key.publicKey), k.publicKey, name);
      assert.equal(toHex(key.kid), k.kid, name);
      assert.equal(formatPublicKey(key.publicKey), k.publicKeyText, name);
      assert.equal(kidToString(key.kid), k.kidText, name);
    }
  });

  test(`[${backend.name}] valid tokens verify and decode to the expected chain`, () => {
    for (const t of V.tokens) {
      const tok = Token.parse(hex(t.hex));
      assert.equal(tok.toString(), t.text, t.name);
      assert.equal(toHex(Token.parse(t.text).bytes), t.hex, t.name);
      assert.equal(tok.bytes.length, t.bytes);
      t.blocks.forEach((b: { payload: string; signature: string; signedMessage: string; signer: string }, i: number) => {
        assert.equal(toHex(tok.blocks[i]!.payload), b.payload);
        assert.equal(toHex(tok.blocks[i]!.signature), b.signature);
        // The signature is checked directly over the documented message.
        assert.equal(backend.verify(pub(b.signer), hex(b.signedMessage), hex(b.signature)), true, `${t.name} block ${i}`);
      });
      const v = new Verifier({ trusted: [pub('authority'), pub('authority2')], backend, clock: () => V.clock.t0 });
      const chain = v.verifyToken(tok);
      assert.deepEqual([...chain.ids], t.expect.chainIds, t.name);
      assert.equal(chain.subject, t.expect.subject);
      assert.equal(toHex(chain.holder), V.keys[t.expect.holder].publicKey);
      assert.equal(toHex(chain.tip), t.expect.tip);
      assert.equal(chain.exp, t.expect.exp);
      assert.equal(chain.nbf, t.expect.nbf);
      const last = chain.blocks[chain.blocks.length - 1]!;
      assert.deepEqual(
        JSON.parse(
          JSON.stringify(
            last.grants.map((g) => ({
              resource: g.resource,
              permissions: g.permissions,
              ...(g.constraints ? { constraints: g.constraints } : {}),
              ...(g.tools ? { tools: g.tools } : {}),
              ...(g.closed ? { closed: true } : {}),
            })),
          ),
        ),
        t.expect.grants,
      );
      assert.equal(chain.version, t.expect.version, t.name);
    }
  });

  test(`[${backend.name}] every invalid token is refused with its code`, () => {
    for (const c of V.tokenErrors) {
      const v = new Verifier({
        trusted: c.trusted.map(pub),
        backend,
        clock: () => V.clock.t0,
        ...(c.maxDepth !== undefined ? { maxDepth: c.maxDepth } : {}),
      });
      let code = 'NONE';
      try {
        v.verifyToken(c.text ?? hex(c.hex));
      } catch (e) {
        code = (e as CapframeError).code;
      }
      assert.equal(code, c.expect.code, `${c.name}: ${c.description}`);
    }
  });

  test(`[${backend.name}] every call reaches the expected decision (signed and in-process)`, async () => {
    const byName = new Map<string, { invocation: { hex: string }; expected: unknown }>(V.calls.map((c: { name: string }) => [c.name, c]));
    for (const c of V.calls) {
      const v = new Verifier({
        trusted: (c.trusted ?? ['authority']).map(pub),
        backend,
        clock: () => c.now,
        clockSkew: V.clock.clockSkew,
        invocationWindow: V.clock.invocationWindow,
      });
      const token = hex(tokenHex.get(c.token)!);
      const run = async (cc: typeof c) =>
        cc.mode === 'signed' ? v.verifyInvocation(token, Invocation.parse(hex(cc.invocation.hex)), cc.expected) : v.authorize(token, cc.call);
      if (c.after) {
        const first = await run(byName.get(c.after) as typeof c);
        assert.equal(first.allowed, true, `${c.name}: setup ${c.after}`);
      }
      for (const [i, want] of (c.expect as Expect[]).entries()) {
        const d = await run(c);
        const got = d.allowed ? 'allowed' : d.code;
        assert.equal(got, want.allowed ? 'allowed' : want.code, `${c.name} (attempt ${i + 1}): ${c.description}${d.allowed ? '' : ` -> ${d.reason}`}`);
        assert.equal(d.mode, c.mode);
      }
      if (c.invocation?.text) assert.equal(Invocation.parse(c.invocation.text).toString(), c.invocation.text);
    }
  });
}

test('argument digests: RFC 8785 text and SHA-256 digest; refused arguments', () => {
  for (const a of V.argDigests) {
    assert.equal(canonicalJson(a.args), a.jcs);
    assert.equal(toHex(argsDigest(a.args)), a.digest);
  }
  assert.ok(V.argErrors.length >= 1);
  for (const a of V.argErrors)
    assert.throws(
      () => argsDigest(a.args),
      (e: CapframeError) => e.code === a.code,
      a.description,
    );
});

for (const backend of backends) {
  test(`[${backend.name}] Ed25519 acceptance rule (spec §3.0): every signature edge case`, () => {
    assert.ok(V.signatures.length >= 9);
    for (const s of V.signatures) {
      assert.equal(backend.verify(hex(s.publicKey), hex(s.message), hex(s.signature)), s.valid, `${s.name}: ${s.description}`);
    }
  });
}

test('resource normalisation and pattern matching', () => {
  for (const r of V.resources) {
    if (r.normal !== undefined) assert.equal(normalizeResource(r.input), r.normal, r.input);
    else
      assert.throws(
        () => normalizeResource(r.input),
        (e: CapframeError) => e.code === r.code,
        r.input,
      );
  }
  for (const m of V.matches) assert.equal(matchResource(parsePattern(m.pattern), m.resource), m.match, `${m.pattern} ~ ${m.resource}`);
});

test('revocation vectors: snapshots and deltas applied in order give the expected outcomes and state (spec §10.10)', async () => {
  const { RevocationState } = await import('../src/revocation/state.ts');
  const R = V.revocation;
  for (const backend of backends) {
    const state = new RevocationState({ trusted: R.trust.map(pub), clock: () => R.now, backend });
    for (const step of R.steps as { name: string; kind: string; text: string; expect: { outcome?: string; version?: number; code?: string } }[]) {
      const apply = () => (step.kind === 'snapshot' ? state.update(step.text) : state.applyDelta(step.text));
      if (step.expect.code) {
        assert.throws(apply, { code: step.expect.code }, step.name);
      } else {
        const r = apply();
        assert.deepEqual([r.outcome, r.version], [step.expect.outcome, step.expect.version], step.name);
      }
    }
    for (const [name, v] of Object.entries(R.final.versions as Record<string, number>)) {
      assert.equal(state.versionOf(V.keys[name].kidText), v, name);
    }
    for (const id of R.final.revoked) assert.equal(state.isRevokedId(id), true, id);
    for (const id of R.final.notRevoked) assert.equal(state.isRevokedId(id), false, id);
  }
});
