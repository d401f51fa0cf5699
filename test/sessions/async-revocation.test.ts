/**
 * A session call whose revocation check must be confirmed with the service
 * (a compact-form filter hit: an asynchronous answer) waits for that answer
 * and is never allowed on the spot; once the service says revoked, the call
 * is denied and the session ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, Verifier } from '../../src/index.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { BloomRevocationState } from '../../src/revocation/bloom-state.ts';
import { buildBloomFilter, buildBloomForm, bloomSize } from '../../src/revocation/bloom.ts';
import { SessionTable } from '../../src/verify/session-table.ts';
import { beginSession } from '../../src/remote/session-client.ts';
import { chainFixture } from '../revocation/helpers.ts';

const now = () => Math.floor(Date.now() / 1000);

test('session call: a revocation filter hit waits for the confirmation, is denied as revoked, and ends the session', async () => {
  const f = chainFixture();
  let asked = 0;
  const state = new BloomRevocationState({
    trusted: [f.authority.publicKey],
    confirm: async (ids) => {
      asked++;
      return { revoked: [...ids] };
    },
  });
  state.update(buildBloomForm({ version: 1, iat: now(), count: 0, bloom: buildBloomFilter(new Uint8Array(0)), subjects: [], cutoffs: [] }, f.authority).text);
  const service = generateKey();
  const table = new SessionTable({ verifier: new Verifier({ trusted: [f.authority.publicKey], revocation: state }), signer: keySigner(service) });
  const n = table.nonce('t');
  const p = beginSession(f.root, f.agent, { serviceKey: service.publicKey, nonce: n.nonce, ttl: 600 });
  const o = await table.open(p.raw);
  const s = p.finish(o.reply, o.signature);
  const call = (i: number) =>
    table.check(s.seal({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: i }, callId: `a-${i}` }).envelope);
  assert.equal((await call(1)).allowed, true);

  // The token is revoked: the next compact form's filter has every bit set.
  const { bits, hashes } = bloomSize(1000);
  state.update(
    buildBloomForm(
      { version: 2, iat: now(), count: 1000, bloom: { bits, hashes, filter: new Uint8Array(bits / 8).fill(0xff) }, subjects: [], cutoffs: [] },
      f.authority,
    ).text,
  );
  const pending = call(2);
  assert.ok(pending instanceof Promise, 'the decision waits for the service');
  const d = await pending;
  assert.equal(d.allowed, false, 'a call whose token the service confirms revoked is not allowed');
  assert.equal(d.allowed === false && d.code, 'ERR_REVOKED');
  assert.ok(asked >= 1);
  const e = await call(3);
  assert.equal(e.allowed, false);
  assert.ok(e.allowed === false && ['ERR_REVOKED', 'ERR_SESSION_UNKNOWN'].includes(e.code), 'the session ended');
});
