/**
 * capframe in front of an MCP server's tools: every `tools/call` must carry
 * the caller's token and a signed invocation proof for exactly this call
 * (docs/spec.md §4.6). The proof is checked by the Verifier (tool = the MCP
 * tool name, operation and resource from the tool's policy, argument digest
 * over the call's `arguments`, replay claimed) before the McpServer sees the
 * request: a denied call never reaches input validation or the handler.
 *
 *   const server = new McpServer({ name: 'tickets', version: '1.0.0' });
 *   guardMcpServer(server, { config });          // before registerTool
 *   server.registerTool('read_ticket', { inputSchema: { id: z.string() } }, handler);
 *
 * With `sessions` (docs/spec.md §4.7), the server also answers the session
 * handshake (`capframe/session/nonce`, `capframe/session/open`), advertises
 * it in its capabilities, and takes session calls: an HMAC tag per call
 * checked by the SessionTable instead of a signature, with the answer tagged
 * in the result's `_meta`. Signed proofs are still accepted.
 *
 * The guard installs itself by wrapping the server's `tools/call` and
 * `tools/list` handlers as the McpServer registers them, and each tool
 * callback as it is registered (so the server must be guarded before its
 * first tool). The callback wrapper checks that the handler acts on the
 * values that were verified: the tool's input schema may not change an
 * argument the resource template or a constraint reads.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, type CallToolResult, type ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { equalBytes } from '../crypto/hash.ts';
import { formatPublicKey, parsePublicKey } from '../crypto/keys.ts';
import type { Signer } from '../crypto/signer.ts';
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';
import {
  ConfigError,
  ConstraintError,
  InvalidArgumentError,
  InvocationMismatchError,
  MalformedError,
  NoSchemaError,
  UnauthorizedError,
  type ErrorCode,
} from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import { checkConstraint } from '../token/constraints.ts';
import type { Chain } from '../token/chain.ts';
import { Verifier, type Decision } from '../verify/verifier.ts';
import { SessionTable, type SessionCall, type SessionTableOptions } from '../verify/session-table.ts';
import { decisionToJson, sessionOpenSchema } from '../remote/wire.ts';
import { definePolicy, type ToolPolicy, type ToolPolicySpec } from '../config/tools.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { mcpVerifierFromConfig } from './verifier.ts';
import { sessionTableFromConfig } from './sessions-from-config.ts';
import {
  DENIED_CODE,
  listToken,
  META_KEY,
  readCall,
  SESSION_NONCE_METHOD,
  SESSION_OPEN_METHOD,
  type AdvertisedPolicy,
  type AdvertisedSessions,
  type Credential,
  type WireDenial,
  type WireSessionAnswer,
} from './wire.ts';
import { mayUse } from './visible.ts';
import { copyOwn } from './copy.ts';

/** One decision, for logs and audit: ids and digests, never the token, the proof or the arguments. */
export interface McpDecisionEvent {
  readonly decision: 'allow' | 'deny';
  readonly code: 'OK' | ErrorCode;
  readonly reason?: string;
  readonly tool: string;
  readonly operation?: string;
  readonly resource?: string;
  readonly callId?: string;
  readonly argsDigest?: string;
  readonly subject?: string;
  readonly tokenIds?: readonly string[];
  /** Where the credential came from. */
  readonly carrier: 'meta' | 'argument' | 'none';
  /** Which path decided: a signed proof or a session call (§13.1: only a signed proof proves the holder's intent to a third party). */
  readonly mode: 'signed' | 'session';
  /** The transport's session id, when it has one (Streamable HTTP). */
  readonly sessionId?: string;
}

/** Binding of the capframe token to the client that the SDK's bearer auth authenticated (`extra.authInfo`). */
export interface AuthBinding {
  /** `subject`: the token's subject must equal the identity; `holder`: the token's holder key must be the identity (a `cfk1.` key). */
  readonly bind: 'subject' | 'holder';
  /** The authenticated identity. Default: `authInfo.clientId`. */
  readonly identity?: (auth: AuthInfo) => string | undefined;
}

