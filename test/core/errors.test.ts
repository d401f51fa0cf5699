/** Every error code has its own class with the code as a static member, reachable as `errors.X`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapframeError, errors } from '../../src/index.ts';
import { errorFromCode, knownCodes, toCapframeError } from '../../src/error-codes.ts';
import type { ErrorCode } from '../../src/errors.ts';

// The union type, spelled out so that a code added to the type without a class fails here.
const ALL: Record<ErrorCode, true> = {
  ERR_MALFORMED: true,
  ERR_TOO_LARGE: true,
  ERR_SIGNATURE_INVALID: true,
  ERR_UNKNOWN_KEY: true,
  ERR_EXPIRED: true,
  ERR_NOT_YET_VALID: true,
  ERR_SCOPE_RESOURCE: true,
  ERR_SCOPE_PERMISSION: true,
  ERR_CONSTRAINT: true,
  ERR_ATTENUATION: true,
  ERR_DEPTH: true,
  ERR_INVOCATION_MISMATCH: true,
  ERR_REPLAY: true,
  ERR_REVOKED: true,
  ERR_REVOCATION_STALE: true,
  ERR_REVOCATION_ROLLBACK: true,
  ERR_INVALID_ARGUMENT: true,
  ERR_MISSING_TOKEN: true,
  ERR_NO_SCHEMA: true,
  ERR_CONFIG: true,
  ERR_UNAVAILABLE: true,
  ERR_UNAUTHORIZED: true,
  ERR_SESSION_UNKNOWN: true,
  ERR_SESSION_TAG: true,
  ERR_SESSION_COUNTER: true,
  ERR_SESSION_LIMIT: true,
  ERR_SESSION_ANSWER: true,
  ERR_LIMIT: true,
  ERR_APPROVAL_REQUIRED: true,
  ERR_INTERNAL: true,
};

test("each code has exactly one class, with a static code equal to its instances' code", () => {
  const classes = Object.values(errors).filter((v): v is typeof CapframeError => typeof v === 'function' && v !== errors.CapframeError);
  const byCode = new Map<string, string>();
  for (const C of classes) {
    assert.ok(C.prototype instanceof CapframeError, C.name);
    const e = new (C as unknown as new (m: string) => CapframeError)('x');
    assert.equal(e.code, C.code, C.name);
    assert.equal(e.name, C.name);
    assert.equal(byCode.has(C.code), false, `two classes for ${C.code}`);
    byCode.set(C.code, C.name);
  }
  assert.deepEqual([...byCode.keys()].sort(), Object.keys(ALL).sort());
  assert.deepEqual(knownCodes().sort(), Object.keys(ALL).sort());
});

test('errorFromCode gives the subclass, so instanceof works on codes that arrived as JSON', () => {
  for (const code of Object.keys(ALL) as ErrorCode[]) {
    const e = errorFromCode(code, 'm');
    assert.equal(e.code, code);
    assert.ok(e instanceof CapframeError);
    assert.notEqual(e.constructor, CapframeError, `${code} has no class of its own`);
  }
  assert.ok(errorFromCode('ERR_NO_SCHEMA', 'm') instanceof errors.NoSchemaError);
});

test('toCapframeError keeps CapframeErrors and wraps anything else with its cause', () => {
  const mine = new errors.ExpiredError('late');
  assert.equal(toCapframeError(mine), mine);
  const boom = new TypeError('boom');
  const wrapped = toCapframeError(boom, 'ERR_UNAVAILABLE');
  assert.ok(wrapped instanceof errors.UnavailableError);
  assert.equal(wrapped.cause, boom);
  assert.equal(toCapframeError('text').code, 'ERR_INTERNAL');
});
