/** The MCP credential reader (spec §4.6, §4.7) on hostile input: a typed MalformedError or MissingTokenError, never another throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CapframeError } from '../../src/errors.ts';
import { META_KEY, readCall } from '../../src/mcp/wire.ts';

const value = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.base64String({ minLength: 20, maxLength: 44 }),
);
const member = fc.constantFrom('session', 'counter', 'callId', 'exp', 'tag', 'token', 'proof', 'extra', '__proto__');
const credential = fc.oneof(fc.dictionary(member, value, { maxKeys: 7 }), value);

test('readCall: any credential shape is read or refused with a typed code, with and without sessions', () => {
  fc.assert(
    fc.property(credential, fc.boolean(), fc.boolean(), (c, sessions, inArgs) => {
      const meta = inArgs ? {} : { [META_KEY]: c };
      const args = inArgs ? { [META_KEY]: c, id: '1' } : { id: '1' };
      try {
        const r = readCall(meta, args, true, sessions);
        if (r.credential.kind === 'session') {
          assert.ok(sessions);
          assert.equal(r.credential.tag.length, 43);
          assert.ok(Number.isSafeInteger(r.credential.counter) && r.credential.counter >= 1);
        }
        assert.ok(!Object.prototype.hasOwnProperty.call(r.args, META_KEY));
      } catch (e) {
        assert.ok(e instanceof CapframeError, String(e));
        assert.ok(e.code === 'ERR_MALFORMED' || e.code === 'ERR_MISSING_TOKEN', e.code);
      }
    }),
    { numRuns: 3000 },
  );
});

test('readCall: a well-formed session call is a session credential only where sessions are taken', () => {
  const c = { session: 'A'.repeat(22), counter: 1, callId: 'c1', exp: 2_000_000_000, tag: 'B'.repeat(43) };
  assert.equal(readCall({ [META_KEY]: c }, {}, false, true).credential.kind, 'session');
  assert.throws(
    () => readCall({ [META_KEY]: c }, {}, false, false),
    (e: CapframeError) => e.code === 'ERR_MALFORMED',
  );
  assert.throws(
    () => readCall({ [META_KEY]: { ...c, token: 'cft1.x' } }, {}, false, true),
    (e: CapframeError) => e.code === 'ERR_MALFORMED',
  );
});
