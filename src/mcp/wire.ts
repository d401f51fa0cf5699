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
 * A session call (docs/spec.md §4.7): the session id, the counter, the call id,
 * the call's expiry and the HMAC tag of §13.5. Tool, operation, resource and
 * arguments are not repeated: the server takes them from the call itself
 * (`params.name`, its policy, the rendered template, `params.arguments`), so
 * the tag only verifies when both sides mean the same call.
 */
export interface SessionCredential {
  readonly kind: 'session';
  /** base64url of the 16-byte session id. */
  readonly session: string;
  readonly counter: number;
  readonly callId: string;
  readonly exp: number;
  /** base64url of the 32-byte tag. */
  readonly tag: string;
}

/** What a call can carry. A server without sessions refuses the session members as unknown (ERR_MALFORMED). */
export type Credential = SignedCredential | SessionCredential;

/**
 * The session answer of §13.6 (counter, decision JSON text, tag), in the
 * result's `_meta[META_KEY].session` of an allowed call and in the denial's
 * `session` member of a denied one.
 */
export interface WireSessionAnswer {
  readonly counter: number;
  readonly decision: string;
  readonly tag?: string;
}

/** What a server with sessions advertises in its `initialize` result: `capabilities.experimental[META_KEY]`. */
export interface AdvertisedSessions {
  readonly sessions: { readonly serviceKey: string; readonly maxTtl: number };
}

/** JSON-RPC methods of the handshake (§4.7). */
export const SESSION_NONCE_METHOD = 'capframe/session/nonce';
export const SESSION_OPEN_METHOD = 'capframe/session/open';

/** The denial a server answers: in `error.data` (JSON-RPC error) or `result._meta` (tool error result), under META_KEY. */
export interface WireDenial {
  readonly decision: 'deny';
  readonly code: string;
  readonly reason: string;
  /** The session answer, when the call was a session call. */
  readonly session?: WireSessionAnswer;
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
const B64U = /^[A-Za-z0-9_-]+$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SESSION_MEMBERS = ['session', 'counter', 'callId', 'exp', 'tag'];

/** Parses the value under META_KEY; throws MalformedError. `sessions`: this server takes session calls. */
export function parseCredential(v: unknown, where: string, sessions = false): Credential {
  if (!isPlainObject(v)) throw new MalformedError(`${where}["${META_KEY}"] must be an object with token and proof`);
  if (sessions && Object.prototype.hasOwnProperty.call(v, 'session')) {
    for (const k of Object.keys(v)) {
      if (!SESSION_MEMBERS.includes(k))
        throw new MalformedError(`${where}["${META_KEY}"] has unknown member ${JSON.stringify(k.slice(0, 64))} (a session call)`);
    }
    const { session, counter, callId, exp, tag } = v;
    if (typeof session !== 'string' || session.length !== 22 || !B64U.test(session))
      throw new MalformedError(`${where}["${META_KEY}"].session must be a session id`);
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1)
      throw new MalformedError(`${where}["${META_KEY}"].counter must be a positive integer`);
    if (typeof callId !== 'string' || callId.length === 0 || callId.length > 256) throw new MalformedError(`${where}["${META_KEY}"].callId must be text`);
    if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < 0) throw new MalformedError(`${where}["${META_KEY}"].exp must be unix seconds`);
    if (typeof tag !== 'string' || tag.length !== 43 || !B64U.test(tag))
      throw new MalformedError(`${where}["${META_KEY}"].tag must be a 32-byte base64url tag`);
    return { kind: 'session', session, counter, callId, exp, tag };
  }
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
  sessions = false,
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
    return { credential: parseCredential(args[META_KEY], 'arguments', sessions), args: rest };
  }
  if (!inMeta) throw new MissingTokenError(`the call carries no capframe credential (params._meta["${META_KEY}"])`);
  return { credential: parseCredential((meta as Record<string, unknown>)[META_KEY], '_meta', sessions), args };
}
