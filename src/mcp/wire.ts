/**
 * How a capframe credential travels on an MCP `tools/call` (docs/spec.md
 * §4.6): a JSON object under one namespaced key, in `params._meta` or, for
 * gateways that drop `_meta` and only where the server opted in, as a
 * reserved member of `params.arguments` that is removed before anything else
 * reads the arguments (schema validation, resource template, argument digest).
 */
import { MalformedError, MissingTokenError } from '../errors.ts';

/** The `_meta` key (and reserved argument name) of a capframe credential. */
export const META_KEY = 'dev.capframe/v1';

/**
 * JSON-RPC error code of a denied call (server-defined range). The capframe
 * code is in `error.data[META_KEY].code`.
 */
export const DENIED_CODE = -32003;

/** A signed call: the token and the holder's invocation proof for exactly this call. */
export interface SignedCredential {
  readonly kind: 'signed';
  /** `cft1.` text. */
  readonly token: string;
  /** `cfi1.` (single) or `cfb1.` (batch item) text. */
  readonly proof: string;
}

/**
 * What a call can carry. Session-bound calls will be a second kind here
 * (`{ kind: 'session', ... }`, a `session` member on the wire); until then a
 * credential with any member other than `token` and `proof` is refused, so a
 * client that offers a session to a server that does not know them is told so
 * and can fall back to signed proofs.
 */
export type Credential = SignedCredential;

/** The denial a server answers: in `error.data` (JSON-RPC error) or `result._meta` (tool error result), under META_KEY. */
export interface WireDenial {
  readonly decision: 'deny';
  readonly code: string;
  readonly reason: string;
}

/** What `tools/list` advertises for a guarded tool, under `tool._meta[META_KEY]`. */
export interface AdvertisedPolicy {
  /** The resource template, e.g. `tickets://acme/{id}`. */
  readonly resource: string;
  readonly operation: string;
  /** Lifetime of a proof the server wants, seconds. */
  readonly proofWindow?: number;
  /** True when the server accepts the credential as a reserved argument (gateways that drop `_meta`). */
  readonly argumentCarrier?: boolean;
}

const MAX_TEXT = 64 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses the value under META_KEY; throws MalformedError. */
export function parseCredential(v: unknown, where: string): Credential {
  if (!isPlainObject(v)) throw new MalformedError(`${where}["${META_KEY}"] must be an object with token and proof`);
  for (const k of Object.keys(v)) {
    if (k !== 'token' && k !== 'proof') {
      throw new MalformedError(`${where}["${META_KEY}"] has unknown member ${JSON.stringify(k.slice(0, 64))} (this server takes token and proof)`);
    }
  }
  const { token, proof } = v;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TEXT)
    throw new MalformedError(`${where}["${META_KEY}"].token must be the token's cft1. text`);
  if (typeof proof !== 'string' || proof.length === 0 || proof.length > MAX_TEXT)
    throw new MalformedError(`${where}["${META_KEY}"].proof must be the invocation proof's text`);
  return { kind: 'signed', token, proof };
}

/** The token a `tools/list` request carries (for hiding tools), or undefined. Never throws. */
export function listToken(meta: unknown): string | undefined {
  if (!isPlainObject(meta)) return undefined;
  const v = meta[META_KEY];
  if (!isPlainObject(v)) return undefined;
  return typeof v.token === 'string' && v.token.length <= MAX_TEXT ? v.token : undefined;
}

/**
 * The credential of a call and the arguments the tool acts on (without the
 * reserved member). Throws MalformedError when the credential is malformed, when
 * there are two, or when the reserved argument is present but not accepted;
 * MissingTokenError when there is none.
 */
export function readCall(
  meta: unknown,
  args: Readonly<Record<string, unknown>>,
  acceptArgument: boolean,
): { credential: Credential; args: Readonly<Record<string, unknown>> } {
  const inMeta = isPlainObject(meta) && Object.prototype.hasOwnProperty.call(meta, META_KEY);
  const inArgs = Object.prototype.hasOwnProperty.call(args, META_KEY);
  if (inArgs && !acceptArgument) {
    throw new MalformedError(`argument "${META_KEY}" is reserved for capframe credentials and this server does not accept them there (argumentCarrier is off)`);
  }
  if (inMeta && inArgs) throw new MalformedError(`the call carries a capframe credential both in _meta and in its arguments`);
  if (inArgs) {
    const rest: Record<string, unknown> = {};
    for (const k of Object.keys(args)) {
      if (k === META_KEY) continue;
      Object.defineProperty(rest, k, { value: args[k], enumerable: true, writable: true, configurable: true });
    }
    return { credential: parseCredential(args[META_KEY], 'arguments'), args: rest };
  }
  if (!inMeta) throw new MissingTokenError(`the call carries no capframe credential (params._meta["${META_KEY}"])`);
  return { credential: parseCredential((meta as Record<string, unknown>)[META_KEY], '_meta'), args };
}
