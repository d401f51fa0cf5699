/**
 * Test vectors of approvals (docs/spec.md §15.6): test/vectors/approvals.json.
 * Deterministic like scripts/gen-vectors.ts: keys and token ids from fixed
 * strings, a fixed clock, deterministic Ed25519. test/vectors/approvals.test.ts
 * regenerates the file in memory and re-checks every vector.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../../src/crypto/node.ts';
import { formatPublicKey, importSeed, type PrivateKey } from '../../src/crypto/keys.ts';
import { keySigner } from '../../src/crypto/signer.ts';
import { concat, toHex } from '../../src/crypto/hash.ts';
import { issueToken } from '../../src/authority/issue.ts';
import { delegate } from '../../src/holder/delegate.ts';
import { signApproval } from '../../src/authority/approve.ts';
import { encode, type CborValue } from '../../src/token/cbor.ts';
import { encodeDelegationPayload, type WireGrant } from '../../src/token/block.ts';
import { approvalSignedMessage, encodeApprovalPayload, type Approval, type ApprovalPayload } from '../../src/token/approval.ts';
import { argsDigest } from '../../src/token/args.ts';
import { blockDigest, Token } from '../../src/token/token.ts';
import { decodeChain, signedMessage } from '../../src/token/chain.ts';

export const T0 = 1767225600;
const backend = nodeBackend();
const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const seedOf = (name: string) => sha(`capframe-v1 test vector key: ${name}`);
const tidOf = (name: string) => sha(`capframe-v1 test vector token id: ${name}`).slice(0, 16);
const hex = (b: Uint8Array) => toHex(b);
const at = (t: number) => () => t;

const KEY_NAMES = ['authority', 'agent', 'helper', 'approver1', 'approver2', 'approver3', 'mallory'] as const;
type KeyName = (typeof KEY_NAMES)[number];

export async function generateApprovalVectors(): Promise<string> {
  const keys = Object.fromEntries(KEY_NAMES.map((n) => [n, importSeed(seedOf(n), backend)])) as Record<KeyName, PrivateKey>;
  const pk = (n: KeyName) => keys[n].publicKey;
  const sorted = (...ns: KeyName[]) => ns.map(pk).sort((a, b) => Buffer.compare(a, b));
  const gate = (threshold: number, ...ns: KeyName[]) => ({ threshold, approvers: sorted(...ns) });

  const tokens: Record<string, unknown>[] = [];
  const tokenErrors: Record<string, unknown>[] = [];
  const byName = new Map<string, Token>();
  function addToken(name: string, description: string, t: Token): void {
    byName.set(name, t);
    const chain = decodeChain(t);
    tokens.push({ name, description, hex: hex(t.bytes), text: t.toString(), tip: hex(chain.tip), version: chain.version });
  }

  // ------------------------------------------------------------ tokens
  const sendGrant = {
    resource: 'mail://outbox/*',
    permissions: ['send'],
    tools: ['send_email'],
    approval: { approvers: ['approver1', 'approver2', 'approver3'].map((n) => formatPublicKey(pk(n as KeyName))), threshold: 2 },
  };
  const draftGrant = { resource: 'mail://drafts/*', permissions: ['write'] };
  const gated = issueToken({
    key: keys.authority,
    subject: 'agent:mailer',
    holder: pk('agent'),
    grants: [sendGrant, draftGrant],
    ttl: 3600,
    maxDepth: 2,
    clock: at(T0),
    backend,
    tokenId: tidOf('approval-gated'),
  });
  addToken('gated', 'version-2 root: send_email on mail://outbox/* needs 2 of approver1..3; drafts need nothing', gated);

  const raised = delegate(gated, {
    key: keys.agent,
    to: pk('helper'),
    subject: 'agent:mail-helper',
    grants: [{ ...sendGrant, approval: { approvers: [formatPublicKey(pk('approver1')), formatPublicKey(pk('approver2'))], threshold: 2 } }],
    clock: at(T0),
    backend,
  });
  addToken('gated-child', 'delegation keeping the gate on approver1 and approver2 only (both needed)', raised);

  // Delegations delegate() refuses, signed by hand.
  const rootPayload = gated.blocks[0]!.payload;
  function child(name: string, description: string, grant: WireGrant): void {
    const payload = encodeDelegationPayload({
      parent: blockDigest(rootPayload),
      subject: 'agent:mail-helper',
      holder: pk('helper'),
      grants: [grant],
      maxDepth: 0,
    });
    const block = concat(payload, backend.sign(keys.agent.seed, signedMessage('delegation', payload)));
    const t = encode([gated.kid, gated.blocks[0]!.bytes, block]);
    tokenErrors.push({ name, description, hex: hex(t), expect: { code: 'ERR_ATTENUATION' } });
  }
  const base = { resource: 0, permissions: ['send'], tools: ['send_email'] } as const;
  child('approval-dropped', 'child grant without the parent grant’s approval gate', { ...base });
  child('approval-widened-approvers', 'child gate adds mallory to the approvers', { ...base, approval: gate(2, 'approver1', 'approver2', 'mallory') });
  child('approval-lowered-threshold', 'child gate with threshold 1 under threshold 2', { ...base, approval: gate(1, 'approver1', 'approver2', 'approver3') });

  // Root payloads whose grant option 5 is malformed: validly signed, refused when decoded.
  const grantErrors: Record<string, unknown>[] = [];
  function badRoot(name: string, description: string, option5: CborValue, version = 2): void {
    const grant: CborValue = ['mail://outbox/*', ['send'], null, new Map<number, CborValue>([[5, option5]])];
    const payload = encode(
      new Map<number, CborValue>([
        [1, tidOf(name)],
        [2, 'agent:mailer'],
        [3, pk('agent')],
        [4, [grant]],
        [5, T0],
        [7, T0 + 3600],
        [8, 0],
        [9, version],
      ]),
    );
    const block = concat(payload, backend.sign(keys.authority.seed, signedMessage('root', payload, keys.authority.kid)));
    grantErrors.push({ name, description, hex: hex(encode([keys.authority.kid, block])), expect: { code: 'ERR_MALFORMED' } });
  }
  const three = sorted('approver1', 'approver2', 'approver3');
  badRoot('approval-threshold-zero', 'threshold 0', [0, three]);
  badRoot('approval-threshold-above-count', 'threshold 4 of 3 approvers', [4, three]);
  badRoot('approval-unsorted', 'approvers not in ascending byte order', [2, [three[2]!, three[0]!, three[1]!]]);
  badRoot('approval-duplicate', 'the same approver twice', [2, [three[0]!, three[0]!]]);
  badRoot('approval-no-approvers', 'empty approver list', [1, []]);
  badRoot('approval-short-key', 'a 31-byte approver key', [1, [three[0]!.slice(0, 31)]]);
  badRoot('approval-weak-key', 'an approver key of small order (the identity point)', [1, [Uint8Array.of(1, ...new Uint8Array(31))]]);
  badRoot('approval-not-array', 'option 5 is a map', new Map<number, CborValue>([[1, 2]]));
  badRoot('approval-three-items', 'option 5 has a third item', [1, three, true]);
  badRoot('approval-in-version-1', 'grant options (option 5) in a version-1 root', [1, three], 1);

  // ------------------------------------------------------------ approvals
  const tipGated = decodeChain(gated).tip;
  const call = {
    tool: 'send_email',
    operation: 'send',
    resource: 'mail://outbox/bob',
    args: { to: 'bob@example.com', subject: 'Q3 numbers', body: 'See attached.' },
    callId: 'call-send-1',
  };
  const approvals: Record<string, unknown>[] = [];
  const made = new Map<string, Approval>();
  async function approval(
    name: string,
    description: string,
    by: KeyName,
    o: { tip?: Uint8Array; args?: Record<string, unknown>; now?: number; ttl?: number; callId?: string } = {},
  ) {
    const a = await signApproval(
      keySigner(keys[by], backend),
      {
        tip: o.tip ?? tipGated,
        tool: call.tool,
        operation: call.operation,
        resource: call.resource,
        args: o.args ?? call.args,
        callId: o.callId ?? call.callId,
      },
      { clock: at(o.now ?? T0), ttl: o.ttl ?? 600 },
    );
    made.set(name, a);
    approvals.push({
      name,
      description,
      approver: by,
      hex: hex(a.bytes),
      text: a.toString(),
      payload: hex(a.block.payload),
      signature: hex(a.block.signature),
      signedMessage: hex(approvalSignedMessage(a.block.payload)),
    });
  }
  await approval('a1', 'approver1 approves the call (600 s)', 'approver1');
  await approval('a2', 'approver2 approves the call', 'approver2');
  await approval('a3', 'approver3 approves the call', 'approver3');
  await approval('a1-again', 'approver1 again, signed 10 s later (a second approval by the same key)', 'approver1', { now: T0 + 10 });
  await approval('a2-other-args', 'approver2 approves the call with other arguments', 'approver2', { args: { ...call.args, to: 'eve@example.com' } });
  await approval('a2-other-call', 'approver2 approves another call id', 'approver2', { callId: 'call-send-2' });
  await approval('a2-other-tip', 'approver2 approves the call for the child token', 'approver2', { tip: decodeChain(raised).tip });
  await approval('a3-short', 'approver3, lifetime 60 s', 'approver3', { ttl: 60 });
  await approval('mallory', 'mallory (not an approver) approves the call', 'mallory');
  {
    const a = made.get('a2')!;
    const sig = Uint8Array.from(a.block.signature);
    sig[0]! ^= 1;
    const bytes = encode(concat(a.block.payload, sig));
    approvals.push({ name: 'a2-bad-signature', description: 'a2 with one signature bit flipped', approver: 'approver2', hex: hex(bytes) });
  }

  // ------------------------------------------------------------ approval decoding errors
  const approvalErrors: Record<string, unknown>[] = [];
  const good: ApprovalPayload = {
    tip: tipGated,
    tool: call.tool,
    operation: call.operation,
    resource: call.resource,
    args: argsDigest(call.args),
    callId: call.callId,
    approver: pk('approver1'),
    iat: T0,
    exp: T0 + 600,
  };
  function signedBy(payload: Uint8Array, by: KeyName = 'approver1'): Uint8Array {
    return encode(concat(payload, backend.sign(keys[by].seed, approvalSignedMessage(payload))));
  }
  function approvalError(name: string, description: string, bytes: Uint8Array | string, code: string): void {
    approvalErrors.push({ name, description, ...(typeof bytes === 'string' ? { text: bytes } : { hex: hex(bytes) }), expect: { code } });
  }
  const entries = (p: ApprovalPayload): [number, CborValue][] => [
    [1, p.tip],
    [2, p.tool],
    [3, p.operation],
    [4, p.resource],
    [5, p.args],
    [6, p.callId],
    [7, p.approver],
    [8, p.iat],
    [9, p.exp],
  ];
  const mapOf = (e: [number, CborValue][]) => encode(new Map<number, CborValue>(e));
  approvalError('lifetime-too-long', 'exp = iat + 3601', signedBy(encodeApprovalPayload({ ...good, exp: T0 + 3601 })), 'ERR_MALFORMED');
  approvalError('exp-before-iat', 'exp = iat', signedBy(encodeApprovalPayload({ ...good, exp: T0 })), 'ERR_MALFORMED');
  approvalError('unknown-field', 'an extra key 10', signedBy(mapOf([...entries(good), [10, 0]])), 'ERR_MALFORMED');
  approvalError('missing-callId', 'no key 6', signedBy(mapOf(entries(good).filter(([k]) => k !== 6))), 'ERR_MALFORMED');
  approvalError(
    'resource-not-normal',
    'resource MAIL://outbox/bob (scheme not lower-case)',
    signedBy(encodeApprovalPayload({ ...good, resource: 'MAIL://outbox/bob' })),
    'ERR_MALFORMED',
  );
  approvalError(
    'approver-weak',
    'approver is the identity point',
    signedBy(encodeApprovalPayload({ ...good, approver: Uint8Array.of(1, ...new Uint8Array(31)) })),
    'ERR_MALFORMED',
  );
  approvalError('tip-15-bytes', 'a 15-byte tip', signedBy(encodeApprovalPayload({ ...good, tip: tipGated.slice(0, 15) })), 'ERR_MALFORMED');
  {
    const p = encodeApprovalPayload(good);
    const nonMinimal = concat(p.slice(0, p.length - 5), Uint8Array.of(0x1b, 0, 0, 0, 0), p.slice(p.length - 4));
    approvalError('noncanonical-exp', 'exp encoded with 8 bytes instead of 4', signedBy(nonMinimal), 'ERR_MALFORMED');
  }
  approvalError('not-a-bstr', 'the approval is an array, not a byte string', encode([encodeApprovalPayload(good), new Uint8Array(64)]), 'ERR_MALFORMED');
  approvalError('trailing-byte', 'one byte after the byte string', concat(signedBy(encodeApprovalPayload(good)), Uint8Array.of(0)), 'ERR_MALFORMED');
  approvalError('too-short', 'content of 64 bytes (no payload)', encode(new Uint8Array(64)), 'ERR_MALFORMED');
  approvalError('too-large', '4097 bytes', encode(new Uint8Array(4094)), 'ERR_TOO_LARGE');
  approvalError('wrong-prefix', 'cfi1. prefix', 'cfi1.' + made.get('a1')!.toString().slice(5), 'ERR_MALFORMED');

  // ------------------------------------------------------------ calls
  const calls: Record<string, unknown>[] = [];
  function addCall(
    name: string,
    description: string,
    token: string,
    use: string[],
    now: number,
    expect: Record<string, unknown>,
    c: Record<string, unknown> = call,
  ) {
    calls.push({ name, description, token, call: c, approvals: use, now, expect });
  }
  const need = (got: number, n = 2) => ({ allowed: false, code: 'ERR_APPROVAL_REQUIRED', got, need: n });
  addCall('none', 'no approval: required, 0 of 2', 'gated', [], T0 + 1, need(0));
  addCall('one', 'one approval: still required, 1 of 2', 'gated', ['a1'], T0 + 1, need(1));
  addCall('two', 'two distinct approvers: allowed', 'gated', ['a1', 'a2'], T0 + 1, { allowed: true });
  addCall('same-twice', 'approver1 twice (two different approvals): counts once', 'gated', ['a1', 'a1-again'], T0 + 11, need(1));
  addCall('other-args', 'approver2’s approval is for other arguments: ignored', 'gated', ['a1', 'a2-other-args'], T0 + 1, need(1));
  addCall('other-call', 'approver2’s approval names another call id: ignored', 'gated', ['a1', 'a2-other-call'], T0 + 1, need(1));
  addCall('other-tip', 'approver2’s approval is for another token: ignored', 'gated', ['a1', 'a2-other-tip'], T0 + 1, need(1));
  addCall('not-approver', 'mallory is not an approver: ignored', 'gated', ['a1', 'mallory'], T0 + 1, need(1));
  addCall('bad-signature', 'approver2’s approval with a flipped signature bit: ignored', 'gated', ['a1', 'a2-bad-signature'], T0 + 1, need(1));
  addCall('expired', 'approver3’s 60 s approval checked at T0+90 (skew 30): ignored', 'gated', ['a1', 'a3-short'], T0 + 90, need(1));
  addCall('within-skew', 'approver3’s 60 s approval checked at T0+89: counts', 'gated', ['a1', 'a3-short'], T0 + 89, { allowed: true });
  addCall(
    'ungated-grant',
    'a call under the drafts grant needs no approval',
    'gated',
    [],
    T0 + 1,
    { allowed: true },
    {
      tool: 'save_draft',
      operation: 'write',
      resource: 'mail://drafts/d1',
      args: { body: 'hi' },
      callId: 'call-draft-1',
    },
  );
  addCall(
    'child-needs-both',
    'child gate (approver1 and approver2, both): approver1 + approver3 satisfy the root but not the child',
    'gated-child',
    ['c1', 'c3'],
    T0 + 1,
    need(1),
  );
  addCall('child-both', 'child gate: approver1 + approver2', 'gated-child', ['c1', 'c2'], T0 + 1, { allowed: true });
  const tipChild = decodeChain(raised).tip;
  await approval('c1', 'approver1 approves the call made with gated-child', 'approver1', { tip: tipChild });
  await approval('c2', 'approver2 approves the call made with gated-child', 'approver2', { tip: tipChild });
  await approval('c3', 'approver3 approves the call made with gated-child', 'approver3', { tip: tipChild });

  const doc = {
    description: 'capframe approvals (docs/spec.md §15): format version 2 grants with option 5, signed approvals, and calls',
    clock: { t0: T0, clockSkew: 30 },
    keys: Object.fromEntries(KEY_NAMES.map((n) => [n, { seed: hex(keys[n].seed), publicKey: hex(pk(n)), publicKeyText: formatPublicKey(pk(n)) }])),
    tokens,
    tokenErrors,
    grantErrors,
    approvals,
    approvalErrors,
    calls,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export const APPROVAL_VECTORS_PATH = fileURLToPath(new URL('../../test/vectors/approvals.json', import.meta.url));

/** Writes test/vectors/approvals.json (called by scripts/gen-vectors.ts and when run directly). */
export async function writeApprovalVectors(): Promise<void> {
  writeFileSync(APPROVAL_VECTORS_PATH, await generateApprovalVectors());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeApprovalVectors();
  console.log(`wrote ${APPROVAL_VECTORS_PATH}`);
}
