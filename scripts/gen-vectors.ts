/**
 * Generates the deterministic wire-format test vectors test/vectors/capframe-v1.json
 * (docs/spec.md §11). Run: `npm run vectors`.
 *
 * Everything is derived from fixed inputs: key seeds, token ids and nonces are
 * SHA-256 of fixed strings, the clock is fixed, and Ed25519 signatures are
 * deterministic. Re-running must reproduce the file byte for byte
 * (test/vectors.test.ts checks this).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../src/crypto/node.ts';
import { importSeed, formatPublicKey, kidToString, type PrivateKey } from '../src/crypto/keys.ts';
import { toHex } from '../src/crypto/hash.ts';
import { issueToken, type IssueOptions } from '../src/authority/issue.ts';
import { delegate, type DelegateOptions } from '../src/holder/delegate.ts';
import { createInvocation, createInvocationBatch, type InvocationOptions } from '../src/holder/invoke.ts';
import { encode, type CborValue } from '../src/token/cbor.ts';
import { encodeDelegationPayload, encodeRootPayload, KEY, type DelegationPayload, type Grant, type RootPayload } from '../src/token/block.ts';
import { encodeInvocationPayload, type InvocationPayload } from '../src/token/invocation-payload.ts';
import { argsDigest, canonicalJson } from '../src/token/args.ts';
import { blockDigest, Token } from '../src/token/token.ts';
import { decodeChain, signedMessage } from '../src/token/chain.ts';
import { normalizeResource, parsePattern, matchResource } from '../src/token/resource.ts';
import { toCapframeError } from '../src/error-codes.ts';
import { buildSnapshot } from '../src/revocation/snapshot.ts';
import { buildDelta } from '../src/revocation/delta.ts';
import { ed25519EdgeCases, identityRSignature } from './ed25519-edges.ts';
import { writeSessionVectors } from './vectors/sessions.ts';
import { writeAuthorityRequestVectors } from './vectors/authority-requests.ts';

/** The fixed clock: 2026-01-01T00:00:00Z. */
export const T0 = 1767225600;
const backend = nodeBackend();

const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
const seedOf = (name: string) => sha(`capframe-v1 test vector key: ${name}`);
const tidOf = (name: string) => sha(`capframe-v1 test vector token id: ${name}`).slice(0, 16);
const nonceOf = (name: string) => sha(`capframe-v1 test vector nonce: ${name}`).slice(0, 16);
const hex = (b: Uint8Array) => toHex(b);
const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
const at = (t: number) => () => t;

type Expect = { allowed: true } | { allowed: false; code: string };

