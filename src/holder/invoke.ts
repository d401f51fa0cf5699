/**
 * Invocation proofs (docs/spec.md §4): the holder signs one tool call, for a
 * verifier in another process.
 */
import { randomBytes } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import { equalBytes } from '../crypto/hash.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { InvalidArgumentError } from '../errors.ts';
import { argsDigest } from '../token/args.ts';
import { decodeRootPayload, decodeDelegationPayload } from '../token/block.ts';
import { encodeInvocationPayload, Invocation, checkName } from '../token/invocation.ts';
import { DEFAULTS, LIMITS } from '../token/limits.ts';
import { normalizeResource } from '../token/resource.ts';
import { Token } from '../token/token.ts';
import { systemClock, type Clock } from '../clock.ts';
import { concat } from '../authority/issue.ts';
import { parseDuration } from '../duration.ts';
import { signedMessage } from '../verify/chain.ts';
import { newCallId } from '../verify/verifier.ts';

export interface InvocationOptions {
  /** Holder key of the token's last block. */
  key: PrivateKey;
  tool: string;
  /** The one permission this call uses, e.g. `read`. */
  operation: string;
  /** The concrete resource, e.g. `database://users/table`. */
  resource: string;
  /** The tool call's arguments (JSON data). */
  args: Readonly<Record<string, unknown>>;
  /** Unique id of the call; random when absent. */
  callId?: string;
  /** Lifetime of the proof. Default 30 s, at most 300 s. */
  ttl?: string | number;
  clock?: Clock;
  backend?: Ed25519Backend;
  /**
   * @internal For deterministic test vectors (scripts/gen-vectors.ts) ONLY;
   * never set in production. Fixes the 16-byte nonce, which is otherwise random.
   */
  nonce?: Uint8Array;
}

function tipHolder(token: Token): Uint8Array {
  const last = token.blocks[token.blocks.length - 1]!;
  return token.blocks.length === 1 ? decodeRootPayload(last.payload).holder : decodeDelegationPayload(last.payload).holder;
}

/** Creates and signs an invocation proof for one call. */
export function createInvocation(tokenInput: Token | string | Uint8Array, o: InvocationOptions): Invocation {
  if (!o || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('createInvocation needs the holder private key');
  const token = Token.parse(tokenInput);
  if (!equalBytes(o.key.publicKey, tipHolder(token))) {
    throw new InvalidArgumentError("this key is not the token's holder key; only the holder can invoke");
  }
  if (typeof o.args !== 'object' || o.args === null || Array.isArray(o.args)) throw new InvalidArgumentError('args must be an object');
  const ttl = o.ttl === undefined ? DEFAULTS.invocationWindow : parseDuration(o.ttl);
  if (ttl > LIMITS.maxInvocationWindow) throw new InvalidArgumentError(`an invocation lives at most ${LIMITS.maxInvocationWindow} s`);
  if (o.nonce !== undefined && !(o.nonce instanceof Uint8Array && o.nonce.length === 16)) {
    throw new InvalidArgumentError('nonce must be 16 bytes');
  }
  const now = (o.clock ?? systemClock)();
  const payload = encodeInvocationPayload({
    tip: token.tip(),
    tool: checkName(o.tool, 'tool name'),
    operation: checkName(o.operation, 'operation'),
    resource: normalizeResource(o.resource),
    args: argsDigest(o.args),
    callId: checkName(o.callId ?? newCallId(), 'call id'),
    nonce: o.nonce !== undefined ? Uint8Array.from(o.nonce) : new Uint8Array(randomBytes(16)),
    iat: now,
    exp: now + ttl,
  });
  const sig = (o.backend ?? defaultBackend()).sign(o.key.seed, signedMessage('invocation', payload));
  return Invocation.fromBlock(concat(payload, sig));
}
