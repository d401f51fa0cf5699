/**
 * The caller's side: sign each `tools/call` with the holder key and attach
 * the token and proof under `_meta["dev.capframe/v1"]` (docs/spec.md §4.6).
 *
 *   const mcp = withCapframe(client, { token, holderKey });
 *   await mcp.callTool({ name: 'read_ticket', arguments: { id: 'T-1' } });
 *
 * `withCapframe` returns the same client behind a proxy, so it can be handed
 * to anything that takes an SDK Client, e.g. `loadMcpTools` of
 * `@langchain/mcp-adapters`: the adapters build the LangChain tools and call
 * `callTool`, the proxy signs beneath them. The token and key stay in the
 * proxy: they never enter the model's view or the tool arguments (except with
 * `carrier: 'argument'`, where the credential rides in a reserved argument
 * that the server removes before anything reads the arguments).
 *
 * Which resource and operation to sign comes from a local policy (config or
 * `policies`) or, for tools without one, from the policy the server
 * advertises in `tools/list` (`serverPolicies`, on by default). A proof
 * never allows more than the token grants, and it is good for one call.
 *
 * With `serviceKey` (the server's key, pinned), calls go over a session
 * (docs/spec.md §4.7) when the server advertises sessions: one signed
 * handshake, then an HMAC tag per call, and every answer's tag is checked
 * (a forged or missing one is a denial, ERR_SESSION_ANSWER). A server
 * without sessions, or attested tools, get signed proofs. A session the
 * server no longer knows (restart) is re-opened and the call sent again once.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode as JsonRpcCode, McpError, type CallToolRequest, type ListToolsRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { equalBytes } from '../crypto/hash.ts';
import { parsePublicKey, toPublicKey, type PublicKeyInput } from '../crypto/keys.ts';
import { decodeBase64url } from '../encoding/base64url.ts';
import { SessionAnswerError } from '../errors.ts';
import { newCallId } from '../token/call-id.ts';
import { beginSession, type ClientSession, type SealedCall } from '../remote/session-client.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { CapframeError, InvalidArgumentError, NoSchemaError, type ErrorCode } from '../errors.ts';
import { errorFromCode, toCapframeError } from '../error-codes.ts';
import { createInvocation } from '../holder/invoke.ts';
import { Token } from '../token/token.ts';
import type { Clock } from '../clock.ts';
import { definePolicy, type ToolPolicy, type ToolPolicySpec } from '../config/tools.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { DENIED_CODE, META_KEY, SESSION_NONCE_METHOD, SESSION_OPEN_METHOD, type AdvertisedPolicy, type WireDenial, type WireSessionAnswer } from './wire.ts';
import { isTokenSource, type TokenSource } from '../remote/token-renewer.ts';
import { copyOwn } from './copy.ts';

export interface CapframeClientOptions {
  /** The caller's token (a Token, its `cft1.` text or bytes), or a TokenSource (a TokenRenewer: its current token on every call). */
  token: Token | string | Uint8Array | TokenSource;
  /** The token's holder key: signs every call. */
  holderKey: PrivateKey;
  /** Tool policies (the `tools:` section); they take precedence over what the server advertises. */
  config?: CapframeConfig;
  policies?: Readonly<Record<string, ToolPolicy | ToolPolicySpec>>;
  /** Use the resource template and operation the server advertises in `tools/list` for tools without a local policy. Default true. */
  serverPolicies?: boolean;
  /** Where the credential goes: `_meta` (default) or the reserved argument, for gateways that drop `_meta` (the server must opt in). */
  carrier?: 'meta' | 'argument';
  /** Send the token with `tools/list` so that a server hiding unusable tools can decide. Default true. */
  tokenOnList?: boolean;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** The server's session key (`cfk1.…` or bytes), pinned: calls go over sessions when the server offers them (§4.7). Default: the config's `mcp.client.serviceKey`. */
  serviceKey?: PublicKeyInput;
  /** Use sessions when `serviceKey` is given. Default: the config's `mcp.client.sessions`, else true. */
  sessions?: boolean;
  /** Session lifetime asked for, seconds (capped by the token and the server). Default: the config's `mcp.client.sessionTtl`, else 3600. */
  sessionTtl?: number;
}

/** Session figures of one `withCapframe` client. */
export interface CapframeSessionStats {
  handshakes: number;
  /** Calls sent again once on a new session because the server no longer knew theirs (e.g. it restarted). */
  retries: number;
  /** Calls sent with a signed proof because the server offers no sessions or refused a handshake for its limits. */
  signed: number;
  /** Answers whose tag did not verify or that allowed without one (each a denial). */
  refusedAnswers: number;
}