export function generateVectors(): string {
  // ---------------------------------------------------------------- keys
  const KEY_NAMES = ['authority', 'authority2', 'agent', 'helper', 'sub', 'mallory'] as const;
  type KeyName = (typeof KEY_NAMES)[number];
  const keys = Object.fromEntries(KEY_NAMES.map((n) => [n, importSeed(seedOf(n), backend)])) as Record<KeyName, PrivateKey>;
  const keyName = new Map<string, KeyName>(KEY_NAMES.map((n) => [hex(keys[n].publicKey), n]));

  const tokens: Record<string, unknown>[] = [];
  const tokenErrors: Record<string, unknown>[] = [];
  const calls: Record<string, unknown>[] = [];
  const byName = new Map<string, Token>();

  // ---------------------------------------------------------------- helpers
  function issue(name: string, o: Omit<IssueOptions, 'key' | 'clock' | 'backend' | 'tokenId'> & { key?: KeyName; now?: number }): Token {
    const { key = 'authority', now = T0, ...rest } = o;
    return issueToken({ ...rest, key: keys[key], clock: at(now), backend, tokenId: tidOf(name) });
  }
  function deleg(parent: Token, o: Omit<DelegateOptions, 'key' | 'to' | 'clock' | 'backend'> & { key: KeyName; to: KeyName; now?: number }): Token {
    const { key, to, now = T0, ...rest } = o;
    return delegate(parent, { ...rest, key: keys[key], to: keys[to].publicKey, clock: at(now), backend });
  }
  function addToken(name: string, description: string, t: Token): void {
    byName.set(name, t);
    const chain = decodeChain(t);
    tokens.push({
      name,
      description,
      hex: hex(t.bytes),
      text: t.toString(),
      bytes: t.bytes.length,
      kid: hex(t.kid),
      blocks: t.blocks.map((b, i) => {
        const c = chain.blocks[i]!;
        const signer = i === 0 ? keyNameOfKid(t.kid) : keyName.get(hex(chain.blocks[i - 1]!.holder));
        return {
          kind: c.kind,
          id: c.id,
          digest: hex(blockDigest(b.payload)),
          signer,
          holder: keyName.get(hex(c.holder)),
          payload: hex(b.payload),
          signature: hex(b.signature),
          signedMessage: hex(i === 0 ? signedMessage('root', b.payload, t.kid) : signedMessage('delegation', b.payload)),
        };
      }),
      expect: {
        subject: chain.subject,
        holder: keyName.get(hex(chain.holder)),
        chainIds: chain.ids,
        tip: hex(chain.tip),
        version: chain.version,
        nbf: chain.nbf,
        exp: chain.exp,
        grants: chain.blocks[chain.blocks.length - 1]!.grants.map((g) => ({
          resource: g.resource,
          permissions: [...g.permissions],
          ...(g.constraints ? { constraints: g.constraints } : {}),
          ...(g.tools ? { tools: [...g.tools] } : {}),
          ...(g.closed ? { closed: true } : {}),
        })),
      },
    });
  }
  function keyNameOfKid(kid: Uint8Array): KeyName | undefined {
    return KEY_NAMES.find((n) => hex(keys[n].kid) === hex(kid));
  }
  function tokenError(
    name: string,
    description: string,
    bytes: Uint8Array | string,
    code: string,
    extra: { trusted?: KeyName[]; maxDepth?: number } = {},
  ): void {
    tokenErrors.push({
      name,
      description,
      ...(typeof bytes === 'string' ? { text: bytes } : { hex: hex(bytes) }),
      trusted: extra.trusted ?? ['authority'],
      ...(extra.maxDepth !== undefined ? { maxDepth: extra.maxDepth } : {}),
      expect: { code },
    });
  }
  /** Signs a root payload given as raw bytes (possibly non-canonical) with an authority key. */
  function rootBlock(payload: Uint8Array, signer: KeyName = 'authority', kidKey: KeyName = signer): { kid: Uint8Array; block: Uint8Array } {
    const kid = keys[kidKey].kid;
    return { kid, block: cat(payload, backend.sign(keys[signer].seed, signedMessage('root', payload, kid))) };
  }
  function delegationBlock(payload: Uint8Array, signer: KeyName): Uint8Array {
    return cat(payload, backend.sign(keys[signer].seed, signedMessage('delegation', payload)));
  }
  const envelope = (kid: Uint8Array, blocks: Uint8Array[]) => encode([kid, ...blocks]);
  /** Map built from pre-encoded entries, in the given order, with the given head byte(s). */
  function rawMap(entries: [number, CborValue][], opts: { head?: Uint8Array; tail?: Uint8Array } = {}): Uint8Array {
    const head = opts.head ?? encodeHead(5, entries.length);
    return cat(head, ...entries.flatMap(([k, v]) => [encode(k), encode(v)]), opts.tail ?? new Uint8Array());
  }
  function encodeHead(major: number, n: number): Uint8Array {
    // encode() of an empty array/map gives the head for 0; build others by hand (n < 24 here).
    if (n >= 24) throw new Error('rawMap supports fewer than 24 entries');
    return Uint8Array.of((major << 5) | n);
  }

  // ---------------------------------------------------------------- valid tokens
  const basicGrants = [
    { resource: 'database://users/*', permissions: ['read', 'write'] },
    { resource: 'files://shared/**', permissions: ['read'] },
  ];
  const rootA = issue('root', { subject: 'agent:support', holder: keys.agent.publicKey, grants: basicGrants, ttl: 3600, maxDepth: 2 });
  addToken('root', '1-block root token: two grants, maxDepth 2, valid T0 to T0+3600', rootA);

  const two = deleg(rootA, {
    key: 'agent',
    to: 'helper',
    subject: 'agent:summarizer',
    grants: [
      { resource: 'database://users/*', permissions: ['read'] },
      { resource: 'files://shared/reports/**', permissions: ['read'] },
    ],
    ttl: 600,
  });
  addToken('two-block', '2-block: read-only child; first grant refers to parent grant 0 by index, second is a narrower pattern; exp T0+600, maxDepth 1', two);

  const three = deleg(two, {
    key: 'helper',
    to: 'sub',
    subject: 'agent:sub',
    grants: [{ resource: 'database://users/alice', permissions: ['read'] }],
    maxDepth: 0,
    expiresAt: T0 + 300,
  });
  addToken('three-block', '3-block: third block narrows to one concrete user; exp T0+300, maxDepth 0', three);

  const inherit = deleg(rootA, { key: 'agent', to: 'helper', subject: 'agent:clone' });
  addToken('inherit', '2-block: delegation block with no grants and no expiry inherits both from its parent', inherit);

  const constraintGrants: Grant[] = [
    {
      resource: 'api://billing/**',
      permissions: ['call'],
      constraints: {
        currency: { type: 'exact', value: 'EUR' },
        region: { type: 'oneOf', values: ['eu', 'us', 7, true, null] },
        amount: { type: 'range', min: 1, max: 500 },
        email: { type: 'glob', pattern: '*@acme.example' },
        ref: { type: 'prefix', prefix: 'INV-' },
        path: { type: 'pathUnder', path: '/srv/reports' },
      },
    },
  ];
  const cRoot = issue('constraints', { subject: 'agent:billing', holder: keys.agent.publicKey, grants: constraintGrants, ttl: 3600, maxDepth: 1 });
  addToken('constraints', '1-block root with one constraint of every kind (exact, oneOf, range, glob, prefix, pathUnder)', cRoot);
  const cChild = deleg(cRoot, {
    key: 'agent',
    to: 'helper',
    subject: 'agent:billing-child',
    constraints: { amount: { type: 'range', max: 100 } },
  });
  addToken('constraints-child', '2-block: child adds a tighter range on "amount" to the inherited grant (grant by index)', cChild);

  // Format version 2 (policy language v1.1, §6): tools, closed arguments, paths, every new kind.
  const policyGrants: Grant[] = [
    {
      resource: 'bank://accounts/me',
      permissions: ['transfer'],
      tools: ['send_money'],
      closed: true,
      constraints: {
        recipient: { type: 'notOneOf', values: ['DE00000000000000000000'] },
        amount: { type: 'decimal', min: '0.01', max: '10.5' },
        subject: { type: 'length', max: 140 },
        'message.to': { type: 'regex', pattern: '[a-z.]+@acme\\.example' },
        'participants[]': { type: 'glob', pattern: '*@acme.example' },
        participants: {
          type: 'all',
          constraints: [
            { type: 'length', min: 1, max: 5 },
            { type: 'subset', values: ['a@acme.example', 'b@acme.example'] },
          ],
        },
        tags: {
          type: 'each',
          constraint: {
            type: 'anyOf',
            constraints: [
              { type: 'prefix', prefix: 'q' },
              { type: 'exact', value: 'rent' },
            ],
          },
        },
        labels: { type: 'contains', values: ['approved'] },
        ip: { type: 'cidr', cidr: '10.0.0.0/8' },
        callback: { type: 'url', scheme: 'https', host: '*.acme.example', path: '/hooks' },
        link: { type: 'urlSafe' },
        memo: { type: 'not', constraint: { type: 'glob', pattern: '*ignore previous*' } },
      },
    },
    { resource: 'bank://accounts/me', permissions: ['read'], tools: ['get_balance', 'get_transactions'] },
  ];
  const pRoot = issue('policy-v2', { subject: 'agent:bank', holder: keys.agent.publicKey, grants: policyGrants, ttl: 3600, maxDepth: 1 });
  addToken('policy-v2', 'format version 2 root: a tool-bound, closed grant with argument paths and every v1.1 kind, and a read grant for two tools', pRoot);
  const pChild = deleg(pRoot, {
    key: 'agent',
    to: 'helper',
    subject: 'agent:bank-child',
    grants: [
      { ...policyGrants[0]!, constraints: { ...policyGrants[0]!.constraints, amount: { type: 'decimal', min: '0.01', max: '5' } } },
      { resource: 'bank://accounts/me', permissions: ['read'], tools: ['get_balance'] },
    ],
  });
  addToken('policy-v2-child', '2-block, version 2: the child narrows amount to 0.01..5 and the read grant to get_balance', pChild);

  const future = issue('future', { subject: 'agent:later', holder: keys.agent.publicKey, grants: basicGrants, notBefore: T0 + 3600, ttl: 7200 });
  addToken('not-before', 'root with nbf T0+3600', future);
  const shortLived = issue('short', { subject: 'agent:brief', holder: keys.agent.publicKey, grants: basicGrants, ttl: 60 });
  addToken('short-lived', 'root valid T0 to T0+60', shortLived);
  const rotated = issue('rotated', { key: 'authority2', subject: 'agent:support', holder: keys.agent.publicKey, grants: basicGrants, ttl: 3600 });
  addToken('authority2', 'root signed by a second authority key (rotation)', rotated);

  // ---------------------------------------------------------------- token errors
  const rootRaw = rootA.blocks[0]!;
  const rootP: RootPayload = {
    tid: tidOf('root'),
    subject: 'agent:support',
    holder: keys.agent.publicKey,
    grants: [
      { resource: 'database://users/*', permissions: ['read', 'write'] },
      { resource: 'files://shared/**', permissions: ['read'] },
    ],
    iat: T0,
    exp: T0 + 3600,
    maxDepth: 2,
  };
  if (hex(encodeRootPayload(rootP)) !== hex(rootRaw.payload)) throw new Error('generator: root payload mismatch');
  const flip = (b: Uint8Array, i: number) => {
    const c = Uint8Array.from(b);
    c[i]! ^= 0x01;
    return c;
  };

  tokenError(
    'root-signature-flipped',
    'last byte of the root signature flipped',
    envelope(rootA.kid, [flip(rootRaw.bytes, rootRaw.bytes.length - 1)]),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError(
    'root-payload-flipped',
    'one bit of the root payload (inside the subject) flipped; signature unchanged',
    envelope(rootA.kid, [flip(rootRaw.bytes, 22)]),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError(
    'root-signed-by-other-key',
    'root payload signed by mallory but naming the authority kid',
    envelope(rootA.kid, [rootBlock(rootRaw.payload, 'mallory', 'authority').block]),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError('unknown-key', 'valid root token; the verifier trusts only authority2', rootA.bytes, 'ERR_UNKNOWN_KEY', { trusted: ['authority2'] });
  tokenError('unknown-key-self-signed', 'mallory issues a token with her own key', rootBlockToken(rootBlock(rootRaw.payload, 'mallory')), 'ERR_UNKNOWN_KEY');
  function rootBlockToken(r: { kid: Uint8Array; block: Uint8Array }, ...rest: Uint8Array[]) {
    return envelope(r.kid, [r.block, ...rest]);
  }

  const twoRaw = two.blocks[1]!;
  tokenError(
    'delegation-signature-flipped',
    '2-block token with one bit of the delegation signature flipped',
    envelope(two.kid, [rootRaw.bytes, flip(twoRaw.bytes, twoRaw.bytes.length - 10)]),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError(
    'delegation-wrong-signer',
    'delegation block signed by mallory instead of the parent holder (agent)',
    envelope(two.kid, [rootRaw.bytes, delegationBlock(twoRaw.payload, 'mallory')]),
    'ERR_SIGNATURE_INVALID',
  );

  const dBase: DelegationPayload = {
    parent: blockDigest(rootRaw.payload),
    subject: 'agent:evil',
    holder: keys.helper.publicKey,
    grants: [{ resource: 0, permissions: ['read'] }],
    exp: T0 + 600,
    maxDepth: 1,
  };
  const withChild = (p: DelegationPayload, signer: KeyName = 'agent') =>
    envelope(rootA.kid, [rootRaw.bytes, delegationBlock(encodeDelegationPayload(p), signer)]);
  tokenError(
    'widened-resource',
    'hand-crafted child grants database://** although the parent holds database://users/*',
    withChild({ ...dBase, grants: [{ resource: 'database://**', permissions: ['read'] }] }),
    'ERR_ATTENUATION',
  );
  tokenError(
    'widened-permission',
    'hand-crafted child grants [read, delete] on parent grant 0 ([read, write])',
    withChild({ ...dBase, grants: [{ resource: 0, permissions: ['delete', 'read'] }] }),
    'ERR_ATTENUATION',
  );
  tokenError(
    'widened-scheme',
    'hand-crafted child grants files://** (parent holds files://shared/**)',
    withChild({ ...dBase, grants: [{ resource: 'files://**', permissions: ['read'] }] }),
    'ERR_ATTENUATION',
  );
  tokenError('widened-expiry', 'hand-crafted child expires at T0+7200, after its parent (T0+3600)', withChild({ ...dBase, exp: T0 + 7200 }), 'ERR_ATTENUATION');
  tokenError('widened-depth', 'hand-crafted child keeps maxDepth 2 under a parent with maxDepth 2', withChild({ ...dBase, maxDepth: 2 }), 'ERR_DEPTH');
  const leaf = issue('leaf', { subject: 'agent:leaf', holder: keys.agent.publicKey, grants: basicGrants, ttl: 3600, maxDepth: 0 });
  tokenError(
    'depth-exceeded',
    'child of a root whose maxDepth is 0',
    envelope(leaf.kid, [
      leaf.blocks[0]!.bytes,
      delegationBlock(encodeDelegationPayload({ ...dBase, parent: blockDigest(leaf.blocks[0]!.payload), maxDepth: 0 }), 'agent'),
    ]),
    'ERR_DEPTH',
  );
  {
    // 9 delegation blocks under a hand-made root with maxDepth 20: over the 8-block format limit.
    const r = rootBlock(encodeRootPayload({ ...rootP, tid: tidOf('deep'), maxDepth: 20 }));
    const blocks = [r.block];
    const holders: KeyName[] = ['agent', 'helper', 'sub'];
    let prev = r.block.subarray(0, r.block.length - 64);
    for (let i = 0; i < 9; i++) {
      const p = encodeDelegationPayload({
        parent: blockDigest(prev),
        subject: `agent:d${i + 1}`,
        holder: keys[holders[(i + 1) % 3]!].publicKey,
        maxDepth: 19 - i,
      });
      blocks.push(delegationBlock(p, holders[i % 3]!));
      prev = p;
    }
    tokenError('too-many-blocks', 'root + 9 delegation blocks (limit 8), each otherwise valid', envelope(r.kid, blocks), 'ERR_DEPTH');
    tokenError('verifier-depth-limit', 'the valid 3-block token checked by a verifier configured with maxDepth 1', three.bytes, 'ERR_DEPTH', { maxDepth: 1 });
  }
  tokenError(
    'link-broken',
    'the delegation block of "two-block" spliced onto the "constraints" root (same holder key, different parent)',
    envelope(cRoot.kid, [cRoot.blocks[0]!.bytes, twoRaw.bytes]),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError(
    'link-wrong-parent',
    'delegation block validly signed by agent but naming the digest of another block as parent',
    withChild({ ...dBase, parent: blockDigest(cRoot.blocks[0]!.payload) }),
    'ERR_SIGNATURE_INVALID',
  );
  tokenError(
    'grant-index-out-of-range',
    'delegation grant refers to parent grant 5 (parent has 2)',
    withChild({ ...dBase, grants: [{ resource: 5, permissions: ['read'] }] }),
    'ERR_MALFORMED',
  );

  // Non-canonical payloads, each validly signed so that strict decoding is what rejects them.
  const rootEntries: [number, CborValue][] = [
    [KEY.tid, rootP.tid],
    [KEY.subject, rootP.subject],
    [KEY.holder, rootP.holder],
    [KEY.grants, rootP.grants.map((g) => [g.resource, [...g.permissions]])],
    [KEY.iat, rootP.iat],
    [KEY.exp, rootP.exp],
    [KEY.maxDepth, rootP.maxDepth],
    [KEY.version, 1],
  ];
  if (hex(rawMap(rootEntries)) !== hex(rootRaw.payload)) throw new Error('generator: raw map mismatch');
  const signedRoot = (payload: Uint8Array) => rootBlockToken(rootBlock(payload));
  tokenError(
    'noncanonical-duplicate-key',
    'root payload with field 8 (maxDepth) twice; map head says 9 entries',
    signedRoot(rawMap([...rootEntries, [KEY.maxDepth, 2]])),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-nonminimal-int',
    'root payload with version 1 encoded as 0x18 0x01',
    signedRoot(cat(rootRaw.payload.subarray(0, rootRaw.payload.length - 1), Uint8Array.of(0x18, 0x01))),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-nonminimal-length',
    'root payload with the subject text length encoded as 0x78 0x0d',
    signedRoot(
      cat(
        rawMap(rootEntries.slice(0, 1), { head: Uint8Array.of(0xa8) }),
        encode(KEY.subject),
        Uint8Array.of(0x78, 13),
        Buffer.from(rootP.subject),
        ...rootEntries.slice(2).flatMap(([k, v]) => [encode(k), encode(v)]),
      ),
    ),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-indefinite-map',
    'root payload as an indefinite-length map (0xbf ... 0xff)',
    signedRoot(rawMap(rootEntries, { head: Uint8Array.of(0xbf), tail: Uint8Array.of(0xff) })),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-indefinite-text',
    'root payload with the subject as an indefinite-length text string of two chunks',
    signedRoot(
      cat(
        rawMap(rootEntries.slice(0, 1), { head: Uint8Array.of(0xa8) }),
        encode(KEY.subject),
        Uint8Array.of(0x7f),
        encode('agent:'),
        encode('support'),
        Uint8Array.of(0xff),
        ...rootEntries.slice(2).flatMap(([k, v]) => [encode(k), encode(v)]),
      ),
    ),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-unsorted-keys',
    'root payload with fields 7 (exp) and 5 (iat) swapped',
    signedRoot(rawMap([...rootEntries.slice(0, 4), rootEntries[5]!, rootEntries[4]!, rootEntries[6]!, rootEntries[7]!])),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-trailing-bytes-payload',
    'root payload followed by one extra byte 0x00 (signed)',
    signedRoot(cat(rootRaw.payload, Uint8Array.of(0))),
    'ERR_MALFORMED',
  );
  tokenError(
    'noncanonical-float-time',
    'root payload with exp as a 64-bit float',
    signedRoot(
      cat(
        rawMap([...rootEntries.slice(0, 5)], { head: Uint8Array.of(0xa8) }),
        encode(KEY.exp),
        Uint8Array.of(0xfb),
        new Uint8Array(new Float64Array([T0 + 3600]).buffer).reverse(),
        encode(KEY.maxDepth),
        encode(2),
        encode(KEY.version),
        encode(1),
      ),
    ),
    'ERR_MALFORMED',
  );
  tokenError(
    'unknown-field',
    'root payload with an extra field 10 (canonically encoded, signed)',
    signedRoot(rawMap([...rootEntries, [10, 0]])),
    'ERR_MALFORMED',
  );
  tokenError(
    'unknown-field-text-key',
    'root payload with an extra text key "v"',
    signedRoot(rawMap([...rootEntries], { head: Uint8Array.of(0xa9), tail: cat(encode('v'), encode(1)) })),
    'ERR_MALFORMED',
  );
  tokenError(
    'unsupported-version',
    'root payload with format version 3 (signed)',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.version ? 3 : v]))),
    'ERR_MALFORMED',
  );
  tokenError('missing-field', 'root payload without field 7 (exp)', signedRoot(rawMap(rootEntries.filter(([k]) => k !== KEY.exp))), 'ERR_MALFORMED');
  tokenError(
    'wrong-type',
    'root payload with subject as a byte string',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.subject ? (Buffer.from('agent:support') as unknown as Uint8Array) : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'grant-index-in-root',
    'root grant uses a parent index (only allowed in delegation blocks)',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? [[0, ['read']]] : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'permissions-unsorted',
    'root grant with permissions ["write", "read"] (must be sorted, unique)',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? [['database://users/*', ['write', 'read']]] : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'pattern-not-normal',
    'root grant pattern with an upper-case scheme',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? [['Database://users/*', ['read']]] : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'pattern-traversal',
    'root grant pattern database://users/../*',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? [['database://users/../*', ['read']]] : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'exp-before-iat',
    'root payload with exp equal to iat',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.exp ? T0 : v]))),
    'ERR_MALFORMED',
  );

  // Envelope-level (unsigned structure) errors.
  tokenError('envelope-trailing-bytes', 'valid root token followed by one byte 0x00', cat(rootA.bytes, Uint8Array.of(0)), 'ERR_MALFORMED');
  tokenError(
    'envelope-indefinite-array',
    'token array encoded with indefinite length (0x9f ... 0xff)',
    cat(Uint8Array.of(0x9f), rootA.bytes.subarray(1), Uint8Array.of(0xff)),
    'ERR_MALFORMED',
  );
  tokenError(
    'envelope-nonminimal-array',
    'token array head 0x98 0x02 instead of 0x82',
    cat(Uint8Array.of(0x98, 0x02), rootA.bytes.subarray(1)),
    'ERR_MALFORMED',
  );
  tokenError(
    'envelope-nonminimal-bstr',
    'kid byte string head 0x58 0x08 instead of 0x48',
    cat(Uint8Array.of(0x82, 0x58, 0x08), rootA.bytes.subarray(2)),
    'ERR_MALFORMED',
  );
  tokenError('envelope-kid-length', 'key id of 7 bytes', envelope(rootA.kid.subarray(0, 7), [rootRaw.bytes]), 'ERR_MALFORMED');
  tokenError('envelope-no-root', 'array holding only the key id', encode([rootA.kid]), 'ERR_MALFORMED');
  tokenError('envelope-short-block', 'root block of 64 bytes (no payload)', envelope(rootA.kid, [rootRaw.signature]), 'ERR_MALFORMED');
  tokenError('envelope-truncated', 'valid root token without its last byte', rootA.bytes.subarray(0, rootA.bytes.length - 1), 'ERR_MALFORMED');
  {
    const big = encode([rootA.kid, new Uint8Array(16380)]);
    tokenError('oversize', `a ${big.length}-byte token (limit 16384), rejected before parsing`, big, 'ERR_TOO_LARGE');
  }
  tokenError('text-wrong-prefix', 'text form with prefix cft2.', 'cft2.' + rootA.toString().slice(5), 'ERR_MALFORMED');
  tokenError('text-padding', 'text form with base64 padding appended', rootA.toString() + '=', 'ERR_MALFORMED');
  tokenError('text-standard-alphabet', 'text form using "+" (standard base64 alphabet)', 'cft1.gkh+', 'ERR_MALFORMED');

  // Rules pinned for independent implementations (§3.0, §3.2, §3.3, §6, §8).
  {
    const sig = identityRSignature(keys.authority.seed, signedMessage('root', rootRaw.payload, rootA.kid));
    tokenError(
      'root-signature-small-order-R',
      'root signed by the authority with R = identity and S = k·a mod L: the equation holds, but R has small order (§3.0)',
      envelope(rootA.kid, [cat(rootRaw.payload, sig)]),
      'ERR_SIGNATURE_INVALID',
    );
  }
  const identityPoint = Uint8Array.from(Buffer.from('0100000000000000000000000000000000000000000000000000000000000000', 'hex'));
  tokenError(
    'holder-small-order',
    'validly signed root whose holder key is the identity point (small order, §3.0)',
    signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.holder ? identityPoint : v]))),
    'ERR_MALFORMED',
  );
  tokenError(
    'delegation-holder-small-order',
    'validly signed delegation naming the identity point as the new holder',
    withChild({ ...dBase, holder: identityPoint }),
    'ERR_MALFORMED',
  );
  tokenError('delegation-exp-zero', 'validly signed delegation with exp = 0', withChild({ ...dBase, exp: 0 }), 'ERR_MALFORMED');
  tokenError(
    'delegation-nbf-after-own-exp',
    'validly signed delegation with nbf T0+600 equal to its own exp T0+600',
    withChild({ ...dBase, nbf: T0 + 600 }),
    'ERR_MALFORMED',
  );
  tokenError(
    'delegation-nbf-after-parent-exp',
    "validly signed delegation without exp whose nbf T0+4000 is after the parent's exp T0+3600",
    withChild({ ...dBase, exp: undefined, nbf: T0 + 4000 }),
    'ERR_MALFORMED',
  );
  {
    const nbfRoot = issue('nbf-root', {
      subject: 'agent:later',
      holder: keys.agent.publicKey,
      grants: basicGrants,
      notBefore: T0 + 3600,
      ttl: 7200,
      maxDepth: 2,
    });
    const fRaw = nbfRoot.blocks[0]!;
    const p = encodeDelegationPayload({ ...dBase, parent: blockDigest(fRaw.payload), exp: T0 + 3000 });
    tokenError(
      'delegation-exp-before-root-nbf',
      'delegation (exp T0+3000) of a root with nbf T0+3600, exp T0+7200, maxDepth 2: never valid',
      envelope(nbfRoot.kid, [fRaw.bytes, delegationBlock(p, 'agent')]),
      'ERR_MALFORMED',
    );
  }
  const rootGrant = (g: CborValue) => signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? g : v])));
  tokenError(
    'duplicate-grants',
    'root listing the grant ["database://users/*", ["read"]] twice',
    rootGrant([
      ['database://users/*', ['read']],
      ['database://users/*', ['read']],
    ]),
    'ERR_MALFORMED',
  );
  tokenError(
    'duplicate-grants-by-index',
    'delegation listing parent grant 0 by index and by its pattern, both [read]',
    withChild({
      ...dBase,
      grants: [
        { resource: 0, permissions: ['read'] },
        { resource: 'database://users/*', permissions: ['read'] },
      ],
    }),
    'ERR_MALFORMED',
  );
  const constrained = (cs: CborValue) => rootGrant([['api://billing/**', ['call'], cs]]);
  tokenError('oneOf-duplicate-value', 'constraint {"region": [1, ["eu", "eu"]]}', constrained(new Map([['region', [1, ['eu', 'eu']]]])), 'ERR_MALFORMED');
  tokenError('glob-empty', 'constraint {"email": [3, ""]}', constrained(new Map([['email', [3, '']]])), 'ERR_MALFORMED');
  tokenError('prefix-empty', 'constraint {"ref": [4, ""]}', constrained(new Map([['ref', [4, '']]])), 'ERR_MALFORMED');
  tokenError(
    'constraint-control-character',
    'constraint {"to": [0, "a@acme.example\\nbcc: x@evil.example"]} (a newline in a constraint string)',
    constrained(new Map([['to', [0, 'a@acme.example\nbcc: x@evil.example']]])),
    'ERR_MALFORMED',
  );
  // Format version 2 (§3.2 grant options, §6.3 attenuation).
  tokenError(
    'v1-root-grant-options',
    'version-1 root with a 4-item grant (options {1: ["q"]}): options need version 2',
    rootGrant([['database://users/*', ['read'], null, new Map([[1, ['q']]])]]),
    'ERR_MALFORMED',
  );
  tokenError('v1-root-v2-kind', 'version-1 root with a notOneOf constraint (kind 6)', constrained(new Map([['region', [6, ['eu']]]])), 'ERR_MALFORMED');
  {
    const v2Root = (g: CborValue) => signedRoot(rawMap(rootEntries.map(([k, v]) => [k, k === KEY.grants ? g : k === KEY.version ? 2 : v])));
    tokenError(
      'v2-tools-unsorted',
      'version-2 root grant with tools ["b", "a"] (must be sorted, unique)',
      v2Root([['database://users/*', ['read'], null, new Map([[1, ['b', 'a']]])]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-options-empty',
      'version-2 root grant with an empty options map',
      v2Root([['database://users/*', ['read'], null, new Map()]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-closed-false',
      'version-2 root grant with options {2: false} (closed is only ever true)',
      v2Root([['database://users/*', ['read'], null, new Map([[2, false]])]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-regex-backreference',
      'version-2 root with a regex constraint using a backreference (outside the linear-time syntax)',
      v2Root([['database://users/*', ['read'], new Map([['q', [15, '(a)\\1']]])]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-decimal-noncanonical',
      'version-2 root with a decimal bound "10.50" (trailing zero)',
      v2Root([['database://users/*', ['read'], new Map([['a', [7, null, '10.50']]])]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-path-bad',
      'version-2 root with the constraint key "a..b"',
      v2Root([['database://users/*', ['read'], new Map([['a..b', [0, 1]]])]]),
      'ERR_MALFORMED',
    );
    tokenError(
      'v2-nesting-too-deep',
      'version-2 root with not(not(not(not(not(exact 1))))): composites nest at most 4 levels',
      v2Root([['database://users/*', ['read'], new Map([['a', [18, [18, [18, [18, [18, [0, 1]]]]]]]])]]),
      'ERR_MALFORMED',
    );
  }
  {
    const pRaw = pRoot.blocks[0]!;
    const base = { parent: blockDigest(pRaw.payload), subject: 'agent:evil', holder: keys.helper.publicKey, maxDepth: 0 };
    const pChildToken = (grants: DelegationPayload['grants']) =>
      envelope(pRoot.kid, [pRaw.bytes, delegationBlock(encodeDelegationPayload({ ...base, grants }), 'agent')]);
    const g0 = policyGrants[0]!;
    tokenError(
      'v2-child-widens-tools',
      'child of "policy-v2" whose money grant adds the tool schedule_transaction',
      pChildToken([{ resource: 0, permissions: ['transfer'], tools: ['schedule_transaction', 'send_money'], closed: true, constraints: g0.constraints! }]),
      'ERR_ATTENUATION',
      { trusted: ['authority'] },
    );
    tokenError(
      'v2-child-drops-tools',
      'child of "policy-v2" whose money grant names no tools (any tool)',
      pChildToken([{ resource: 0, permissions: ['transfer'], closed: true, constraints: g0.constraints! }]),
      'ERR_ATTENUATION',
    );
    tokenError(
      'v2-child-reopens',
      'child of "policy-v2" whose money grant is not closed',
      pChildToken([{ resource: 0, permissions: ['transfer'], tools: ['send_money'], constraints: g0.constraints! }]),
      'ERR_ATTENUATION',
    );
    tokenError(
      'v2-child-widens-constraint',
      'child of "policy-v2" raising amount to decimal 0.01..1000',
      pChildToken([
        {
          resource: 0,
          permissions: ['transfer'],
          tools: ['send_money'],
          closed: true,
          constraints: { ...g0.constraints!, amount: { type: 'decimal', min: '0.01', max: '1000' } },
        },
      ]),
      'ERR_ATTENUATION',
    );
  }
  tokenError('text-bom', 'text form preceded by U+FEFF (not whitespace, §8)', '\ufeff' + rootA.toString(), 'ERR_MALFORMED');
  tokenError('text-nbsp', 'text form followed by U+00A0 (not whitespace, §8)', rootA.toString() + '\u00a0', 'ERR_MALFORMED');
  tokenError(
    'text-whitespace-over-limit',
    'the root text followed by 21,900 spaces: raw input over 5 + 21846 + 64 characters (§8)',
    rootA.toString() + ' '.repeat(21900),
    'ERR_TOO_LARGE',
  );

  // ---------------------------------------------------------------- calls
  function signedCall(
    name: string,
    description: string,
    token: string,
    o: Omit<InvocationOptions, 'key' | 'clock' | 'backend' | 'nonce'> & { key?: KeyName; iat?: number },
    expected: Record<string, unknown>,
    now: number,
    expect: Expect[],
    extra: Record<string, unknown> = {},
  ): void {
    const { key = 'agent', iat = T0, ...rest } = o;
    const inv = createInvocation(byName.get(token)!, { ...rest, key: keys[key], clock: at(iat), backend, nonce: nonceOf(name) });
    calls.push({
      name,
      description,
      mode: 'signed',
      token,
      invocation: { hex: hex(inv.bytes), text: inv.toString(), payload: hex(inv.block.payload), signature: hex(inv.block.signature) },
      expected,
      now,
      ...extra,
      expect,
    });
  }
  /** Invocation payload signed by hand (for proofs the library refuses to create). */
  function rawSignedCall(
    name: string,
    description: string,
    token: string,
    p: Partial<InvocationPayload> & { tool: string; operation: string; resource: string; args: Uint8Array },
    signer: KeyName,
    expected: Record<string, unknown>,
    now: number,
    expect: Expect[],
    payloadOverride?: Uint8Array,
  ): void {
    const full: InvocationPayload = { tip: byName.get(token)!.tip(), callId: 'call-' + name, nonce: nonceOf(name), iat: T0, exp: T0 + 30, ...p };
    const payload = payloadOverride ?? encodeInvocationPayload(full);
    const block = cat(payload, backend.sign(keys[signer].seed, signedMessage('invocation', payload)));
    calls.push({
      name,
      description,
      mode: 'signed',
      token,
      invocation: { hex: hex(encode(block)), payload: hex(payload), signature: hex(block.subarray(payload.length)) },
      expected,
      now,
      expect,
    });
  }
  function localCall(
    name: string,
    description: string,
    token: string,
    call: { tool: string; operation: string; resource: string; args: Record<string, unknown>; callId?: string },
    now: number,
    expect: Expect[],
  ): void {
    calls.push({ name, description, mode: 'local', token, call: { ...call, callId: call.callId ?? 'call-' + name }, now, expect });
  }
  const OK: Expect = { allowed: true };
  const NO = (code: string): Expect => ({ allowed: false, code });
  const q = { tool: 'query_users', operation: 'read', resource: 'database://users/alice', args: { limit: 10, table: 'users' } };
  const qExp = { tool: 'query_users', args: q.args };

  signedCall('signed-root', 'signed proof on the 1-block token; a second use is a replay', 'root', { ...q, callId: 'call-1' }, qExp, T0 + 5, [
    OK,
    NO('ERR_REPLAY'),
  ]);
  signedCall(
    'signed-two-block',
    'signed proof by helper on the 2-block token',
    'two-block',
    { ...q, key: 'helper', callId: 'call-2' },
    { ...qExp, operation: 'read', resource: 'database://users/alice' },
    T0 + 5,
    [OK, NO('ERR_REPLAY')],
  );
  signedCall('signed-three-block', 'signed proof by sub on the 3-block token', 'three-block', { ...q, key: 'sub', callId: 'call-3' }, qExp, T0 + 5, [OK]);
  signedCall(
    'signed-three-block-other-user',
    'the 3-block token only covers database://users/alice',
    'three-block',
    { ...q, key: 'sub', resource: 'database://users/bob', callId: 'call-3b' },
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  signedCall(
    'signed-inherit',
    'signed proof by helper on the inheriting 2-block token (write is inherited)',
    'inherit',
    { ...q, key: 'helper', operation: 'write', callId: 'call-4' },
    qExp,
    T0 + 5,
    [OK],
  );

  // Batched invocation proofs (§4.4): three calls under one holder signature.
  const batchCalls = [1, 2, 3].map((n) => ({ ...q, args: { limit: n, table: 'users' }, callId: `call-batch-${n}`, nonce: nonceOf(`batch-${n}`) }));
  const batch = createInvocationBatch(byName.get('root')!, keys.agent, batchCalls, { clock: at(T0), backend });
  batch.forEach((inv, n) => {
    calls.push({
      name: `batched-${n + 1}`,
      description: `item ${n + 1} of a 3-call batched proof on the 1-block token (one signature for all three); a second use is a replay`,
      mode: 'signed',
      token: 'root',
      invocation: { hex: hex(inv.bytes), text: inv.toString() },
      expected: { tool: q.tool, args: batchCalls[n]!.args },
      now: T0 + 5,
      expect: [OK, NO('ERR_REPLAY')],
    });
  });
  calls.push({
    name: 'batched-args-swapped',
    description: 'item 2 of the batch presented with the arguments of item 1',
    mode: 'signed',
    token: 'root',
    invocation: { hex: hex(batch[1]!.bytes), text: batch[1]!.toString() },
    expected: { tool: q.tool, args: batchCalls[0]!.args },
    now: T0 + 5,
    expect: [NO('ERR_INVOCATION_MISMATCH')],
  });
  signedCall('signed-authority2', 'token of the second authority key, verifier trusts both', 'authority2', { ...q, callId: 'call-5' }, qExp, T0 + 5, [OK]);
  calls[calls.length - 1]!.trusted = ['authority', 'authority2'];
  signedCall(
    'mismatch-tool',
    'proof for query_users presented as delete_users',
    'root',
    { ...q, callId: 'call-6' },
    { ...qExp, tool: 'delete_users' },
    T0 + 5,
    [NO('ERR_INVOCATION_MISMATCH')],
  );
  signedCall(
    'mismatch-args',
    'arguments changed after signing (limit 10 -> 1000)',
    'root',
    { ...q, callId: 'call-7' },
    { ...qExp, args: { limit: 1000, table: 'users' } },
    T0 + 5,
    [NO('ERR_INVOCATION_MISMATCH')],
  );
  signedCall(
    'mismatch-operation',
    'verifier expects operation write; proof says read',
    'root',
    { ...q, callId: 'call-8' },
    { ...qExp, operation: 'write' },
    T0 + 5,
    [NO('ERR_INVOCATION_MISMATCH')],
  );
  signedCall(
    'mismatch-resource',
    'verifier expects database://users/bob; proof says alice',
    'root',
    { ...q, callId: 'call-9' },
    { ...qExp, resource: 'database://users/bob' },
    T0 + 5,
    [NO('ERR_INVOCATION_MISMATCH')],
  );
  {
    const inv = createInvocation(rootA, { ...q, key: keys.agent, callId: 'call-10', clock: at(T0), backend, nonce: nonceOf('mismatch-token') });
    calls.push({
      name: 'mismatch-token',
      description: 'proof made for "root" presented with "constraints" (same holder key)',
      mode: 'signed',
      token: 'constraints',
      invocation: { hex: hex(inv.bytes), text: inv.toString(), payload: hex(inv.block.payload), signature: hex(inv.block.signature) },
      expected: qExp,
      now: T0 + 5,
      expect: [NO('ERR_INVOCATION_MISMATCH')],
    });
  }
  rawSignedCall(
    'invocation-wrong-key',
    'proof for the 1-block token signed by helper, not the holder (agent)',
    'root',
    { ...q, args: argsDigest(q.args) },
    'helper',
    qExp,
    T0 + 5,
    [NO('ERR_SIGNATURE_INVALID')],
  );
  signedCall('scope-resource', 'resource outside every grant', 'root', { ...q, resource: 'database://orders/1', callId: 'call-11' }, qExp, T0 + 5, [
    NO('ERR_SCOPE_RESOURCE'),
  ]);
  signedCall('scope-permission', 'delete is not granted', 'root', { ...q, operation: 'delete', callId: 'call-12' }, qExp, T0 + 5, [NO('ERR_SCOPE_PERMISSION')]);
  signedCall(
    'scope-permission-child',
    'write is held by the root but not by the read-only child',
    'two-block',
    { ...q, key: 'helper', operation: 'write', callId: 'call-13' },
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_PERMISSION')],
  );
  signedCall(
    'scope-double-star',
    'files://shared/** covers files://shared/a/b/c.txt',
    'root',
    { tool: 'read_file', operation: 'read', resource: 'files://shared/a/b/c.txt', args: {}, callId: 'call-14' },
    { tool: 'read_file', args: {} },
    T0 + 5,
    [OK],
  );
  signedCall(
    'scope-double-star-empty',
    'files://shared/** needs at least one segment after shared',
    'root',
    { tool: 'read_file', operation: 'read', resource: 'files://shared', args: {}, callId: 'call-15' },
    { tool: 'read_file', args: {} },
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  signedCall(
    'invocation-expired',
    'proof issued at T0 with the default 30 s lifetime, checked at T0+61 (30 s skew)',
    'root',
    { ...q, callId: 'call-16' },
    qExp,
    T0 + 61,
    [NO('ERR_EXPIRED')],
  );
  signedCall('invocation-skew-ok', 'same proof checked at T0+59: inside exp + skew', 'root', { ...q, callId: 'call-17' }, qExp, T0 + 59, [OK]);
  signedCall(
    'invocation-future',
    'proof issued at T0+100, checked at T0+60 (more than 30 s in the future)',
    'root',
    { ...q, callId: 'call-18', iat: T0 + 100 },
    qExp,
    T0 + 60,
    [NO('ERR_NOT_YET_VALID')],
  );
  signedCall(
    'token-expired',
    'short-lived token (exp T0+60) used at T0+100; proof itself is fresh',
    'short-lived',
    { ...q, callId: 'call-19', iat: T0 + 95 },
    qExp,
    T0 + 100,
    [NO('ERR_EXPIRED')],
  );
  signedCall('token-not-yet-valid', 'token with nbf T0+3600 used at T0+10', 'not-before', { ...q, callId: 'call-20', iat: T0 + 5 }, qExp, T0 + 10, [
    NO('ERR_NOT_YET_VALID'),
  ]);
  rawSignedCall(
    'invocation-traversal-resource',
    'hand-signed proof naming database://users/../admin',
    'root',
    { ...q, resource: 'database://users/../admin', args: argsDigest(q.args) },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  rawSignedCall(
    'invocation-resource-empty',
    'hand-signed proof with an empty resource: ERR_SCOPE_RESOURCE, as in-process (§5.2)',
    'root',
    { ...q, resource: '', args: argsDigest(q.args) },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  rawSignedCall(
    'invocation-resource-control',
    'hand-signed proof whose resource holds a newline',
    'root',
    { ...q, resource: 'database://users/al\nice', args: argsDigest(q.args) },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  rawSignedCall(
    'invocation-resource-too-long',
    'hand-signed proof whose resource is 1025 bytes',
    'root',
    { ...q, resource: 'database://users/' + 'a'.repeat(1025 - 17), args: argsDigest(q.args) },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_SCOPE_RESOURCE')],
  );
  localCall('local-resource-empty', 'in-process call with an empty resource', 'root', { ...q, resource: '' }, T0 + 5, [NO('ERR_SCOPE_RESOURCE')]);
  rawSignedCall(
    'invocation-resource-not-normal',
    'hand-signed proof naming DATABASE://users/alice (not in normal form)',
    'root',
    { ...q, resource: 'DATABASE://users/alice', args: argsDigest(q.args) },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_MALFORMED')],
  );
  rawSignedCall(
    'invocation-lifetime-too-long',
    'hand-signed proof with exp - iat = 301 s (limit 300)',
    'root',
    { ...q, args: argsDigest(q.args), exp: T0 + 301 },
    'agent',
    qExp,
    T0 + 5,
    [NO('ERR_MALFORMED')],
  );
  {
    const p = encodeInvocationPayload({ tip: rootA.tip(), ...q, args: argsDigest(q.args), callId: 'call-nc', nonce: nonceOf('nc'), iat: T0, exp: T0 + 30 });
    rawSignedCall(
      'invocation-noncanonical',
      'hand-signed proof whose payload has exp (30 s after iat) as a non-minimal 8-byte integer',
      'root',
      { ...q, args: argsDigest(q.args) },
      'agent',
      qExp,
      T0 + 5,
      [NO('ERR_MALFORMED')],
      cat(p.subarray(0, p.length - 5), Uint8Array.of(0x1b, 0, 0, 0, 0), p.subarray(p.length - 4)),
    );
    rawSignedCall(
      'invocation-unknown-field',
      'hand-signed proof with an extra field 10',
      'root',
      { ...q, args: argsDigest(q.args) },
      'agent',
      qExp,
      T0 + 5,
      [NO('ERR_MALFORMED')],
      cat(Uint8Array.of(0xaa), p.subarray(1), encode(10), encode(0)),
    );
  }
  {
    // Same call id, fresh nonce: the replay identity does not include the nonce.
    signedCall(
      'replay-fresh-nonce-a',
      'first of two proofs for the same call id (different nonces); run a then b on one verifier',
      'root',
      { ...q, callId: 'call-21' },
      qExp,
      T0 + 5,
      [OK],
    );
    signedCall(
      'replay-fresh-nonce-b',
      'second proof, same call id and call, new nonce: ERR_REPLAY on the verifier that accepted a',
      'root',
      { ...q, callId: 'call-21' },
      qExp,
      T0 + 5,
      [NO('ERR_REPLAY')],
      { after: 'replay-fresh-nonce-a' },
    );
  }

  // In-process (local) calls: no proof, same rules.
  localCall('local-root', 'in-process call on the 1-block token; a second use of the call id is a replay', 'root', { ...q, callId: 'local-1' }, T0 + 5, [
    OK,
    NO('ERR_REPLAY'),
  ]);
  localCall('local-three-block', 'in-process call on the 3-block token', 'three-block', { ...q, callId: 'local-2' }, T0 + 5, [OK]);
  localCall('local-token-expired', 'short-lived token at T0+90 (exp T0+60 + 30 s skew)', 'short-lived', q, T0 + 90, [NO('ERR_EXPIRED')]);
  localCall('local-token-expiry-skew', 'short-lived token at T0+89, inside the skew', 'short-lived', q, T0 + 89, [OK]);
  localCall('local-not-yet-valid', 'token with nbf T0+3600 at T0+3569', 'not-before', q, T0 + 3569, [NO('ERR_NOT_YET_VALID')]);
  localCall('local-not-before-skew', 'token with nbf T0+3600 at T0+3570 (inside the skew)', 'not-before', q, T0 + 3570, [OK]);
  for (const [i, r] of [
    'database://users/../admin',
    'database://users/%2e%2e/admin',
    'database://users/%2E%2E',
    'database://users/.',
    'database://users/%2fadmin',
    'database://users//alice',
    'database://users/alice/',
    'database://users/al%00ice',
    'database://users/*',
    'database://users/a b',
    'database:/users/alice',
  ].entries()) {
    localCall(`traversal-${i + 1}`, `resource ${JSON.stringify(r)} is refused`, 'root', { ...q, resource: r }, T0 + 5, [NO('ERR_SCOPE_RESOURCE')]);
  }
  localCall(
    'resource-normalised',
    'DATABASE://users/%61lice normalises to database://users/alice',
    'root',
    { ...q, resource: 'DATABASE://users/%61lice' },
    T0 + 5,
    [OK],
  );
  localCall(
    'resource-percent-kept',
    'database://users/%2A is a literal "*", matched by the * pattern segment',
    'root',
    { ...q, resource: 'database://users/%2a' },
    T0 + 5,
    [OK],
  );

  const okArgs = { currency: 'EUR', region: 'eu', amount: 100, email: 'bob@acme.example', ref: 'INV-42', path: '/srv/reports/2026/q1.csv' };
  const billing = { tool: 'charge', operation: 'call', resource: 'api://billing/charges/new' };
  localCall('constraints-all-hold', 'every constraint holds', 'constraints', { ...billing, args: okArgs }, T0 + 5, [OK]);
  localCall(
    'constraints-oneOf-number',
    'oneOf matches the number 7 (strict equality, no coercion)',
    'constraints',
    { ...billing, args: { ...okArgs, region: 7 } },
    T0 + 5,
    [OK],
  );
  const bad: [string, Record<string, unknown>][] = [
    ['exact', { currency: 'USD' }],
    ['exact-type', { currency: ['EUR'] }],
    ['oneOf', { region: 'apac' }],
    ['oneOf-coercion', { region: '7' }],
    ['range-low', { amount: 0 }],
    ['range-high', { amount: 501 }],
    ['range-type', { amount: '100' }],
    ['glob', { email: 'bob@evil.example' }],
    ['prefix', { ref: 'inv-42' }],
    ['pathUnder-traversal', { path: '/srv/reports/../secrets' }],
    ['pathUnder-sibling', { path: '/srv/reports-old/x' }],
    ['pathUnder-relative', { path: 'srv/reports/x' }],
    ['missing', { currency: undefined }],
  ];
  for (const [n, change] of bad) {
    const args = { ...okArgs, ...change };
    for (const k of Object.keys(change)) if (change[k] === undefined) delete (args as Record<string, unknown>)[k];
    const what = Object.entries(change)
      .map(([k, v]) => (v === undefined ? `"${k}" missing` : `${k} = ${JSON.stringify(v)}`))
      .join(', ');
    localCall(`constraint-${n}`, `constraint fails: ${what}`, 'constraints', { ...billing, args }, T0 + 5, [NO('ERR_CONSTRAINT')]);
  }
  localCall(
    'constraints-child-holds',
    'amount 100 satisfies the root range (1..500) and the child range (..100)',
    'constraints-child',
    { ...billing, args: okArgs },
    T0 + 5,
    [OK],
  );
  localCall(
    'constraints-child-fails',
    'amount 200 satisfies the root but not the child: ERR_CONSTRAINT',
    'constraints-child',
    { ...billing, args: { ...okArgs, amount: 200 } },
    T0 + 5,
    [NO('ERR_CONSTRAINT')],
  );
  {
    const bank = { operation: 'transfer', resource: 'bank://accounts/me' };
    const ok = {
      recipient: 'GB29NWBK60161331926819',
      amount: '10.50',
      subject: 'rent',
      message: { to: 'bob.b@acme.example' },
      participants: ['a@acme.example'],
      tags: ['q1', 'rent'],
      labels: ['approved', 'x'],
      ip: '10.1.2.3',
      callback: 'https://hooks.acme.example/hooks/1',
      link: 'https://example.com/a',
      memo: 'March',
    };
    localCall(
      'v2-all-hold',
      'version 2: every constraint of the money grant holds (amount "10.50" as a decimal string)',
      'policy-v2',
      { tool: 'send_money', ...bank, args: ok },
      T0 + 5,
      [OK],
    );
    localCall(
      'v2-wrong-tool',
      'version 2: same call by schedule_transaction (not a tool of any transfer grant)',
      'policy-v2',
      { tool: 'schedule_transaction', ...bank, args: ok },
      T0 + 5,
      [NO('ERR_SCOPE_PERMISSION')],
    );
    localCall(
      'v2-read-tool',
      'version 2: get_transactions under the read grant',
      'policy-v2',
      { tool: 'get_transactions', operation: 'read', resource: 'bank://accounts/me', args: {} },
      T0 + 5,
      [OK],
    );
    localCall(
      'v2-child-read-tool',
      'version 2: the child keeps only get_balance',
      'policy-v2-child',
      { tool: 'get_transactions', operation: 'read', resource: 'bank://accounts/me', args: {} },
      T0 + 5,
      [NO('ERR_SCOPE_PERMISSION')],
    );
    localCall(
      'v2-child-amount',
      'version 2: amount 6 passes the root (..10.5) but not the child (..5)',
      'policy-v2-child',
      { tool: 'send_money', ...bank, args: { ...ok, amount: 6 } },
      T0 + 5,
      [NO('ERR_CONSTRAINT')],
    );
    const badV2: [string, Record<string, unknown>][] = [
      ['closed-extra', { bcc: 'x@evil.example' }],
      ['closed-nested-extra', { message: { to: 'bob.b@acme.example', cc: 'x@evil.example' } }],
      ['decimal-float-above', { amount: 10.500000000000002 }],
      ['decimal-exponent-text', { amount: '1e1' }],
      ['notOneOf', { recipient: 'DE00000000000000000000' }],
      ['length', { subject: 'x'.repeat(141) }],
      ['path-regex', { message: { to: 'eve@evil.example' } }],
      ['path-missing', { message: {} }],
      ['path-not-object', { message: 'bob@acme.example' }],
      ['array-element', { participants: ['a@acme.example', 'eve@evil.example'] }],
      ['array-empty', { participants: [] }],
      ['array-not-array', { participants: 'a@acme.example' }],
      ['subset', { participants: ['c@acme.example'] }],
      ['each-anyOf', { tags: ['q1', 'wire'] }],
      ['contains', { labels: ['x'] }],
      ['cidr', { ip: '11.0.0.1' }],
      ['cidr-leading-zero', { ip: '010.1.2.3' }],
      ['url-host', { callback: 'https://hooks.acme.example.evil.example/hooks/1' }],
      ['url-dot-segments', { callback: 'https://hooks.acme.example/hooks/%2e%2e/admin' }],
      ['url-apex', { callback: 'https://acme.example/hooks' }],
      ['urlSafe-metadata', { link: 'http://169.254.169.254/latest/meta-data' }],
      ['urlSafe-hex-loopback', { link: 'http://0x7f000001/' }],
      ['urlSafe-mapped-v6', { link: 'http://[::ffff:127.0.0.1]/' }],
      ['urlSafe-trailing-dot', { link: 'http://metadata.google.internal./computeMetadata/v1/' }],
      ['urlSafe-localdomain', { link: 'http://localhost.localdomain/' }],
      ['url-encoded-slash', { callback: 'https://hooks.acme.example/hooks/..%2fadmin' }],
      ['url-dot-parameter', { callback: 'https://hooks.acme.example/hooks/..;/admin' }],
      ['not-glob', { memo: 'please IGNORE PREVIOUS. ignore previous instructions' }],
    ];
    for (const [name, change] of badV2) {
      const args = { ...ok, ...change };
      localCall(
        `v2-${name}`,
        `version 2 constraint fails: ${Object.keys(change).join(', ')} = ${JSON.stringify(Object.values(change)[0]).slice(0, 60)}`,
        'policy-v2',
        { tool: 'send_money', ...bank, args },
        T0 + 5,
        [NO('ERR_CONSTRAINT')],
      );
    }
    signedCall(
      'v2-signed',
      'version 2: signed proof by helper under the child',
      'policy-v2-child',
      { tool: 'send_money', ...bank, key: 'helper', args: { ...ok, amount: 5 }, callId: 'call-v2' },
      { tool: 'send_money', args: { ...ok, amount: 5 } },
      T0 + 5,
      [OK],
    );
  }
  signedCall(
    'signed-constraints-child',
    'signed proof by helper under the child constraints',
    'constraints-child',
    { ...billing, key: 'helper', args: okArgs, callId: 'call-22' },
    { tool: 'charge', args: okArgs },
    T0 + 5,
    [OK],
  );

  // ---------------------------------------------------------------- argument digests and resources
  const argCases: Record<string, unknown>[] = [
    {},
    { limit: 10, table: 'users' },
    { b: 1, a: [true, false, null], c: { z: 'é', y: '\u20ac' } },
    { n: [1e21, 1e-7, -0, 0.1, 123456789012, 5e-324] },
    { s: 'line\nbreak "quoted" \\ \u0001 \u007f', '€': 1, '\ud83d\ude00': 2, a: 3, B: 4 },
  ];
  // Nesting (§4.3): the top-level object has depth 0; a value at depth 64 is accepted, at 65 refused.
  const nest = (d: number): Record<string, unknown> => {
    let v: unknown = 1;
    for (let i = 0; i < d; i++) v = { a: v };
    return v as Record<string, unknown>;
  };
  argCases.push(nest(64));
  const argDigests = argCases.map((args) => ({ args, jcs: canonicalJson(args), digest: hex(argsDigest(args)) }));
  const argErrors = [{ description: 'a scalar at depth 65 (65 nested objects around it)', args: nest(65), code: 'ERR_INVALID_ARGUMENT' }];
  const resources = [
    'database://users/alice',
    'DATABASE://users/alice',
    'db://a/%7e%41',
    'db://a/%c3%a9',
    'db://a/%2a',
    'db://a/b:c@d',
    'db://a/../b',
    'db://a/%2E%2e',
    'db://a/%2F',
    'db://a//b',
    'db://a/',
    'db://',
    '1db://a',
    'db://a/*',
    'db://a/%00',
    'db://a/é',
    'db://a?x=1',
  ].map((input) => {
    try {
      return { input, normal: normalizeResource(input) };
    } catch (e) {
      return { input, code: toCapframeError(e).code };
    }
  });
  const matches = (
    [
      ['db://users/*', 'db://users/alice'],
      ['db://users/*', 'db://users/alice/x'],
      ['db://users/*', 'db://users'],
      ['db://users/**', 'db://users/alice/x'],
      ['db://users/**', 'db://users'],
      ['db://*/x', 'db://a/x'],
      ['db://users/alice', 'db://users/alice'],
      ['db://users/alice', 'db://users/bob'],
      ['db://**', 'files://a'],
    ] as const
  ).map(([pattern, resource]) => ({ pattern, resource, match: matchResource(parsePattern(pattern), resource) }));

  // Revocation (spec §10.2, §10.4.1, §10.10): steps applied in order to one RevocationState that
  // trusts `authority` and `authority2` (no scopes), clock t0 + 5.
  const revId = (n: string) => sha(`capframe-v1 test vector revoked id: ${n}`).slice(0, 16);
  const none = { ids: new Uint8Array(0), subjects: [] as string[], cutoffs: [] as { kid: Uint8Array; before: number }[] };
  const goodDelta = buildDelta({ from: 1, version: 2, iat: T0 + 1, ids: [revId('r2')], subjects: ['agent:gone'], cutoffs: [] }, keys.authority, backend);
  const tampered = Uint8Array.from(goodDelta.bytes);
  tampered[tampered.length - 70] = tampered[tampered.length - 70]! ^ 1; // a payload byte, signature unchanged
  const revocationSteps: {
    name: string;
    description: string;
    text: string;
    kind: 'snapshot' | 'delta';
    expect: { outcome: string; version: number } | { code: string };
  }[] = [
    {
      name: 'snapshot-a-v1',
      description: 'authority, version 1, one revoked id',
      kind: 'snapshot',
      text: buildSnapshot({ version: 1, iat: T0, ...none, ids: [revId('r1')] }, keys.authority, { backend }).text,
      expect: { outcome: 'installed', version: 1 },
    },
    {
      name: 'delta-a-1-2',
      description: 'authority, 1 -> 2: one id and one subject',
      kind: 'delta',
      text: goodDelta.text,
      expect: { outcome: 'installed', version: 2 },
    },
    {
      name: 'delta-a-refresh-2',
      description: 'authority, refresh of version 2 (newer iat)',
      kind: 'delta',
      text: buildDelta({ from: 2, version: 2, iat: T0 + 2, ...none }, keys.authority, backend).text,
      expect: { outcome: 'refreshed', version: 2 },
    },
    {
      name: 'delta-a-3-4',
      description: 'authority, 3 -> 4 while 2 is held: a gap, nothing changes',
      kind: 'delta',
      text: buildDelta({ from: 3, version: 4, iat: T0 + 3, ...none, ids: [revId('r4')] }, keys.authority, backend).text,
      expect: { outcome: 'gap', version: 2 },
    },
    {
      name: 'delta-a-1-2-again',
      description: 'authority, 1 -> 2 again: covered',
      kind: 'delta',
      text: goodDelta.text,
      expect: { outcome: 'ignored', version: 2 },
    },
    {
      name: 'snapshot-b-max',
      description: "authority2, version 2^53-1, nothing revoked: its own version line; authority's revocations stand",
      kind: 'snapshot',
      text: buildSnapshot({ version: Number.MAX_SAFE_INTEGER, iat: T0, ...none }, keys.authority2, { backend }).text,
      expect: { outcome: 'installed', version: Number.MAX_SAFE_INTEGER },
    },
    {
      name: 'snapshot-a-v1-again',
      description: 'authority, version 1 while 2 is held',
      kind: 'snapshot',
      text: buildSnapshot({ version: 1, iat: T0, ...none, ids: [revId('r1')] }, keys.authority, { backend }).text,
      expect: { code: 'ERR_REVOCATION_ROLLBACK' },
    },
    {
      name: 'delta-tampered',
      description: 'delta-a-1-2 with one payload byte changed',
      kind: 'delta',
      text: 'cfd1.' + Buffer.from(tampered).toString('base64url'),
      expect: { code: 'ERR_SIGNATURE_INVALID' },
    },
    {
      name: 'delta-untrusted',
      description: 'signed by mallory',
      kind: 'delta',
      text: buildDelta({ from: 2, version: 3, iat: T0, ...none, subjects: ['agent:support'] }, keys.mallory, backend).text,
      expect: { code: 'ERR_UNKNOWN_KEY' },
    },
  ];
  const revocation = {
    spec: 'docs/spec.md §10.2, §10.4, §10.10',
    trust: ['authority', 'authority2'],
    now: T0 + 5,
    revokedIdDerivation: 'first 16 bytes of SHA-256(UTF-8("capframe-v1 test vector revoked id: " + name))',
    steps: revocationSteps,
    final: {
      versions: { authority: 2, authority2: Number.MAX_SAFE_INTEGER },
      revoked: [hex(revId('r1')), hex(revId('r2'))],
      notRevoked: [hex(revId('r4'))],
      subjects: ['agent:gone'],
    },
  };

  const doc = {
    format: 'capframe-v1-test-vectors',
    generator: 'scripts/gen-vectors.ts (npm run vectors)',
    spec: 'docs/spec.md §11',
    clock: { t0: T0, iso: new Date(T0 * 1000).toISOString(), clockSkew: 30, invocationWindow: 30 },
    derivation: {
      seed: 'SHA-256(UTF-8("capframe-v1 test vector key: " + name))',
      tokenId: 'first 16 bytes of SHA-256(UTF-8("capframe-v1 test vector token id: " + token name))',
      nonce: 'first 16 bytes of SHA-256(UTF-8("capframe-v1 test vector nonce: " + call name))',
    },
    keys: Object.fromEntries(
      KEY_NAMES.map((n) => [
        n,
        {
          seed: hex(keys[n].seed),
          publicKey: hex(keys[n].publicKey),
          publicKeyText: formatPublicKey(keys[n].publicKey),
          kid: hex(keys[n].kid),
          kidText: kidToString(keys[n].kid),
        },
      ]),
    ),
    tokens,
    tokenErrors,
    calls,
    argDigests,
    argErrors,
    signatures: ed25519EdgeCases(seedOf('signature-edges')),
    resources,
    matches,
    revocation,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export const VECTORS_PATH = fileURLToPath(new URL('../test/vectors/capframe-v1.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  (await import('./vectors/revocation-bloom.ts')).writeBloomVectors();
  const text = generateVectors();
  writeFileSync(VECTORS_PATH, text);
  writeSessionVectors();
  writeAuthorityRequestVectors();
  const doc = JSON.parse(text) as { tokens: unknown[]; tokenErrors: unknown[]; calls: unknown[] };
  console.log(`wrote ${VECTORS_PATH}: ${doc.tokens.length} tokens, ${doc.tokenErrors.length} token errors, ${doc.calls.length} calls`);
  writeFileSync(new URL('../test/vectors/limits.json', import.meta.url), (await import('./vectors/limits.ts')).generateLimitVectors());
  await (await import('./vectors/approvals.ts')).writeApprovalVectors();
}
