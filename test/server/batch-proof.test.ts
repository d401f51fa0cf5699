// Batched invocation proofs (docs/spec.md §4.4) through the verification service: /v1/verify and
// /v1/verify/batch accept them with the same decision JSON, the batch signature is verified once,
// and a Guard built from a config with `remote:` signs calls queued together as one batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tool } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { createInvocation, formatPublicKey, generateKey, issueToken, Verifier } from '../../src/index.ts';
import { createInvocationBatch } from '../../src/holder/invoke.ts';
import { nodeBackend } from '../../src/crypto/node.ts';
import { type Ed25519Backend } from '../../src/crypto/backend.ts';
import { callContext, Guard, guardTools, parseConfig } from '../../src/langchain/index.ts';
import { createVerifyService } from '../../src/server/index.ts';
import { RemoteVerifier } from '../../src/remote/client.ts';
import { encode } from '../../src/token/cbor.ts';

const authority = generateKey();
const holder = generateKey();
const token = issueToken({
  key: authority,
  subject: 'agent:support',
  holder: holder.publicKey,
  ttl: '1h',
  grants: [{ resource: 'tickets://acme/*', permissions: ['read'] }],
});

function counting(): Ed25519Backend & { verifies: number } {
  const inner = nodeBackend();
  const b = {
    verifies: 0,
    name: 'counting',
    sign: inner.sign.bind(inner),
    verify: (k: Uint8Array, m: Uint8Array, s: Uint8Array) => {
      b.verifies++;
      return inner.verify(k, m, s);
    },
  };
  return b as unknown as Ed25519Backend & { verifies: number };
}

async function withService(run: (url: string, backend: ReturnType<typeof counting>) => Promise<void>): Promise<void> {
  const backend = counting();
  const service = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey], backend }) });
  const { url } = await service.listen(0);
  try {
    await run(url, backend);
  } finally {
    await service.close();
  }
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const call = (i: number) => ({ tool: 'get_ticket', operation: 'read', resource: `tickets://acme/${i}`, args: { id: String(i) }, callId: `sb-${i}` });
const req = (proof: { toString(): string }, i: number) => ({
  token: token.toString(),
  invocation: proof.toString(),
  tool: 'get_ticket',
  operation: 'read',
  resource: `tickets://acme/${i}`,
  args: { id: String(i) },
});

test('service: batched proofs on /v1/verify and /v1/verify/batch, one signature check per batch', async () => {
  await withService(async (url, backend) => {
    const proofs = createInvocationBatch(token, holder, [0, 1, 2, 3].map(call));
    const one = await post(url, '/v1/verify', req(proofs[0]!, 0));
    assert.equal(one.status, 200);
    assert.deepEqual([one.json.allowed, one.json.mode, one.json.callId, one.json.resource], [true, 'signed', 'sb-0', 'tickets://acme/0']);
    assert.equal(backend.verifies, 2, 'the root block and the batch signature');
    const batch = await post(url, '/v1/verify/batch', { requests: [req(proofs[1]!, 1), req(proofs[2]!, 2), req(proofs[3]!, 3), req(proofs[1]!, 1)] });
    assert.equal(batch.status, 200);
    assert.deepEqual(
      batch.json.decisions.map((d: any) => (d.allowed ? d.callId : d.code)),
      ['sb-1', 'sb-2', 'sb-3', 'ERR_REPLAY'],
    );
    assert.equal(backend.verifies, 2, 'the other items of the batch cost no signature check');
    // Tampered: another index (mismatch); a flipped signature bit (invalid); another tool (mismatch).
    const p = proofs[2]!;
    const fresh = createInvocationBatch(token, holder, [10, 11].map(call));
    const wrongIndex = encode([fresh[0]!.block.payload, fresh[0]!.batch!.payload, fresh[0]!.block.signature, 1]);
    const sig = Uint8Array.from(fresh[1]!.block.signature);
    sig[0]! ^= 1;
    const flipped = encode([fresh[1]!.block.payload, fresh[1]!.batch!.payload, sig, 1]);
    const bad = await post(url, '/v1/verify/batch', {
      requests: [
        req('cfb1.' + Buffer.from(wrongIndex).toString('base64url'), 10),
        req('cfb1.' + Buffer.from(flipped).toString('base64url'), 11),
        { ...req(p, 2), tool: 'delete_ticket' },
      ],
    });
    assert.deepEqual(
      bad.json.decisions.map((d: any) => d.code),
      ['ERR_INVOCATION_MISMATCH', 'ERR_SIGNATURE_INVALID', 'ERR_INVOCATION_MISMATCH'],
    );
    // Single proofs are unchanged.
    const single = await post(url, '/v1/verify', req(createInvocation(token, { key: holder, ...call(20) }), 20));
    assert.deepEqual([single.json.allowed, single.json.callId], [true, 'sb-20']);
    // A batched text that is not CBOR is refused like any malformed proof.
    const junk = await post(url, '/v1/verify', req('cfb1.AAAA', 0));
    assert.equal(junk.json.code, 'ERR_MALFORMED');
  });
});

