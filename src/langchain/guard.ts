/**
 * The guard: decides on one tool call before the tool runs, and the
 * drop-in `StructuredTool` wrapper built on it.
 *
 * Credentials come from the run config, never from the model's arguments:
 *
 *   agent.invoke(input, { configurable: { capframe: { token, holderKey } } })
 *   // or { context: { capframe: { token, holderKey } } }
 *
 * (`configurable.capframe` is looked at first, then `context.capframe`.)
 * `token` is a Token, its `cft1.` text or its bytes; `holderKey` (the token
 * holder's PrivateKey) is needed only for attested tools and for delegation.
 *
 * An allowed call runs the inner tool with `configurable.capframe` extended
 * by `decision` (the verifier's Allowed decision) and, for attested tools,
 * `invocation` (the signed Invocation proof, `String(invocation)` is its
 * `cfi1.` text) so that a tool calling a remote service can forward it.
 *
 * Remote verification: when the config has a `remote:` section and no
 * `verifier` option is given, the guard asks that capframe service
 * (`capframe serve`, POST /v1/verify) through a `RemoteVerifier` built with
 * `remoteVerifierFromConfig`, and signs every call (as `attestAll: true`,
 * whatever that option says): the service only checks signed calls, so every
 * run needs the holder key. With a RemoteVerifier, calls of non-attested
 * tools are signed by the RemoteVerifier (`authorize` with the run's holder
 * key), which signs calls queued together as one batch (docs/spec.md §4.4);
 * attested tools still get their own single proof, which they may forward. When the service is unreachable, every call is
 * denied with ERR_UNAVAILABLE (fail closed), unless `remote.fallback: local`,
 * where a local Verifier built from the `trust:` section decides instead.
 * `guard.verifier` is then that RemoteVerifier (`close()` drops its connections).
 */
import { ToolMessage } from '@langchain/core/messages';
import { StructuredTool, type StructuredToolInterface } from '@langchain/core/tools';
import { toJsonSchema } from '@langchain/core/utils/json_schema';
import { interopSafeParse, interopSafeParseAsync, isInteropZodSchema } from '@langchain/core/utils/types';
import { equalBytes } from '../crypto/hash.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { CapframeError, ConstraintError, InvalidArgumentError, toCapframeError, type ErrorCode } from '../errors.ts';
import { createInvocation } from '../holder/invoke.ts';
import { checkConstraint } from '../token/constraints.ts';
import type { Invocation } from '../token/invocation.ts';
import { Token } from '../token/token.ts';
import { newCallId, Verifier, type Allowed, type Decision, type ExpectedCall, type LocalCall, type TokenInput } from '../verify/verifier.ts';
import { Lru } from '../verify/lru.ts';
import { remoteVerifierFromConfig, type RemoteAuthorizeOptions } from '../verify/remote.ts';
import type { Clock } from '../clock.ts';
import { configError, definePolicy, policyField, type CapframeConfig, type ToolPolicy, type ToolPolicySpec } from './config.ts';
import { emit, jsonLinesSink, type DecisionEvent, type DecisionSink } from './events.ts';

/** The key under `configurable` / `context` that holds capframe's data. */
export const CAPFRAME_KEY = 'capframe';

/** What an agent run carries in `configurable.capframe` or `context.capframe`. */
export interface Credentials {
  readonly token: TokenInput;
  /** The token holder's private key: needed for attested tools and to delegate to sub-agents. */
  readonly holderKey?: PrivateKey;
}

/** What the inner tool of an allowed call finds in `config.configurable.capframe`. */
export interface CallContext extends Credentials {
  readonly decision: Allowed;
  /** The signed proof of this call (attested tools only). */
  readonly invocation?: Invocation;
}

/**
 * What the guard needs from a verifier. `Verifier` satisfies it; a remote
 * verifier (a client of the capframe service) can too.
 */
