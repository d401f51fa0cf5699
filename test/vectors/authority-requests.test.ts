/** Checks test/vectors/authority-requests.json (docs/spec.md §16.4) against the library, and that the generator reproduces it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { openRequest, replayKey, REQUEST_LABELS, requestStaleness } from '../../src/authority/request.ts';
import { CapframeError } from '../../src/errors.ts';
import { nobleBackend } from '../../src/crypto/noble.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import { AUTHORITY_REQUEST_VECTORS_PATH, generateAuthorityRequestVectors } from '../../scripts/vectors/authority-requests.ts';

const fileText = readFileSync(AUTHORITY_REQUEST_VECTORS_PATH, 'utf8');
const V = JSON.parse(fileText);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the generator reproduces test/vectors/authority-requests.json byte for byte', () => {
  assert.equal(generateAuthorityRequestVectors(), fileText);
});

for (const backend of [nodeBackend(), nobleBackend()]) {
  test(`every request vector opens with its fields, signed message and replay key (${backend.name})`, () => {
    for (const v of V.requests) {
      const r = openRequest(v.kind, v.text, backend);
      assert.equal(r.audience, v.fields.aud, v.name);
      assert.equal(hex(r.holder), v.fields.holder);
      assert.equal(r.profile, v.fields.profile);
      assert.equal(hex(r.nonce), v.fields.nonce);
      assert.equal(r.iat, v.fields.iat);
      assert.equal(r.exp, v.fields.exp);
      assert.equal(r.subject, v.fields.subject);
      assert.equal(r.ttl, v.fields.ttl);
      assert.equal(hex(r.payload), v.payload);
      assert.equal(hex(r.signature), v.signature);
      assert.equal(hex(Buffer.concat([REQUEST_LABELS[r.kind], r.payload])), v.signedMessage);
      assert.equal(replayKey(r), v.replayKey);
      assert.equal(r.text, v.text);
      // The same bytes open from their binary form.
      assert.equal(openRequest(v.kind, Uint8Array.from(Buffer.from(v.payload + v.signature, 'hex')), backend).text, v.text);
    }
  });

  test(`every request error vector fails with its code (${backend.name})`, () => {
    for (const v of V.requestErrors) {
      const input = v.text ?? Uint8Array.from(Buffer.from(v.hex, 'hex'));
      assert.throws(
        () => openRequest(v.kind, input, backend),
        (e: unknown) => e instanceof CapframeError && e.code === v.code,
        v.name,
      );
    }
  });
}

test('freshness: iat in the future beyond the skew, or exp past beyond it, is stale', () => {
  const r = openRequest('token', V.requests[1].text);
  assert.equal(requestStaleness(r, r.iat, 0), undefined);
  assert.equal(requestStaleness(r, r.exp, 0), undefined);
  assert.match(requestStaleness(r, r.exp + 1, 0)!, /expired/);
  assert.equal(requestStaleness(r, r.exp + 30, 30), undefined);
  assert.match(requestStaleness(r, r.iat - 31, 30)!, /future/);
});

test('fuzz: any bytes or text give a request or a typed CapframeError, never anything else', () => {
  const valid = Buffer.from(V.requests[1].payload + V.requests[1].signature, 'hex');
  const check = (kind: 'token' | 'enrolment', input: string | Uint8Array) => {
    try {
      openRequest(kind, input);
    } catch (e) {
      if (!(e instanceof CapframeError) || !['ERR_MALFORMED', 'ERR_SIGNATURE_INVALID', 'ERR_TOO_LARGE'].includes(e.code)) throw e;
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), (b, enrol) => check(enrol ? 'enrolment' : 'token', b)),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => check('token', 'cfq1.' + s)),
    { numRuns: 300 },
  );
  // Mutations of a valid request: one byte changed, truncated, or extended.
  fc.assert(
    fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = Uint8Array.from(valid);
      m[i]! ^= x;
      check('token', m);
      check('token', m.subarray(0, i));
      check('token', Buffer.concat([m, Buffer.from([x])]));
    }),
    { numRuns: 500 },
  );
});