test('remote end to end: a Guard from config signs concurrent calls as one batch; attested tools keep single proofs', async () => {
  await withService(async (url, backend) => {
    const config = parseConfig(`trust:
  authorities:
    - ${formatPublicKey(authority.publicKey)}
audit:
  sink: none
tools:
  get_ticket:
    resource: tickets://acme/{id}
    operation: read
  read_attested:
    resource: tickets://acme/{id}
    operation: read
    attested: true
remote:
  url: ${url}
`);
    const guard = new Guard({ config, sink: null });
    assert.ok(guard.verifier instanceof RemoteVerifier);
    const proofs: string[] = [];
    let ran = 0;
    const [getTicket, readAttested] = guardTools(
      [
        tool(
          async ({ id }: { id: string }) => {
            ran++;
            return `ticket ${id}`;
          },
          { name: 'get_ticket', description: 'x', schema: z.object({ id: z.string() }) },
        ),
        tool(
          async ({ id }: { id: string }, cfg) => {
            ran++;
            proofs.push(String(callContext(cfg)?.invocation));
            return `attested ${id}`;
          },
          { name: 'read_attested', description: 'x', schema: z.object({ id: z.string() }) },
        ),
      ],
      guard,
    );
    const run = { configurable: { capframe: { token, holderKey: holder } } };
    try {
      // Ten calls made together: queued in the same event-loop turn, signed as one batch.
      const out = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => getTicket!.invoke({ type: 'tool_call', id: `g-${i}`, name: 'get_ticket', args: { id: String(i) } }, run) as Promise<ToolMessage>,
        ),
      );
      assert.deepEqual(
        out.map((m) => m.content),
        Array.from({ length: 10 }, (_, i) => `ticket ${i}`),
      );
      assert.equal(backend.verifies, 2, 'ten calls: the root block and ONE batch signature');
      // The same call again is a replay, decided by the service.
      const again = (await getTicket!.invoke({ type: 'tool_call', id: 'g-3', name: 'get_ticket', args: { id: '3' } }, run)) as ToolMessage;
      assert.equal(again.status, 'error');
      assert.match(String(again.content), /ERR_REPLAY/);
      // An attested tool gets its own single proof, which it can forward.
      const att = (await readAttested!.invoke({ type: 'tool_call', id: 'a-1', name: 'read_attested', args: { id: '5' } }, run)) as ToolMessage;
      assert.equal(att.content, 'attested 5');
      assert.equal(proofs.length, 1);
      assert.ok(proofs[0]!.startsWith('cfi1.'));
      assert.equal(ran, 11);
      // A call the holder side refuses (a resource that is not one) is denied alone; its batch mates go through.
      const rv = guard.verifier as RemoteVerifier;
      const mixed = await Promise.all(
        [30, -1, 31].map((i) => rv.verifyCall(token, { ...call(i), resource: i < 0 ? 'no scheme here' : call(i).resource }, { holderKey: holder })),
      );
      assert.deepEqual(
        mixed.map((d) => (d.allowed ? d.callId : d.code)),
        ['sb-30', 'ERR_SCOPE_RESOURCE', 'sb-31'],
      );
      assert.equal(backend.verifies, 5, 'the replayed and the attested single proofs, then one batch signature for the two good calls');
    } finally {
      await (guard.verifier as RemoteVerifier).close();
    }
  });
});