export interface McpGuardOptions {
  /** Trusted keys and tool policies (the `trust:` and `tools:` sections). */
  config?: CapframeConfig;
  /** Tool policies in code; they replace config policies of the same name. */
  policies?: Readonly<Record<string, ToolPolicy | ToolPolicySpec>>;
  /**
   * Default: a Verifier built from `config` with the settings of the deployment's
   * capframe service: `trust:`, `replay:` (`redis` or `sqlite` for several servers or
   * restarts) and the revocation list of the service named in `remote:` (src/mcp/verifier.ts).
   */
  verifier?: Verifier;
  /** List only the tools the caller's token may use (token sent with `tools/list`). Default false: every tool is listed. */
  hideUnusableTools?: boolean;
  /** Accept the credential as the reserved argument `dev.capframe/v1`, for gateways that drop `_meta`. Default false: such calls are refused. */
  argumentCarrier?: boolean;
  /** Require the token to belong to the OAuth-authenticated client. */
  auth?: AuthBinding;
  /** How a denial is answered: a JSON-RPC error (default) or a tool result with `isError`. The capframe code is in the data / `_meta` under `dev.capframe/v1`. */
  denyAs?: 'error' | 'result';
  /** Called once per decision. */
  onDecision?: (event: McpDecisionEvent) => void;
  /**
   * Session calls (docs/spec.md §4.7): a SessionTable (share one between the
   * McpServer instances of a deployment, built on the guard's verifier), or the
   * service signer (whose public key clients pin) and table options, to build
   * one on this guard's verifier. Default: the config's `mcp.server.sessions`
   * (src/config/mcp.ts), else no sessions (signed proofs only); `false`: no
   * sessions whatever the config says.
   */
  sessions?: SessionTable | ({ signer: Signer } & Omit<SessionTableOptions, 'verifier' | 'signer'>) | false;
}

/** What the callback wrapper needs of an allowed call. */
interface Checked {
  /** The arguments as verified (without the reserved member). */
  readonly args: Readonly<Record<string, unknown>>;
  /** Argument names the resource template and constraints read. */
  readonly guarded: readonly string[];
}

type Extra = { authInfo?: AuthInfo; sessionId?: string };