export interface CallVerifier {
  /** `signing` is given when `signsCalls` is true: the verifier signs the call itself with the run's holder key. */
  authorize(token: TokenInput, call: LocalCall, signing?: RemoteAuthorizeOptions): Promise<Decision>;
  verifyInvocation(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision>;
  /** The same checks, answered without a promise when they can be (the guard's hot path). */
  authorizeNow?(token: TokenInput, call: LocalCall): Decision | Promise<Decision>;
  verifyInvocationNow?(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Decision | Promise<Decision>;
  /**
   * True for a verifier that only checks signed calls and signs in-process
   * calls itself, batching those queued together (RemoteVerifier): the guard
   * then hands it the holder key instead of signing each call.
   */
  readonly signsCalls?: boolean;
}

export interface GuardOptions {
  /** Trust settings, audit sink and tool policies. */
  config?: CapframeConfig;
  /** Tool policies in code; they replace config policies of the same name. */
  policies?: Readonly<Record<string, ToolPolicy | ToolPolicySpec>>;
  /**
   * Default: a Verifier built from `config` (trusted keys, skew, window, replay
   * cache size); with `config.remote`, a RemoteVerifier for that service (every call signed).
   */
  verifier?: CallVerifier;
  /** Default: from `config.audit`, else JSON lines on stderr. `null`: no events. */
  sink?: DecisionSink | null;
  /** Sign an invocation proof for every call, not only attested tools (e.g. for a remote verifier). Always on when the verifier is built from `config.remote`. */
  attestAll?: boolean;
  /** Clock and backend used to sign invocation proofs. Default: the Verifier's. */
  clock?: Clock;
  backend?: Ed25519Backend;
}

export type CheckResult =
  | { readonly allowed: true; readonly context: CallContext }
  | { readonly allowed: false; readonly code: ErrorCode; readonly reason: string };

type AnyConfig = { configurable?: Record<string, unknown>; context?: unknown } | undefined | null;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The credentials of a run: `configurable.capframe`, else `context.capframe`. */
export function credentialsFrom(config: unknown): Credentials | undefined {
  const c = config as AnyConfig;
  const fromConfigurable = c?.configurable?.[CAPFRAME_KEY];
  const candidate = fromConfigurable ?? (isPlainObject(c?.context) ? (c!.context as Record<string, unknown>)[CAPFRAME_KEY] : undefined);
  if (!isPlainObject(candidate) || candidate.token === undefined || candidate.token === null) return undefined;
  return candidate as unknown as Credentials;
}

/** The config an allowed call's inner tool runs with. */
export function withContext<C>(config: C, ctx: CallContext): C {
  const c = (config ?? {}) as Record<string, unknown> & { configurable?: Record<string, unknown> };
  return { ...c, configurable: { ...c.configurable, [CAPFRAME_KEY]: ctx } } as C;
}

/** The proof and decision of the current call, from inside a tool: `callContext(config)?.invocation`. */
export function callContext(config: unknown): CallContext | undefined {
  const v = (config as AnyConfig)?.configurable?.[CAPFRAME_KEY];
  return isPlainObject(v) && 'decision' in v ? (v as unknown as CallContext) : undefined;
}

let lastMs = 0;
let lastIso = '';
/** ISO time of now, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString(); }
  return lastIso;
}

/** One shared stderr sink for every guard that uses the default. */
let stderrSink: DecisionSink | undefined;

const HINTS: Partial<Record<ErrorCode, string>> = {
  ERR_SCOPE_RESOURCE: 'the token does not cover this resource',
  ERR_SCOPE_PERMISSION: 'the token does not allow this operation',
  ERR_CONSTRAINT: 'an argument is outside what is allowed',
  ERR_MISSING_TOKEN: 'no capability token was given to this agent run',
  ERR_NO_SCHEMA: 'this tool has no capframe policy',
  ERR_EXPIRED: 'the capability token has expired',
  ERR_REPLAY: 'this exact call was already made',
};

/** The error ToolMessage a denied call returns. */
export function denialMessage(tool: string, callId: string | undefined, code: ErrorCode, reason: string): ToolMessage {
  const hint = HINTS[code];
  return new ToolMessage({
    content: `Denied by capframe (${code}): ${reason}${hint ? ` [${hint}; do not retry the same call]` : ''}`,
    tool_call_id: callId ?? '',
    name: tool,
    status: 'error',
    artifact: { capframe: { decision: 'deny', code, reason } },
  });
}

export class Guard {
  readonly verifier: CallVerifier;
  readonly sink: DecisionSink | undefined;
  readonly attestAll: boolean;
  readonly #policies = new Map<string, ToolPolicy>();
  readonly #clock: Clock | undefined;
  readonly #backend: Ed25519Backend | undefined;
  readonly #parsed = new Lru<string, Token>(256);
  readonly #parsedBytes = new WeakMap<Uint8Array, Token>();

  constructor(options: GuardOptions = {}) {
    const { config } = options;
    let remote = false;
    if (options.verifier) this.verifier = options.verifier;
    else if (config) {
      const local = () => new Verifier({
        trusted: config.trusted,
        ...(config.clockSkew !== undefined ? { clockSkew: config.clockSkew } : {}),
        ...(config.invocationWindow !== undefined ? { invocationWindow: config.invocationWindow } : {}),
        ...(config.replayCacheSize !== undefined ? { replayCapacity: config.replayCacheSize } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.backend ? { backend: options.backend } : {}),
      });
      if (config.remote) {
        // The service checks only signed calls: every call gets a proof (attestAll below).
        this.verifier = remoteVerifierFromConfig(config.remote, config.remote.fallback === 'local' ? local() : undefined);
        remote = true;
      } else this.verifier = local();
    } else throw new InvalidArgumentError('a Guard needs a config or a verifier');
    for (const [name, p] of Object.entries(config?.tools ?? {})) this.#policies.set(name, p);
    for (const [name, p] of Object.entries(options.policies ?? {})) this.addPolicy(name, p);
    if (options.sink === null) this.sink = undefined;
    else if (options.sink) this.sink = options.sink;
    else if (config?.audit.sink === 'none') this.sink = undefined;
    else if (config?.audit.sink === 'jsonl') this.sink = jsonLinesSink({ path: config.audit.path! });
    else this.sink = (stderrSink ??= jsonLinesSink());
    this.attestAll = remote || options.attestAll === true;
    const v = this.verifier instanceof Verifier ? this.verifier : undefined;
    this.#clock = options.clock ?? v?.clock;
    this.#backend = options.backend ?? v?.backend;
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

  /**
   * Checks that a policy fits a tool's argument schema: every argument the
   * resource template or a constraint names must exist. Throws ERR_CONFIG.
   */
  checkTool(tool: StructuredToolInterface): void {
    const p = this.#policies.get(tool.name);
    if (!p) return;
    const names = argumentNames(tool.schema);
    const problems: string[] = [];
    for (const a of p.resource.args) {
      if (!names?.has(a)) problems.push(`${policyField(p, 'resource')}: unknown argument "${a}"${names ? ` (the tool takes ${[...names].map((n) => `"${n}"`).join(', ') || 'no arguments'})` : ' (the tool\'s schema declares no arguments)'}`);
    }
    for (const c of Object.keys(p.constraints ?? {})) {
      if (!names?.has(c)) problems.push(`${policyField(p, `constraints.${c}`)}: unknown argument "${c}"`);
    }
    if (problems.length > 0) throw configError(problems.join('\n'));
  }

  #token(input: TokenInput): TokenInput {
    if (input instanceof Token) return input;
    if (typeof input === 'string') {
      let t = this.#parsed.get(input);
      if (!t) { t = Token.parse(input); this.#parsed.set(input, t); }
      return t;
    }
    if (input instanceof Uint8Array) {
      let t = this.#parsedBytes.get(input);
      // The caller may have reused the array for other bytes since: use the entry only while they match.
      if (!t || !equalBytes(t.bytes, input)) { t = Token.parse(input); this.#parsedBytes.set(input, t); }
      return t;
    }
    throw new CapframeError('ERR_MALFORMED', 'the capframe token must be a Token, its cft1. text or its bytes');
  }

  /** Decides on one call. Never throws. */
  async check(tool: string, args: unknown, callId: string | undefined, runConfig: unknown, via: 'tool' | 'middleware' = 'tool'): Promise<CheckResult> {
    return this.checkNow(tool, args, callId, runConfig, via);
  }

  /**
   * check() without a promise when the decision is synchronous (a local
   * Verifier with its in-memory replay store): the hot path of GuardedTool
   * and the middleware. Under LangChain's AsyncLocalStorage every promise
   * costs microseconds. Never throws.
   */
  checkNow(tool: string, args: unknown, callId: string | undefined, runConfig: unknown, via: 'tool' | 'middleware' = 'tool'): CheckResult | Promise<CheckResult> {
    let policy: ToolPolicy | undefined;
    let resource: string | undefined;
    try {
      policy = this.#policies.get(tool);
      if (!policy) throw new CapframeError('ERR_NO_SCHEMA', `no capframe policy for tool "${tool}" (add it under tools: in the config)`);
      const creds = credentialsFrom(runConfig);
      if (!creds) throw new CapframeError('ERR_MISSING_TOKEN', 'no capframe token in the run config (configurable.capframe or context.capframe)');
      if (!isPlainObject(args)) throw new InvalidArgumentError('tool arguments must be an object');
      resource = policy.resource.render(args);
      if (policy.constraints) {
        for (const name in policy.constraints) {
          const failure = checkConstraint(name, policy.constraints[name]!, args, true);
          if (failure) throw new ConstraintError(`${failure} (tool policy)`);
        }
      }
      const token = this.#token(creds.token);
      const id = typeof callId === 'string' && callId.length > 0 ? callId : newCallId();
      let decision: Decision | Promise<Decision>;
      let invocation: Invocation | undefined;
      const v = this.verifier;
      if ((policy.attested || this.attestAll) && !creds.holderKey) {
        throw new CapframeError('ERR_MISSING_TOKEN', `tool "${tool}" is attested: the run config needs the holder key (capframe.holderKey)`);
      }
      if (!policy.attested && this.attestAll && v.signsCalls) {
        // Remote mode: the remote verifier signs the call itself, batching calls queued
        // together under one signature (docs/spec.md §4.4). Attested tools get their own proof below.
        decision = v.authorize(token, { tool, operation: policy.operation, resource, args, callId: id }, {
          holderKey: creds.holderKey!,
          ...(policy.proofWindow !== undefined ? { ttl: policy.proofWindow } : {}),
          ...(this.#clock ? { clock: this.#clock } : {}),
        });
      } else if (policy.attested || this.attestAll) {
        invocation = createInvocation(token, {
          key: creds.holderKey!, tool, operation: policy.operation, resource, args, callId: id,
          ...(policy.proofWindow !== undefined ? { ttl: policy.proofWindow } : {}),
          ...(this.#clock ? { clock: this.#clock } : {}),
          ...(this.#backend ? { backend: this.#backend } : {}),
        });
        const expected = { tool, args, operation: policy.operation, resource };
        decision = v.verifyInvocationNow ? v.verifyInvocationNow(token, invocation, expected) : v.verifyInvocation(token, invocation, expected);
      } else {
        const call = { tool, operation: policy.operation, resource, args, callId: id };
        decision = v.authorizeNow ? v.authorizeNow(token, call) : v.authorize(token, call);
      }
      if (decision instanceof Promise) {
        const inv = invocation;
        const op = policy.operation;
        const res = resource;
        return decision.then((d) => this.#conclude(d, tool, via, creds, inv), (e: unknown) => this.#failed(e, tool, callId, runConfig, via, op, res));
      }
      return this.#conclude(decision, tool, via, creds, invocation);
    } catch (e) {
      return this.#failed(e, tool, callId, runConfig, via, policy?.operation, resource);
    }
  }

  #failed(e: unknown, tool: string, callId: string | undefined, runConfig: unknown, via: 'tool' | 'middleware', operation: string | undefined, resource: string | undefined): CheckResult {
    const err = toCapframeError(e);
    this.#earlyDenial(tool, callId, err.code, err.message, runConfig, via, operation, resource);
    return { allowed: false, code: err.code, reason: err.message };
  }

  #conclude(decision: Decision, tool: string, via: 'tool' | 'middleware', creds: Credentials, invocation: Invocation | undefined): CheckResult {
    this.#event(decision, tool, via);
    if (!decision.allowed) return { allowed: false, code: decision.code, reason: decision.reason };
    const context: CallContext = { token: creds.token, holderKey: creds.holderKey, decision, invocation };
    return { allowed: true, context };
  }

  /** Denies a call before any token check (e.g. arguments the tool's schema refuses): event + error ToolMessage. */
  refuse(tool: string, callId: string | undefined, code: ErrorCode, reason: string, runConfig: unknown, via: 'tool' | 'middleware'): ToolMessage {
    this.#earlyDenial(tool, callId, code, reason, runConfig, via, this.#policies.get(tool)?.operation, undefined);
    return denialMessage(tool, callId, code, reason);
  }

  /** The event of a call denied before the verifier decided. */
  #earlyDenial(tool: string, callId: string | undefined, code: ErrorCode, reason: string, runConfig: unknown, via: 'tool' | 'middleware', operation: string | undefined, resource: string | undefined): void {
    if (!this.sink) return;
    const who = this.#whoHolds(runConfig);
    emit(this.sink, {
      ts: isoNow(), decision: 'deny', code, reason, tool,
      ...(operation !== undefined ? { operation } : {}),
      ...(resource !== undefined ? { resource } : {}),
      ...(typeof callId === 'string' ? { callId: callId.slice(0, 256) } : {}),
      ...(who ? { subject: who.subject, tokenIds: who.ids } : {}),
      mode: 'none', via,
    });
  }

  /** Subject and block ids of the run's token, for events of calls denied before the verifier (local Verifier only). */
  #whoHolds(runConfig: unknown): { subject: string; ids: readonly string[] } | undefined {
    if (!(this.verifier instanceof Verifier)) return undefined;
    try {
      const creds = credentialsFrom(runConfig);
      if (!creds) return undefined;
      const chain = this.verifier.verifyToken(this.#token(creds.token));
      return { subject: chain.subject, ids: chain.ids };
    } catch {
      return undefined;
    }
  }

  #event(d: Decision, tool: string, via: 'tool' | 'middleware'): void {
    if (!this.sink) return;
    // One fixed shape; absent fields are undefined (JSON.stringify and JCS omit them).
    const e: DecisionEvent = {
      ts: isoNow(),
      decision: d.allowed ? 'allow' : 'deny',
      code: d.allowed ? 'OK' : d.code,
      reason: d.allowed ? undefined : d.reason,
      tool,
      operation: d.operation,
      resource: d.resource,
      argsDigest: d.argsDigest,
      callId: d.callId,
      subject: d.subject,
      tokenIds: d.chainIds,
      mode: d.mode,
      via,
    };
    emit(this.sink, e);
  }

}

/** Top-level argument names a tool schema declares, or undefined if it declares none. */
export function argumentNames(schema: unknown): Set<string> | undefined {
  let json: unknown = schema;
  try {
    if (isInteropZodSchema(schema)) json = toJsonSchema(schema);
  } catch {
    return undefined;
  }
  const props = isPlainObject(json) ? json.properties : undefined;
  return isPlainObject(props) ? new Set(Object.keys(props)) : undefined;
}

export type ParsedArgs = { ok: true; args: unknown } | { ok: false; reason: string };

/**
 * The arguments a tool will act on: the model's arguments run through the
 * tool's zod schema (which may trim, normalise, coerce or default them), so
 * that templates and constraints see exactly what the tool sees. Arguments
 * the schema refuses are a denial (fail closed); the reason names the fields,
 * never their values. Tools with a JSON schema or none are checked as given.
 *
 * A schema that may run code of the tool's author (refinements, transforms,
 * lazy or custom types, any zod 3 schema) is parsed asynchronously, as
 * LangChain parses it: a synchronous parse would start an async refinement
 * and drop its promise, and a rejection of it would end the process. Plain
 * zod 4 schemas (types and built-in checks only) are parsed synchronously:
 * no promise on the hot path.
 */
export function argumentsForCheckNow(schema: unknown, raw: unknown): ParsedArgs | Promise<ParsedArgs> {
  if (!isInteropZodSchema(schema)) return { ok: true, args: raw };
  if (runsNoUserCode(schema)) return parsedArgs(interopSafeParse(schema, raw));
  return interopSafeParseAsync(schema, raw).then(parsedArgs, (): ParsedArgs => ({ ok: false, reason: "arguments do not match the tool's schema (its checks failed)" }));
}

/** zod 4 types whose parsing runs no code of the schema's author (given children of the same kind). */
const PLAIN_TYPES = new Set([
  'string', 'number', 'int', 'boolean', 'bigint', 'null', 'undefined', 'void', 'any', 'unknown', 'never', 'date', 'nan',
  'literal', 'enum', 'template_literal', 'object', 'array', 'tuple', 'record', 'map', 'set', 'union', 'intersection',
  'optional', 'nullable', 'nonoptional', 'readonly', 'default', 'prefault', 'pipe', 'success',
]);
const plainSchemas = new WeakMap<object, boolean>();

/** True when parsing `schema` cannot call a function of the schema's author (so cannot return a promise). */
function runsNoUserCode(schema: unknown, depth = 0): boolean {
  const z4 = (schema as { _zod?: { def?: Record<string, unknown> } } | null)?._zod;
  const def = z4?.def;
  if (!def || depth > 32) return false; // zod 3, or something unexpected: the safe way
  const known = plainSchemas.get(schema as object);
  if (known !== undefined) return known;
  let plain = PLAIN_TYPES.has(def.type as string);
  // Built-in checks (lengths, formats, trim, ...) are zod's own code; `custom` ones (refine, superRefine, check) are not.
  const checks = (def.checks ?? []) as { _zod?: { def?: { check?: string } } }[];
  if (plain && checks.some((c) => c?._zod?.def?.check === 'custom' || c?._zod?.def?.check === undefined)) plain = false;
  if (plain) {
    const children: unknown[] = [];
    for (const k of ['innerType', 'element', 'keyType', 'valueType', 'in', 'out', 'left', 'right', 'rest', 'catchall'] as const) {
      if (def[k] !== undefined) children.push(def[k]);
    }
    for (const k of ['options', 'items'] as const) if (Array.isArray(def[k])) children.push(...(def[k] as unknown[]));
    if (def.shape !== undefined) children.push(...Object.values(def.shape as Record<string, unknown>));
    plain = children.every((c) => runsNoUserCode(c, depth + 1));
  }
  plainSchemas.set(schema as object, plain);
  return plain;
}

function parsedArgs(r: { success: boolean; data?: unknown; error?: unknown }): ParsedArgs {
  if (r.success) return { ok: true, args: r.data };
  const issues = (r.error as { issues?: { path?: PropertyKey[] }[] }).issues ?? [];
  const fields = [...new Set(issues.map((i) => (i.path ?? []).map(String).join('.') || '(arguments)'))].slice(0, 5);
  return { ok: false, reason: `arguments do not match the tool's schema (${fields.join(', ') || 'unknown field'})` };
}

const GUARDED = Symbol.for('capframe.guardedTool');

export function isGuarded(tool: unknown): tool is GuardedTool {
  return typeof tool === 'object' && tool !== null && (tool as Record<symbol, unknown>)[GUARDED] === true;
}

function isToolCall(x: unknown): x is { id?: string; name: string; args: unknown; type: 'tool_call' } {
  return isPlainObject(x) && x.type === 'tool_call';
}

/**
 * A tool behind capframe: same name, description and schema as the inner
 * tool (so `bindTools` sees no difference). Each call is checked first; a
 * denial returns an error ToolMessage and never throws; an allowed call
 * returns exactly what the inner tool returns.
 */
export class GuardedTool extends StructuredTool {
  name: string;
  description: string;
  schema: StructuredToolInterface['schema'];
  readonly inner: StructuredToolInterface;
  readonly guard: Guard;
  readonly [GUARDED] = true;

  static override lc_name(): string {
    return 'GuardedTool';
  }

  constructor(inner: StructuredToolInterface, guard: Guard) {
    const t = inner as StructuredToolInterface & Partial<Pick<StructuredTool, 'responseFormat' | 'verboseParsingErrors' | 'extras' | 'returnDirect' | 'metadata' | 'tags'>>;
    super({
      ...(t.responseFormat !== undefined ? { responseFormat: t.responseFormat } : {}),
      ...(t.verboseParsingErrors !== undefined ? { verboseParsingErrors: t.verboseParsingErrors } : {}),
      ...(t.metadata !== undefined ? { metadata: t.metadata } : {}),
      ...(t.extras !== undefined ? { extras: t.extras } : {}),
      ...(t.tags !== undefined ? { tags: t.tags } : {}),
    });
    this.name = inner.name;
    this.description = inner.description;
    this.schema = inner.schema;
    this.returnDirect = t.returnDirect ?? false;
    this.inner = inner;
    this.guard = guard;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override invoke(input: any, config?: any): Promise<any> {
    // Written without async/await: when the check is synchronous (local
    // verification) the only promise is the inner tool's own.
    try {
      const call = isToolCall(input);
      const callId: string | undefined = call ? input.id : (config?.toolCall?.id ?? config?.toolCallId);
      const parsed = argumentsForCheckNow(this.schema, call ? input.args : input);
      if (parsed instanceof Promise) return parsed.then((p) => this.#checked(p, input, callId, config));
      return this.#checked(parsed, input, callId, config);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #checked(parsed: ParsedArgs, input: any, callId: string | undefined, config: any): Promise<any> {
    if (!parsed.ok) return Promise.resolve(this.guard.refuse(this.name, callId, 'ERR_INVALID_ARGUMENT', parsed.reason, config, 'tool'));
    const r = this.guard.checkNow(this.name, parsed.args, callId, config, 'tool');
    if (r instanceof Promise) return r.then((res) => this.#run(res, input, callId, config));
    return this.#run(r, input, callId, config);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #run(r: CheckResult, input: any, callId: string | undefined, config: any): Promise<any> {
    if (!r.allowed) return Promise.resolve(denialMessage(this.name, callId, r.code, r.reason));
    return this.inner.invoke(input, withContext(config, r.context));
  }

  /** @deprecated as in LangChain: use invoke(). Guarded the same way. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async call(arg: any, configArg?: any): Promise<any> {
    const config = typeof configArg === 'object' && configArg !== null && !Array.isArray(configArg) ? configArg : { callbacks: configArg };
    return this.invoke(arg, config);
  }

  protected override async _call(): Promise<never> {
    throw new CapframeError('ERR_INTERNAL', 'GuardedTool runs through invoke()');
  }
}

/** A Guard, or one built from guard options or a parsed config. */
export function asGuard(g: Guard | GuardOptions | CapframeConfig): Guard {
  if (g instanceof Guard) return g;
  if (g && 'trusted' in g && 'tools' in g && 'file' in g) return new Guard({ config: g as CapframeConfig });
  return new Guard(g as GuardOptions);
}

/**
 * Wraps one tool. `policy` (optional) gives its token schema in code;
 * otherwise the guard's config must have one under `tools.<name>`, or every
 * call is denied with ERR_NO_SCHEMA. Throws ERR_CONFIG when the policy names
 * an argument the tool's schema lacks.
 */
export function guardTool<T extends StructuredToolInterface>(tool: T, guard: Guard | GuardOptions | CapframeConfig, policy?: ToolPolicySpec): GuardedTool {
  if (isGuarded(tool)) throw new InvalidArgumentError(`tool "${tool.name}" is already guarded`);
  const g = asGuard(guard);
  if (policy) g.addPolicy(tool.name, policy);
  g.checkTool(tool);
  return new GuardedTool(tool, g);
}

/** Wraps every tool with one guard (built once from the config or options). */
export function guardTools(tools: readonly StructuredToolInterface[], guard: Guard | GuardOptions | CapframeConfig): GuardedTool[] {
  const g = asGuard(guard);
  const problems: string[] = [];
  for (const t of tools) {
    try {
      g.checkTool(t);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length > 0) throw configError(problems.join('\n'));
  return tools.map((t) => new GuardedTool(t, g));
}