test('service: a signed batch sent apart from its items (spec §4.5) is verified exactly as the batched proofs', async () => {
  const { prepareInvocation, signBatchParts } = await import('../../src/holder/invoke.ts');
  await withService(async (url, backend) => {
    const payloads = [40, 41, 42].map((i) => prepareInvocation(token, holder, call(i)).payload);
    const { batch, signature } = signBatchParts(holder, payloads);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
    const signed = { payload: b64(batch), signature: b64(signature) };
    const item = (k: number, i: number, extra: Record<string, unknown> = {}) => ({
      token: token.toString(),
      batch: 0,
      index: k,
      item: b64(payloads[k]!),
      tool: 'get_ticket',
      operation: 'read',
      resource: `tickets://acme/${i}`,
      args: { id: String(i) },
      ...extra,
    });
    const ok = await post(url, '/v1/verify/batch', { requests: [item(0, 40), item(1, 41), item(0, 40)], batches: [signed] });
    assert.equal(ok.status, 200);
    assert.deepEqual(
      ok.json.decisions.map((d: any) => (d.allowed ? d.callId : d.code)),
      ['sb-40', 'sb-41', 'ERR_REPLAY'],
    );
    assert.equal(backend.verifies, 2, 'the root block and the batch signature, once');
    const flipped = Uint8Array.from(signature);
    flipped[5]! ^= 1;
    const bad = await post(url, '/v1/verify/batch', {
      requests: [
        { ...item(2, 42), index: 1 }, // item 2 claimed at index 1: not the listed digest
        { ...item(2, 42), batch: 1 }, // a batch with a flipped signature bit
        { ...item(2, 42), batch: 2 }, // a batch that is not base64url
        { ...item(2, 42), batch: 3 }, // no such batch
        { ...item(2, 42), args: { id: '43' } }, // other arguments than the signed ones
        { ...item(2, 42), invocation: 'cfi1.AAAA' }, // both forms at once
        { ...item(2, 42), operation: 'write' }, // another operation than the proof's
      ],
      batches: [signed, { payload: signed.payload, signature: b64(flipped) }, { payload: 'not base64!', signature: signed.signature }],
    });
    assert.equal(bad.status, 200);
    assert.deepEqual(
      bad.json.decisions.map((d: any) => d.code),
      [
        'ERR_INVOCATION_MISMATCH',
        'ERR_SIGNATURE_INVALID',
        'ERR_MALFORMED',
        'ERR_MALFORMED',
        'ERR_INVOCATION_MISMATCH',
        'ERR_MALFORMED',
        'ERR_INVOCATION_MISMATCH',
      ],
    );
    // After all those refusals the genuine item is still unused.
    const last = await post(url, '/v1/verify/batch', { requests: [item(2, 42)], batches: [signed] });
    assert.deepEqual(
      last.json.decisions.map((d: any) => (d.allowed ? d.callId : d.code)),
      ['sb-42'],
    );
    // The envelope: unknown top-level keys, batches that are not an array, too many batches.
    for (const body of [
      { requests: [item(0, 40)], batches: [signed], extra: 1 },
      { requests: [item(0, 40)], batches: signed },
      { requests: [item(0, 40)], batches: Array(65).fill(signed) },
    ]) {
      const r = await post(url, '/v1/verify/batch', body);
      assert.equal(r.status, 400);
      assert.equal(r.json.code, 'ERR_MALFORMED');
    }
  });
});

test('remote client: calls sent as a signed batch are decided by the local fallback when the service is down', async () => {
  const rv = new RemoteVerifier({ url: 'http://127.0.0.1:9', timeout: 500, fallback: new Verifier({ trusted: [authority.publicKey] }) });
  try {
    const out = await Promise.all([50, 51, 52].map((i) => rv.verifyCall(token, call(i), { holderKey: holder })));
    assert.deepEqual(
      out.map((d) => (d.allowed ? `${d.callId}:${d.mode}` : d.code)),
      ['sb-50:signed', 'sb-51:signed', 'sb-52:signed'],
    );
  } finally {
    await rv.close();
  }
});

test('remote client: a failing fallback and an answer for other arguments are denials, never rejections or allows', async () => {
  const { createServer } = await import('node:http');
  // A "service" that answers junk (mode 1) or allows with another argument digest (mode 2).
  let mode = 1;
  const srv = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      const body = JSON.parse(b);
      const reqs: any[] = body.requests ?? [body];
      const answer = (r: any) =>
        mode === 1
          ? { junk: 1 }
          : {
              allowed: true,
              mode: 'signed',
              tool: r.tool,
              operation: 'read',
              resource: `tickets://acme/${r.args.id}`,
              callId: `sb-${r.args.id}`,
              argsDigest: '00'.repeat(32),
              grant: { resource: 'tickets://acme/*', permissions: ['read'], constraints: {} },
              expiresAt: 2 ** 31,
            };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body.requests ? { decisions: reqs.map(answer) } : answer(body)));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const fallback = {
    verifyInvocation: async () => {
      throw new Error('fallback down');
    },
  };
  const rv = new RemoteVerifier({ url, timeout: 1000, fallback: fallback as never });
  const plain = new RemoteVerifier({ url, timeout: 1000 });
  try {
    const batch = await Promise.allSettled([60, 61, 62].map((i) => rv.verifyCall(token, call(i), { holderKey: holder })));
    assert.deepEqual(
      batch.map((r) => (r.status === 'fulfilled' && !r.value.allowed ? r.value.code : 'unexpected')),
      ['ERR_UNAVAILABLE', 'ERR_UNAVAILABLE', 'ERR_UNAVAILABLE'],
    );
    mode = 2;
    const other = await Promise.all([63, 64].map((i) => plain.verifyCall(token, call(i), { holderKey: holder })));
    assert.deepEqual(
      other.map((d) => (d.allowed ? 'ALLOW' : d.code)),
      ['ERR_UNAVAILABLE', 'ERR_UNAVAILABLE'],
    );
    assert.match((other[0] as { reason: string }).reason, /argsDigest differs/);
  } finally {
    await rv.close();
    await plain.close();
    await new Promise((r) => srv.close(r));
  }
});
