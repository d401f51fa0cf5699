/**
 * Test vectors of authority service requests (docs/spec.md §16.4):
 * test/vectors/authority-requests.json. Deterministic: the §11 key and nonce
 * derivations, the clock at T0, deterministic Ed25519 signatures.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../../src/crypto/node.ts';
import { importSeed } from '../../src/crypto/keys.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { encode, type CborValue } from '../../src/token/cbor.ts';
import { encodeBase64url } from '../../src/encoding/base64url.ts';
import { createRequest, replayKey, REQUEST_LABELS, REQUEST_PREFIX, type CreateRequestOptions } from '../../src/authority/request.ts';

export const T0 = 1767225600;
const backend = nodeBackend();
const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const keyOf = (name: string) => importSeed(sha(`capframe-v1 test vector key: ${name}`), backend);
const nonceOf = (name: string) => sha(`capframe-v1 test vector nonce: ${name}`).slice(0, 16);
const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
const text = (b: Uint8Array) => REQUEST_PREFIX + encodeBase64url(b);

export const AUDIENCE = 'capframe-authority:example';

export function generateAuthorityRequestVectors(): string {
  const agent = keyOf('agent');
  const mallory = keyOf('mallory');
  const base = { key: agent, audience: AUDIENCE, clock: () => T0, backend, lifetime: 60 };
  const made = (name: string, o: Omit<CreateRequestOptions, 'key' | 'audience' | 'clock' | 'backend' | 'nonce'>) => {
    const r = createRequest({ ...base, ...o, nonce: nonceOf(name) });
    return {
      name,
      kind: r.kind,
      fields: {
        aud: r.audience,
        holder: toHex(r.holder),
        profile: r.profile,
        nonce: toHex(r.nonce),
        iat: r.iat,
        exp: r.exp,
        ...(r.subject !== undefined ? { subject: r.subject } : {}),
        ...(r.ttl !== undefined ? { ttl: r.ttl } : {}),
      },
      payload: toHex(r.payload),
      signature: toHex(r.signature),
      signedMessage: toHex(cat(REQUEST_LABELS[r.kind], r.payload)),
      text: r.text,
      replayKey: replayKey(r),
    };
  };
  const enrol = made('enrolment', { kind: 'enrolment', profile: 'support', subject: 'agent:support:1' });
  const token = made('token-request', { kind: 'token', profile: 'support' });
  const tokenTtl = made('token-request-ttl', { kind: 'token', profile: 'support', ttl: 120 });
  const requests = [enrol, token, tokenTtl];

  /** A payload map signed correctly by `key` under `kind`'s label: shape errors reach the field checks. */
  const signed = (kind: 'enrolment' | 'token', m: Map<number, CborValue>, key = agent) => {
    const payload = encode(m);
    return text(cat(payload, backend.sign(key.seed, cat(REQUEST_LABELS[kind], payload))));
  };
  const fields = (extra: [number, CborValue][] = [], drop: number[] = []) => {
    const m = new Map<number, CborValue>([
      [1, AUDIENCE],
      [2, agent.publicKey],
      [3, 'support'],
      [4, nonceOf('error')],
      [5, T0],
      [6, T0 + 60],
    ]);
    for (const k of drop) m.delete(k);
    for (const [k, v] of extra) m.set(k, v);
    return m;
  };
  const tokenBytes = Buffer.from(token.payload + token.signature, 'hex');
  const flipped = Uint8Array.from(tokenBytes);
  flipped[flipped.length - 1]! ^= 1;
  const requestErrors = [
    { name: 'token-request-as-enrolment', kind: 'enrolment', text: token.text, code: 'ERR_MALFORMED', description: 'a token request has no subject' },
    { name: 'enrolment-as-token-request', kind: 'token', text: enrol.text, code: 'ERR_MALFORMED', description: 'an enrolment request has a subject' },
    {
      name: 'label-swap',
      kind: 'enrolment',
      text: signed('token', fields([[7, 'agent:support:1']])),
      code: 'ERR_SIGNATURE_INVALID',
      description: 'an enrolment payload signed under the token-request label',
    },
    { name: 'bad-signature', kind: 'token', text: text(flipped), code: 'ERR_SIGNATURE_INVALID', description: 'last signature bit flipped' },
    {
      name: 'other-key',
      kind: 'token',
      text: signed('token', fields(), mallory),
      code: 'ERR_SIGNATURE_INVALID',
      description: 'signed by a key other than the holder of key 2',
    },
    { name: 'unknown-field', kind: 'token', text: signed('token', fields([[9, 1]])), code: 'ERR_MALFORMED', description: 'key 9 is not a request field' },
    { name: 'missing-nonce', kind: 'token', text: signed('token', fields([], [4])), code: 'ERR_MALFORMED', description: 'no nonce' },
    { name: 'short-nonce', kind: 'token', text: signed('token', fields([[4, new Uint8Array(8)]])), code: 'ERR_MALFORMED', description: '8-byte nonce' },
    {
      name: 'lifetime-too-long',
      kind: 'token',
      text: signed('token', fields([[6, T0 + 301]])),
      code: 'ERR_MALFORMED',
      description: 'exp more than 300 s after iat',
    },
    { name: 'exp-before-iat', kind: 'token', text: signed('token', fields([[6, T0]])), code: 'ERR_MALFORMED', description: 'exp equal to iat' },
    { name: 'zero-ttl', kind: 'token', text: signed('token', fields([[8, 0]])), code: 'ERR_MALFORMED', description: 'ttl 0' },
    {
      name: 'weak-holder',
      kind: 'token',
      text: signed('token', fields([[2, new Uint8Array(32)]])),
      code: 'ERR_MALFORMED',
      description: 'holder is a small-order point encoding',
    },
    {
      name: 'non-canonical-cbor',
      kind: 'token',
      hex: Buffer.concat([Buffer.from([0xb9, 0x00, 0x06]), Buffer.from(token.payload, 'hex').subarray(1), Buffer.from(token.signature, 'hex')]).toString('hex'),
      code: 'ERR_MALFORMED',
      description: 'map head in a longer form than needed',
    },
    { name: 'padded-text', kind: 'token', text: token.text + '=', code: 'ERR_MALFORMED', description: 'base64url with padding' },
    { name: 'wrong-prefix', kind: 'token', text: 'cft1.' + token.text.slice(5), code: 'ERR_MALFORMED', description: 'not cfq1.' },
  ];
  const doc = {
    description: 'capframe authority service requests (docs/spec.md §16)',
    t0: T0,
    audience: AUDIENCE,
    keys: { agent: toHex(agent.publicKey), mallory: toHex(mallory.publicKey) },
    requests,
    requestErrors,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export const AUTHORITY_REQUEST_VECTORS_PATH = fileURLToPath(new URL('../../test/vectors/authority-requests.json', import.meta.url));

export function writeAuthorityRequestVectors(): void {
  writeFileSync(AUTHORITY_REQUEST_VECTORS_PATH, generateAuthorityRequestVectors());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) writeAuthorityRequestVectors();