const nonceRequestSchema = z.object({ method: z.literal(SESSION_NONCE_METHOD), params: z.record(z.string(), z.unknown()).optional() });
const openRequestSchema = z.object({ method: z.literal(SESSION_OPEN_METHOD), params: z.record(z.string(), z.unknown()).optional() });
type CallRequest = { method: string; params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } & Record<string, unknown> };
type Handler = (request: unknown, extra: unknown) => unknown;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Same JSON value (the arguments came as JSON; the schema may have copied them). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export class McpGuard {
  readonly verifier: Verifier;
  readonly hideUnusableTools: boolean;
  readonly argumentCarrier: boolean;
  readonly denyAs: 'error' | 'result';
  readonly #auth: AuthBinding | undefined;
  readonly #onDecision: ((e: McpDecisionEvent) => void) | undefined;
  readonly #policies = new Map<string, ToolPolicy>();
  /** Allowed calls between the request check and the tool callback, by the request's `extra` object. */
  readonly #pending = new WeakMap<object, Checked>();
  /** What the guard built from the config (revocation sync, replay store): its to close. */
  readonly #built: { ready: Promise<void>; close(): Promise<void> } | undefined;
  /** Session calls, when enabled. */
  readonly sessions: SessionTable | undefined;

  constructor(options: McpGuardOptions) {
    const { config } = options ?? {};
    if (options?.verifier) this.verifier = options.verifier;
    else if (config) {
      // The config's replay store: Redis or SQLite shares it between servers and across restarts.
      // A stdio server starts with each client, so the memory store's restart rule (refuse proofs
      // issued before the start) would refuse every first call: with the memory store, a proof is
      // accepted once per server process.
      const built = mcpVerifierFromConfig(config);
      this.#built = built;
      this.verifier = built.verifier;
    } else throw new InvalidArgumentError('guardMcpServer needs a config or a verifier');
    for (const [name, p] of Object.entries(config?.tools ?? {})) this.#policies.set(name, p);
    for (const [name, p] of Object.entries(options.policies ?? {})) this.addPolicy(name, p);
    if (options.auth && options.auth.bind !== 'subject' && options.auth.bind !== 'holder')
      throw new InvalidArgumentError('auth.bind must be "subject" or "holder"');
    this.hideUnusableTools = options.hideUnusableTools === true;
    this.argumentCarrier = options.argumentCarrier === true;
    this.denyAs = options.denyAs === 'result' ? 'result' : 'error';
    this.#auth = options.auth;
    this.#onDecision = options.onDecision;
    const so = options.sessions;
    if (so instanceof SessionTable) this.sessions = so;
    else if (so) this.sessions = new SessionTable({ ...so, verifier: this.verifier });
    else if (so === undefined && config) this.sessions = this.#sessionsFromConfig(config);
  }

  #sessionsFromConfig(config: CapframeConfig): SessionTable | undefined {
    try {
      return sessionTableFromConfig(config, this.verifier);
    } catch (e) {
      void this.#built?.close().catch(() => {});
      throw e;
    }
  }

  /**
   * Resolves once a verifier built from the config has its first revocation list (or
   * failed to get it: calls are then denied as stale until it does). Never rejects.
   */
  ready(): Promise<void> {
    return this.#built?.ready ?? Promise.resolve();
  }

  /** Stops what the guard built from the config (revocation sync, replay store connection). A given `verifier` is the caller's to close. */
  async close(): Promise<void> {
    await this.#built?.close();
  }

  /** Adds or replaces the policy of one tool (ERR_CONFIG when the spec is invalid). */
  addPolicy(tool: string, p: ToolPolicy | ToolPolicySpec): ToolPolicy {
    const policy = typeof p.resource === 'object' ? (p as ToolPolicy) : definePolicy(tool, p as ToolPolicySpec);
    this.#policies.set(tool, policy);
    return policy;
  }

  policy(tool: string): ToolPolicy | undefined {
    return this.#policies.get(tool);
  }

  /** Installs the guard on an McpServer that has no tools yet. */
  install(server: McpServer): void {
    const inner = server.server;
    try {
      inner.assertCanSetRequestHandler('tools/call');
    } catch {
      throw new ConfigError(
        'guardMcpServer: the McpServer already handles tools/call (it has tools, or was created with a tools capability); guard it right after new McpServer(...), before registerTool',
      );
    }
    const set = inner.setRequestHandler.bind(inner) as (schema: unknown, handler: Handler) => void;
    (inner as { setRequestHandler: unknown }).setRequestHandler = (schema: unknown, handler: Handler) => {
      if (schema === CallToolRequestSchema) return set(schema, (req, extra) => this.#call(handler, req as CallRequest, extra as Extra));
      if (schema === ListToolsRequestSchema) return set(schema, (req, extra) => this.#list(handler, req as CallRequest, extra));
      return set(schema, handler);
    };
    if (this.sessions) this.#installSessions(inner);
    const register = server.registerTool.bind(server) as (name: string, config: unknown, cb: (...a: unknown[]) => unknown) => unknown;
    (server as { registerTool: unknown }).registerTool = (name: string, config: unknown, cb: (...a: unknown[]) => unknown) =>
      register(name, config, this.#wrap(cb));
    const tool = server.tool.bind(server) as (...a: unknown[]) => unknown;
    (server as { tool: unknown }).tool = (...a: unknown[]) => {
      const cb = a[a.length - 1];
      if (typeof cb !== 'function') return tool(...a);
      return tool(...a.slice(0, -1), this.#wrap(cb as (...b: unknown[]) => unknown));
    };
  }

  /**
   * The handshake as two JSON-RPC methods (§4.7), and the capability that
   * tells clients this server takes session calls and which key signs its
   * replies (clients check it against the key they pinned).
   */
  #installSessions(inner: McpServer['server']): void {
    const table = this.sessions!;
    const advertised: AdvertisedSessions = { sessions: { serviceKey: formatPublicKey(table.signer.publicKey), maxTtl: table.maxTtl } };
    inner.registerCapabilities({ experimental: { [META_KEY]: advertised as unknown as Record<string, unknown> } });
    const refuse = (e: unknown): never => {
      const error = toCapframeError(e);
      const data: Record<string, WireDenial> = { [META_KEY]: { decision: 'deny', code: error.code, reason: error.message } };
      throw new McpError(DENIED_CODE, `Session refused by capframe (${error.code}): ${error.message}`, data);
    };
    inner.setRequestHandler(nonceRequestSchema, (_req, extra) => {
      try {
        const e = extra as Extra;
        // The rate limit's client: the OAuth client when there is one, else the transport's session.
        const client = e.authInfo?.clientId ? `oauth:${e.authInfo.clientId}` : `mcp:${e.sessionId ?? 'anonymous'}`;
        const n = table.nonce(client);
        return { nonce: encodeBase64url(n.nonce), serviceKey: formatPublicKey(n.serviceKey), expiresAt: n.expiresAt, maxTtl: table.maxTtl };
      } catch (e) {
        return refuse(e);
      }
    });
    inner.setRequestHandler(openRequestSchema, async (req, extra) => {
      try {
        const parsed = sessionOpenSchema.safeParse(req.params ?? {});
        if (!parsed.success) throw new MalformedError('a session open request is { token, hello, signature }');
        // The OAuth binding holds for the whole session: only the one who opened it has its key.
        if (this.#auth) this.#checkBinding(this.verifier.verifyToken(parsed.data.token), (extra as Extra).authInfo);
        const out = await table.open({
          token: parsed.data.token,
          hello: decodeBase64url(parsed.data.hello),
          signature: decodeBase64url(parsed.data.signature),
        });
        return { reply: encodeBase64url(out.reply), signature: encodeBase64url(out.signature) };
      } catch (e) {
        return refuse(e);
      }
    });
  }

  /** The request-level check: verify, then hand the request (without the reserved argument) to the McpServer. */
  async #call(inner: Handler, request: CallRequest, extra: Extra): Promise<unknown> {
    const params = request.params;
    const tool = params.name;
    const raw = isPlainObject(params.arguments) ? params.arguments : {};
    let carrier: McpDecisionEvent['carrier'] = 'none';
    let policy: ToolPolicy | undefined;
    let resource: string | undefined;
    let decision: Decision;
    let args: Readonly<Record<string, unknown>> = raw;
    let sessionCall: SessionCall | undefined;
    let mode: 'signed' | 'session' = 'signed';
    try {
      const read = readCall(params._meta, raw, this.argumentCarrier, this.sessions !== undefined);
      if (read.credential.kind === 'session') mode = 'session';
      carrier = read.args === raw ? 'meta' : 'argument';
      args = read.args;
      policy = this.#policies.get(tool);
      if (!policy) throw new NoSchemaError(`no capframe policy for tool ${JSON.stringify(String(tool).slice(0, 64))}`);
      resource = policy.resource.render(args);
      if (policy.constraints) {
        for (const name in policy.constraints) {
          const failure = checkConstraint(name, policy.constraints[name]!, args, true);
          if (failure) throw new ConstraintError(`${failure} (tool policy)`);
        }
      }
      if (read.credential.kind === 'session') {
        if (policy.attested)
          throw new InvocationMismatchError(`tool ${JSON.stringify(tool)} is attested: it takes signed invocation proofs, not session calls`);
        const c = read.credential;
        sessionCall = { session: c.session, counter: c.counter, tool, operation: policy.operation, resource, args, callId: c.callId, exp: c.exp, tag: c.tag };
        decision = await this.sessions!.check(sessionCall);
      } else if (this.#auth) decision = await this.#verify(read.credential, tool, policy, resource, args, extra);
      else decision = await this.verifier.verifyInvocation(read.credential.token, read.credential.proof, { tool, args, operation: policy.operation, resource });
    } catch (e) {
      const error = toCapframeError(e);
      decision = {
        allowed: false,
        code: error.code,
        reason: error.message,
        error,
        mode,
        tool,
        ...(policy ? { operation: policy.operation } : {}),
        ...(resource !== undefined ? { resource } : {}),
      };
    }
    this.#report(decision, typeof tool === 'string' ? tool.slice(0, 256) : '', carrier, mode, extra);
    // The answer of a session call (§13.6), tagged when the call's tag verified: it goes back with the result or the denial.
    const answer: WireSessionAnswer | undefined = sessionCall ? this.sessions!.answer(sessionCall, JSON.stringify(decisionToJson(decision))) : undefined;
    if (!decision.allowed) return this.#deny(decision.code, decision.reason, answer);
    const guarded = [...policy!.resource.args, ...Object.keys(policy!.constraints ?? {}), ...Object.keys(decision.grant.constraints)];
    this.#pending.set(extra as object, { args, guarded });
    try {
      const forwarded = args === raw ? request : { ...request, params: { ...params, arguments: args } };
      const result = (await inner(forwarded, extra)) as CallToolResult;
      if (!answer || typeof result !== 'object' || result === null) return result;
      const meta = isPlainObject(result._meta) ? copyOwn(result._meta) : {};
      const mine = isPlainObject(meta[META_KEY]) ? copyOwn(meta[META_KEY]) : {};
      mine.session = answer;
      meta[META_KEY] = mine;
      const out = copyOwn(result);
      out._meta = meta;
      return out;
    } finally {
      this.#pending.delete(extra as object);
    }
  }

  /** The OAuth binding, then the signed proof. */
  async #verify(
    c: Extract<Credential, { kind: 'signed' }>,
    tool: string,
    policy: ToolPolicy,
    resource: string,
    args: Readonly<Record<string, unknown>>,
    extra: Extra,
  ): Promise<Decision> {
    this.#checkBinding(this.verifier.verifyToken(c.token), extra.authInfo);
    return await this.verifier.verifyInvocation(c.token, c.proof, { tool, args, operation: policy.operation, resource });
  }

  #checkBinding(chain: Chain, auth: AuthInfo | undefined): void {
    const b = this.#auth!;
    if (!auth) throw new UnauthorizedError('this server binds capframe tokens to the OAuth client, and the request is not authenticated');
    const id = b.identity ? b.identity(auth) : auth.clientId;
    if (typeof id !== 'string' || id.length === 0) throw new UnauthorizedError('the authenticated client has no identity to bind the capframe token to');
    if (b.bind === 'subject') {
      if (chain.subject !== id) throw new UnauthorizedError(`the capframe token's subject is not the authenticated client`);
      return;
    }
    let key: Uint8Array;
    try {
      key = parsePublicKey(id);
    } catch {
      throw new UnauthorizedError('the authenticated identity is not a cfk1. public key');
    }
    if (!equalBytes(key, chain.holder)) throw new UnauthorizedError(`the capframe token's holder key is not the authenticated client's key`);
  }

  /** The tool callback wrapper: runs the handler only on the values that were verified. */
  #wrap(cb: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    if (typeof cb !== 'function') return cb;
    return (...a: unknown[]) => {
      const extra = a[a.length - 1];
      const checked = isPlainObject(extra) ? this.#pending.get(extra) : undefined;
      if (!checked) return this.#denyResult('ERR_INTERNAL', 'the tool callback ran without a capframe check');
      if (a.length > 1) {
        const parsed = a[0];
        for (const name of checked.guarded) {
          const own = isPlainObject(parsed) && Object.prototype.hasOwnProperty.call(parsed, name);
          const was = Object.prototype.hasOwnProperty.call(checked.args, name);
          if (own !== was || (own && !sameJson((parsed as Record<string, unknown>)[name], checked.args[name]))) {
            const err = new InvocationMismatchError(`the tool's input schema changed argument "${name}", which the resource or a constraint reads`);
            return this.#denyResult(err.code, err.message);
          }
        }
      }
      return cb(...a);
    };
  }

  async #list(inner: Handler, request: CallRequest, extra: unknown): Promise<unknown> {
    const result = (await inner(request, extra)) as ListToolsResult;
    let chain: Chain | undefined;
    if (this.hideUnusableTools) {
      const token = listToken(request.params?._meta);
      try {
        if (token !== undefined) {
          chain = this.verifier.verifyToken(token);
          const now = this.verifier.clock();
          if (now >= chain.exp + this.verifier.clockSkew || chain.nbf > now + this.verifier.clockSkew) chain = undefined;
          else await this.verifier.revocation?.check(chain, now);
        }
      } catch {
        chain = undefined;
      }
    }
    const tools = [];
    for (const t of result.tools) {
      const policy = this.#policies.get(t.name);
      if (this.hideUnusableTools && !(policy && chain && mayUse(chain, policy))) continue;
      if (!policy) {
        tools.push(t);
        continue;
      }
      const advertised: AdvertisedPolicy = {
        resource: policy.resource.text,
        operation: policy.operation,
        ...(policy.proofWindow !== undefined ? { proofWindow: policy.proofWindow } : {}),
        ...(this.argumentCarrier ? { argumentCarrier: true } : {}),
      };
      tools.push({ ...t, _meta: { ...t._meta, [META_KEY]: advertised } });
    }
    return { ...result, tools };
  }

  #report(d: Decision, tool: string, carrier: McpDecisionEvent['carrier'], mode: 'signed' | 'session', extra: Extra): void {
    if (!this.#onDecision) return;
    const e: McpDecisionEvent = {
      decision: d.allowed ? 'allow' : 'deny',
      code: d.allowed ? 'OK' : d.code,
      ...(d.allowed ? {} : { reason: d.reason }),
      tool,
      ...(d.operation !== undefined ? { operation: d.operation } : {}),
      ...(d.resource !== undefined ? { resource: d.resource } : {}),
      ...(d.callId !== undefined ? { callId: d.callId } : {}),
      ...(d.argsDigest !== undefined ? { argsDigest: d.argsDigest } : {}),
      ...(d.subject !== undefined ? { subject: d.subject } : {}),
      ...(d.chainIds !== undefined ? { tokenIds: d.chainIds } : {}),
      carrier,
      mode,
      ...(typeof extra?.sessionId === 'string' ? { sessionId: extra.sessionId } : {}),
    };
    try {
      this.#onDecision(e);
    } catch {
      // A failing observer must not turn a decision around.
    }
  }

  #deny(code: ErrorCode, reason: string, session?: WireSessionAnswer): CallToolResult {
    if (this.denyAs === 'result') return this.#denyResult(code, reason, session);
    const data: Record<string, WireDenial> = { [META_KEY]: { decision: 'deny', code, reason, ...(session ? { session } : {}) } };
    throw new McpError(DENIED_CODE, `Denied by capframe (${code}): ${reason}`, data);
  }

  #denyResult(code: ErrorCode, reason: string, session?: WireSessionAnswer): CallToolResult {
    const denial: WireDenial = { decision: 'deny', code, reason, ...(session ? { session } : {}) };
    return { content: [{ type: 'text', text: `Denied by capframe (${code}): ${reason}` }], isError: true, _meta: { [META_KEY]: denial } };
  }
}

/**
 * Puts capframe in front of every tool of an McpServer. Call it right after
 * `new McpServer(...)`, before the first `registerTool`. Tools without a
 * policy are denied (ERR_NO_SCHEMA).
 */
export function guardMcpServer(server: McpServer, options: McpGuardOptions): McpGuard {
  const guard = new McpGuard(options);
  guard.install(server);
  return guard;
}