/** A denial the client makes itself, in the form a server's denial takes (so `denialOf` and the adapters read it). */
function denyError(code: ErrorCode, reason: string): McpError {
  const data: Record<string, WireDenial> = { [META_KEY]: { decision: 'deny', code, reason } };
  return new McpError(DENIED_CODE, `Denied by capframe (${code}): ${reason}`, data);
}

const nonceResultSchema = z.object({ nonce: z.string(), serviceKey: z.string(), expiresAt: z.number(), maxTtl: z.number() }).passthrough();
const openResultSchema = z.object({ reply: z.string(), signature: z.string() }).passthrough();

/** The capframe object of an error's data or a result's `_meta`, or undefined. */
function capframeOf(x: unknown): Record<string, unknown> | undefined {
  const holder = x instanceof McpError ? x.data : typeof x === 'object' && x !== null ? (x as { _meta?: unknown })._meta : undefined;
  const v = (holder as Record<string, unknown> | undefined)?.[META_KEY];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

type CallParams = CallToolRequest['params'];

type SigningOptions = Pick<CapframeClientOptions, 'holderKey' | 'carrier' | 'clock' | 'backend'>;

/** Signs one call and attaches the credential to its params. Throws a CapframeError (e.g. ERR_SCOPE_RESOURCE from the template). */
export function signCallParams(params: CallParams, policy: ToolPolicy, o: SigningOptions & { token: Token | string | Uint8Array }): CallParams {
  return signParams(params, policy, Token.parse(o.token), o);
}

/** The arguments of a call, checked: an object without the reserved member. */
function callArgs(params: CallParams): Record<string, unknown> {
  if (!params || typeof params.name !== 'string') throw new InvalidArgumentError('callTool needs { name, arguments }');
  const args = params.arguments ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new InvalidArgumentError('tool arguments must be an object');
  if (Object.prototype.hasOwnProperty.call(args, META_KEY)) throw new InvalidArgumentError(`argument "${META_KEY}" is reserved for capframe credentials`);
  return args;
}

/**
 * The params as sent: the credential under `_meta[META_KEY]` or as the
 * reserved argument; the caller's params are not changed. Object literals,
 * not spreads of `o`: this runs on every call.
 */
function attach(params: CallParams, args: Record<string, unknown>, credential: object, carrier: 'meta' | 'argument' | undefined): CallParams {
  const out = copyOwn(params);
  if (carrier === 'argument') {
    const withCredential = copyOwn(args);
    withCredential[META_KEY] = credential;
    out.arguments = withCredential;
    return out as CallParams;
  }
  const meta = params._meta === undefined ? {} : copyOwn(params._meta);
  meta[META_KEY] = credential;
  out.arguments = args;
  out._meta = meta;
  return out as CallParams;
}

function signParams(params: CallParams, policy: ToolPolicy, token: Token, o: SigningOptions): CallParams {
  const args = callArgs(params);
  const io: Parameters<typeof createInvocation>[1] = {
    key: o.holderKey,
    tool: params.name,
    operation: policy.operation,
    resource: policy.resource.render(args),
    args,
  };
  if (policy.proofWindow !== undefined) io.ttl = policy.proofWindow;
  if (o.clock) io.clock = o.clock;
  if (o.backend) io.backend = o.backend;
  const proof = createInvocation(token, io);
  return attach(params, args, { token: String(token), proof: String(proof) }, o.carrier);
}

/** The capframe denial in an error thrown by `callTool` (JSON-RPC error) or in a tool result, or undefined. */
export function denialOf(x: unknown): { code: ErrorCode; reason: string; error: CapframeError } | undefined {
  let holder: unknown;
  if (x instanceof McpError) holder = x.data;
  else if (typeof x === 'object' && x !== null) holder = (x as { _meta?: unknown })._meta;
  const d = (holder as Record<string, unknown> | undefined)?.[META_KEY] as Partial<WireDenial> | undefined;
  if (!d || d.decision !== 'deny' || typeof d.code !== 'string' || !/^ERR_[A-Z_]{1,40}$/.test(d.code)) return undefined;
  const code = d.code as ErrorCode;
  const reason = typeof d.reason === 'string' ? d.reason : '';
  return { code, reason, error: errorFromCode(code, reason) };
}

/** The policy a server advertises for a tool, compiled; undefined when absent or unusable. */
function advertisedPolicy(name: string, meta: unknown): ToolPolicy | undefined {
  const a = (meta as Record<string, unknown> | undefined)?.[META_KEY] as Partial<AdvertisedPolicy> | undefined;
  if (!a || typeof a.resource !== 'string' || typeof a.operation !== 'string') return undefined;
  try {
    return definePolicy(name, { resource: a.resource, operation: a.operation, ...(typeof a.proofWindow === 'number' ? { proofWindow: a.proofWindow } : {}) });
  } catch {
    return undefined;
  }
}

/**
 * The SDK client behind a proxy whose `callTool` signs every call and whose
 * `listTools` sends the token and learns the advertised policies. Everything
 * else is the client itself.
 */
export function withCapframe<C extends Client>(client: C, options: CapframeClientOptions): C {
  if (!options || !options.holderKey || options.holderKey.kind !== 'private') throw new InvalidArgumentError('withCapframe needs the holder private key');
  const source = isTokenSource(options.token) ? options.token : undefined;
  const fixed = source ? undefined : Token.parse(options.token as Token | string | Uint8Array);
  /** The token of the moment: a source's current one (renewed before it expires), else the fixed one. */
  const tokenNow = async (): Promise<Token> => fixed ?? (await source!.current());
  const local = new Map<string, ToolPolicy>(Object.entries(options.config?.tools ?? {}));
  for (const [name, p] of Object.entries(options.policies ?? {})) {
    local.set(name, typeof p.resource === 'object' ? (p as ToolPolicy) : definePolicy(name, p as ToolPolicySpec));
  }
  const useServer = options.serverPolicies !== false;
  const advertised = new Map<string, ToolPolicy>();

  const listTools = async (params?: ListToolsRequest['params'], requestOptions?: Parameters<C['listTools']>[1]) => {
    const p = options.tokenOnList === false ? params : { ...params, _meta: { ...params?._meta, [META_KEY]: { token: String(await tokenNow()) } } };
    const result = await client.listTools(p, requestOptions);
    if (useServer) {
      for (const t of result.tools) {
        const policy = advertisedPolicy(t.name, t._meta);
        if (policy) advertised.set(t.name, policy);
        else advertised.delete(t.name);
      }
    }
    return result;
  };

  const knownPolicy = (name: string): ToolPolicy | undefined => local.get(name) ?? (useServer ? advertised.get(name) : undefined);
  const policyFor = async (name: string): Promise<ToolPolicy> => {
    const p = knownPolicy(name);
    if (p) return p;
    if (useServer) {
      let cursor: string | undefined;
      do {
        const page = await listTools(cursor ? { cursor } : undefined);
        cursor = page.nextCursor;
      } while (cursor && !advertised.has(name));
      const q = advertised.get(name);
      if (q) return q;
    }
    throw new NoSchemaError(`no capframe policy for MCP tool "${name}" (none in the config, none advertised by the server)`);
  };

  const stats: CapframeSessionStats = { handshakes: 0, retries: 0, signed: 0, refusedAnswers: 0 };
  const fromConfig = options.config?.mcp?.client;
  const pinned = options.serviceKey ?? fromConfig?.serviceKey;
  const wantSessions = (options.sessions ?? fromConfig?.sessions) !== false;
  const serviceKey = pinned !== undefined && wantSessions ? toPublicKey(pinned) : undefined;
  const sessionTtl = options.sessionTtl ?? fromConfig?.sessionTtl ?? 3600;
  if (!Number.isInteger(sessionTtl) || sessionTtl < 60) throw new InvalidArgumentError('sessionTtl must be a whole number of seconds, at least 60');
  /** False once the server turned out to lack the handshake methods. */
  let serverHasSessions = true;
  let slot: { token: string; opening: Promise<ClientSession | undefined>; session?: ClientSession } | undefined;

  /** The server offers sessions: its initialize result names them (§4.7). */
  const offered = (): boolean => {
    const c = client.getServerCapabilities()?.experimental?.[META_KEY] as { sessions?: unknown } | undefined;
    return serverHasSessions && typeof c?.sessions === 'object' && c.sessions !== null;
  };

  /** One handshake: nonce, signed hello, the pinned server's signed reply. Undefined: use signed proofs. */
  const handshake = async (t: Token): Promise<ClientSession | undefined> => {
    try {
      const n = await client.request({ method: SESSION_NONCE_METHOD, params: {} }, nonceResultSchema);
      let offeredKey: Uint8Array | undefined;
      try {
        offeredKey = parsePublicKey(n.serviceKey);
      } catch {
        offeredKey = undefined;
      }
      if (!offeredKey || !equalBytes(offeredKey, serviceKey!)) throw new SessionAnswerError('the MCP server presents another session key than the pinned one');
      const ttl = Math.max(1, Math.min(sessionTtl, n.maxTtl));
      const pending = beginSession(t, options.holderKey, {
        serviceKey: serviceKey!,
        nonce: decodeBase64url(n.nonce),
        ttl,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.backend ? { backend: options.backend } : {}),
      });
      const o = await client.request({ method: SESSION_OPEN_METHOD, params: { ...pending.request } }, openResultSchema);
      stats.handshakes++;
      return pending.finish(decodeBase64url(o.reply), decodeBase64url(o.signature));
    } catch (e) {
      if (e instanceof McpError && e.code === JsonRpcCode.MethodNotFound) {
        serverHasSessions = false;
        return undefined;
      }
      const d = denialOf(e);
      if (d?.code === 'ERR_SESSION_LIMIT') return undefined;
      if (d) throw denyError(d.code, `session handshake refused: ${d.reason}`);
      const err = toCapframeError(e, 'ERR_SESSION_ANSWER');
      throw denyError(err.code, err.message);
    }
  };

  /** The live session for this token (shared by concurrent calls), opened when there is none or it ends within 30 s. */
  const sessionFor = (t: Token): Promise<ClientSession | undefined> => {
    const text = String(t);
    if (slot && slot.token === text && (!slot.session || slot.session.usable(30))) return slot.session ? Promise.resolve(slot.session) : slot.opening;
    const next: NonNullable<typeof slot> = { token: text, opening: handshake(t) };
    slot = next;
    next.opening.then(
      (s) => {
        if (s) next.session = s;
        else if (slot === next) slot = undefined;
      },
      () => {
        if (slot === next) slot = undefined;
      },
    );
    return next.opening;
  };

  /** One session call: sealed, sent, its answer opened. `retry`: a session the server does not know is re-opened once. */
  const sessionCall = async (
    session: ClientSession,
    t: Token,
    params: CallParams,
    policy: ToolPolicy,
    resultSchema: Parameters<C['callTool']>[1],
    requestOptions: Parameters<C['callTool']>[2],
    retry: boolean,
  ): Promise<Awaited<ReturnType<C['callTool']>>> => {
    const args = callArgs(params);
    const call = { tool: params.name, operation: policy.operation, resource: policy.resource.render(args), args, callId: newCallId() };
    const sealed: SealedCall = policy.proofWindow !== undefined ? session.seal(call, policy.proofWindow) : session.seal(call);
    const e = sealed.envelope;
    const sent = attach(params, args, { session: e.session, counter: e.counter, callId: e.callId, exp: e.exp, tag: e.tag }, options.carrier);
    let outcome: unknown;
    let threw = false;
    try {
      outcome = await client.callTool(sent, resultSchema, requestOptions);
    } catch (err) {
      outcome = err;
      threw = true;
    }
    const cf = capframeOf(outcome);
    const answer = cf?.session as WireSessionAnswer | undefined;
    const isDenial = threw || cf?.decision === 'deny';
    if (isDenial) {
      const d = denialOf(outcome);
      if (!d) throw outcome; // not a capframe denial (transport, tool error): as the SDK gave it
      if (d.code === 'ERR_SESSION_UNKNOWN' && retry) {
        if (slot?.session === session) slot = undefined;
        stats.retries++;
        const next = await sessionFor(t);
        if (next) return sessionCall(next, t, params, policy, resultSchema, requestOptions, false);
        stats.signed++;
        return (await client.callTool(signParams(params, policy, t, options), resultSchema, requestOptions)) as Awaited<ReturnType<C['callTool']>>;
      }
      // A tagged denial is checked like an allow; an untagged one can only deny (§13.6).
      const opened = answer ? session.open(sealed, answer) : undefined;
      if (opened && !opened.allowed && opened.code === 'ERR_SESSION_ANSWER') {
        stats.refusedAnswers++;
        throw denyError(opened.code, opened.reason);
      }
      throw outcome;
    }
    const opened = session.open(sealed, answer ?? ({} as WireSessionAnswer));
    if (!opened.allowed) {
      if (opened.code === 'ERR_SESSION_ANSWER') stats.refusedAnswers++;
      // The result is not this server's answer to this call: the caller gets a denial, not the result.
      throw denyError(opened.code, opened.reason);
    }
    return outcome as Awaited<ReturnType<C['callTool']>>;
  };

  const callTool = async (params: CallParams, resultSchema?: Parameters<C['callTool']>[1], requestOptions?: Parameters<C['callTool']>[2]) => {
    const policy = knownPolicy(params?.name) ?? (await policyFor(params?.name));
    const t = fixed ?? (await source!.current());
    if (serviceKey && !policy.attested && offered()) {
      const session = await sessionFor(t);
      if (session) return sessionCall(session, t, params, policy, resultSchema, requestOptions, true);
    }
    if (serviceKey) stats.signed++;
    return client.callTool(signParams(params, policy, t, options), resultSchema, requestOptions);
  };

  const proxy = new Proxy(client, {
    get(target, prop) {
      if (prop === 'callTool') return callTool;
      if (prop === 'listTools') return listTools;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  statsOf.set(proxy, stats);
  return proxy;
}

const statsOf = new WeakMap<object, CapframeSessionStats>();

/** The session figures of a client made by `withCapframe` (undefined for any other object). */
export function capframeSessionStats(client: object): Readonly<CapframeSessionStats> | undefined {
  return statsOf.get(client);
}
