/**
 * The guard: decides on one tool call before the tool runs (credentials from
 * the run config, see credentials.ts; the tool's policy; the verifier) and
 * reports each decision to its sink.
 *
 * Verifiers:
 *  - a `Verifier` (the default, built from the config's `trust:` section)
 *    checks calls in process; calls of attested tools (and every call with
 *    `attestAll`) are signed by the guard and checked as signed proofs.
 *  - a `CallVerifier` (e.g. a `RemoteVerifier`) decides elsewhere: the guard
 *    signs the calls of attested tools itself (their proof reaches the tool,
 *    which may forward it) and hands every other call to `verifyCall` with
 *    the run's holder key, so that a verifier of signed calls only signs it
 *    (RemoteVerifier signs the calls queued together as one batch, spec §4.4).
 *
 * Remote verification: when the config has a `remote:` section and no
 * `verifier` option is given, the guard asks that capframe service
 * (`capframe serve`, POST /v1/verify) through a `RemoteVerifier` built with
 * `remoteVerifierFromConfig`, and every call needs the run's holder key
 * (`attestAll` is on whatever the option says: the service only checks
 * signed calls). When the service is unreachable, every call is denied with
 * ERR_UNAVAILABLE (fail closed), unless `remote.fallback: local`, where a
 * local Verifier built from the same trust, replay and revocation settings
 * as the service decides instead (src/langchain/verifiers.ts).
 * `guard.verifier` is then that RemoteVerifier (`close()` drops its connections).
 */
import type { StructuredToolInterface } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { equalBytes } from '../crypto/hash.ts';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { ApprovalRequiredError, ConstraintError, InvalidArgumentError, MalformedError, MissingTokenError, NoSchemaError, type ErrorCode } from '../errors.ts';
import type { ApprovalInput } from '../verify/approvals.ts';
import { toCapframeError } from '../error-codes.ts';
import { createInvocation } from '../holder/invoke.ts';
import { checkConstraint } from '../token/constraints.ts';
import type { Invocation } from '../token/invocation.ts';
import { Token } from '../token/token.ts';
import { Verifier, type Decision, type TokenInput } from '../verify/verifier.ts';
import type { CallVerifier } from '../verify/call-verifier.ts';
import { authorizeSync, verifyInvocationSync } from '../verify/sync.ts';
import { newCallId } from '../token/call-id.ts';
import { Lru } from '../verify/lru.ts';
import { localVerifierFromConfig, remoteVerifierWithFallback } from './verifiers.ts';
import type { Clock } from '../clock.ts';
import { configError } from '../config/common.ts';
import { definePolicy, policyField, type ToolPolicy, type ToolPolicySpec } from '../config/tools.ts';
import { type CapframeConfig } from '../config/parse.ts';
import { emit, jsonLinesSink, teeSink, type DecisionEvent, type DecisionSink } from './events.ts';
import { buildExports } from '../config/export.ts';
import { credentialsFrom, isPlainObject, withToken, type CallContext, type Credentials } from './credentials.ts';
import { isTokenSource } from '../remote/token-renewer.ts';
import { argumentNames } from './arguments.ts';
import { denialMessage } from './denial.ts';

/**
 * Keys of the guard's internal methods (GuardedTool and the middleware use
 * them; no package entry exports these symbols): the synchronous check and
 * the denial of a call refused before the check.
 */
export const checkSync: unique symbol = Symbol('capframe.guard.checkSync');
export const refuseCall: unique symbol = Symbol('capframe.guard.refuseCall');

export interface GuardOptions {
  /** Trust settings, audit sink and tool policies. */
  config?: CapframeConfig;
  /** Tool policies in code; they replace config policies of the same name. */
  policies?: Readonly<Record<string, ToolPolicy | ToolPolicySpec>>;
  /**
   * An in-process `Verifier`, or a `CallVerifier` that decides elsewhere
   * (e.g. `RemoteVerifier`). Default: a Verifier built from `config`
   * (trusted keys, skew, window, replay cache size); with `config.remote`, a
   * RemoteVerifier for that service (every call signed).
   */
  verifier?: Verifier | CallVerifier;
  /** Default: from `config.audit` (`jsonl` to a file, `stderr`, `none`); no section or no config: no events. `null`: no events. */
  sink?: DecisionSink | null;
  /**
   * Every call carries a signed proof, not only calls of attested tools, and
   * needs the run's holder key: with a Verifier the guard signs each call;
   * a CallVerifier gets the key with each call (RemoteVerifier signs with it).
   * Always on when the verifier is built from `config.remote`.
   */
  attestAll?: boolean;
  /** Clock and backend used to sign invocation proofs. Default: the Verifier's. */
  clock?: Clock;
  backend?: Ed25519Backend;
}

/** What a call denied with ERR_APPROVAL_REQUIRED needs (docs/spec.md §15): the facts an approval request is made of. */
export interface ApprovalNeeded {
  readonly got: number;
  readonly need: number;
  /** cfk1. keys of the gate's approvers. */
  readonly approvers: readonly string[];
  /** Hex tip of the token. */
  readonly tip: string;
  readonly operation: string;
  /** Normalised. */
  readonly resource: string;
  readonly argsDigest: string;
  readonly callId: string;
  readonly subject?: string;
}

export type CheckResult =
  | { readonly allowed: true; readonly context: CallContext }
  | { readonly allowed: false; readonly code: ErrorCode; readonly reason: string; readonly approval?: ApprovalNeeded };

let lastMs = 0;
let lastIso = '';
/** ISO time of now, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** One shared stderr sink for every guard that uses the default. */
let stderrSink: DecisionSink | undefined;

export class Guard {
  readonly verifier: Verifier | CallVerifier;
  readonly sink: DecisionSink | undefined;
  readonly attestAll: boolean;
  readonly #policies = new Map<string, ToolPolicy>();
  readonly #clock: Clock | undefined;
  readonly #backend: Ed25519Backend | undefined;
  /** The verifier when it is an in-process Verifier: the synchronous path. */
  readonly #local: Verifier | undefined;
  readonly #parsed = new Lru<string, Token>(256);
  readonly #parsedBytes = new WeakMap<Uint8Array, Token>();

  constructor(options: GuardOptions = {}) {
    const { config } = options;
    let remote = false;
    if (options.verifier) this.verifier = options.verifier;
    else if (config) {
      const build = { ...(options.clock ? { clock: options.clock } : {}), ...(options.backend ? { backend: options.backend } : {}) };
      if (config.remote) {
        // The service checks only signed calls: every call gets a proof (attestAll below).
        this.verifier = remoteVerifierWithFallback(config, build);
        remote = true;
      } else this.verifier = localVerifierFromConfig(config, build);
    } else throw new InvalidArgumentError('a Guard needs a config or a verifier');
    for (const [name, p] of Object.entries(config?.tools ?? {})) this.#policies.set(name, p);
    for (const [name, p] of Object.entries(options.policies ?? {})) this.addPolicy(name, p);
    if (options.sink === null) this.sink = undefined;
    else if (options.sink) this.sink = options.sink;
    else {
      let primary: DecisionSink | undefined;
      if (config?.audit.sink === 'jsonl') primary = jsonLinesSink({ path: config.audit.path! });
      else if (config?.audit.sink === 'stderr') primary = stderrSink ??= jsonLinesSink();
      // Nothing asked for: a library prints nothing.
      const exports = config?.audit.export ? buildExports(config.audit.export, `${config.file}: audit`).sinks : [];
      this.sink = exports.length === 0 ? primary : teeSink(...(primary ? [primary] : []), ...exports);
    }
    this.attestAll = remote || options.attestAll === true;
    this.#local = this.verifier instanceof Verifier ? this.verifier : undefined;
    this.#clock = options.clock ?? this.#local?.clock;
    this.#backend = options.backend ?? this.#local?.backend;
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
      if (!names?.has(a))
        problems.push(
          `${policyField(p, 'resource')}: unknown argument "${a}"${names ? ` (the tool takes ${[...names].map((n) => `"${n}"`).join(', ') || 'no arguments'})` : " (the tool's schema declares no arguments)"}`,
        );
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
      if (!t) {
        t = Token.parse(input);
        this.#parsed.set(input, t);
      }
      return t;
    }
    if (input instanceof Uint8Array) {
      let t = this.#parsedBytes.get(input);
      // The caller may have reused the array for other bytes since: use the entry only while they match.
      if (!t || !equalBytes(t.bytes, input)) {
        t = Token.parse(input);
        this.#parsedBytes.set(input, t);
      }
      return t;
    }
    throw new MalformedError('the capframe token must be a Token, its cft1. text or its bytes');
  }

  /**
   * Decides on one call: `args` as the tool will see them, `runConfig` the
   * run's config (credentials). Emits the decision event. Never rejects.
   */
  async check(
    tool: string,
    args: unknown,
    callId: string | undefined,
    runConfig: unknown,
    via: 'tool' | 'middleware' = 'tool',
    approvals?: readonly ApprovalInput[],
  ): Promise<CheckResult> {
    return this[checkSync](tool, args, callId, runConfig, via, approvals);
  }

  /**
   * check() without a promise when the decision is synchronous (a local
   * Verifier with its in-memory replay store): the hot path of GuardedTool
   * and the middleware. Under LangChain's AsyncLocalStorage every promise
   * costs microseconds. Never throws.
   */
  [checkSync](
    tool: string,
    args: unknown,
    callId: string | undefined,
    runConfig: unknown,
    via: 'tool' | 'middleware' = 'tool',
    approvals?: readonly ApprovalInput[],
  ): CheckResult | Promise<CheckResult> {
    let policy: ToolPolicy | undefined;
    let resource: string | undefined;
    try {
      policy = this.#policies.get(tool);
      if (!policy) throw new NoSchemaError(`no capframe policy for tool "${tool}" (add it under tools: in the config)`);
      let creds = credentialsFrom(runConfig);
      if (!creds) throw new MissingTokenError('no capframe token in the run config (configurable.capframe or context.capframe)');
      if (isTokenSource(creds.token)) {
        // A renewing source (TokenRenewer): its fresh token at once, else wait for a renewal.
        const current = creds.token.current();
        if (current instanceof Promise) {
          const op = policy.operation;
          return current.then(
            (t) => this[checkSync](tool, args, callId, withToken(runConfig, creds!, t), via),
            (e: unknown) => this.#failed(e, tool, callId, runConfig, via, op, undefined),
          );
        }
        creds = { ...creds, token: current };
      }
      if (!isPlainObject(args)) throw new InvalidArgumentError('tool arguments must be an object');
      resource = policy.resource.render(args);
      if (policy.constraints) {
        for (const name in policy.constraints) {
          const failure = checkConstraint(name, policy.constraints[name]!, args, true);
          if (failure) throw new ConstraintError(`${failure} (tool policy)`);
        }
      }
      const token = this.#token(creds.token as TokenInput);
      const id = typeof callId === 'string' && callId.length > 0 ? callId : newCallId();
      let decision: Decision | Promise<Decision>;
      let invocation: Invocation | undefined;
      const local = this.#local;
      if ((policy.attested || this.attestAll) && !creds.holderKey) {
        throw new MissingTokenError(
          policy.attested
            ? `tool "${tool}" is attested: the run config needs the holder key (capframe.holderKey)`
            : 'every call is signed: the run config needs the holder key (capframe.holderKey)',
        );
      }
      if (!policy.attested && !(this.attestAll && local)) {
        const call = approvals
          ? { tool, operation: policy.operation, resource, args, callId: id, approvals }
          : { tool, operation: policy.operation, resource, args, callId: id };
        if (local) decision = local[authorizeSync](token, call);
        else {
          // The verifier gets the run's key: one that checks signed calls only signs the
          // call with it (RemoteVerifier batches calls queued together, docs/spec.md §4.4).
          decision = (this.verifier as CallVerifier).verifyCall(
            token,
            call,
            creds.holderKey
              ? {
                  holderKey: creds.holderKey,
                  ...(policy.proofWindow !== undefined ? { ttl: policy.proofWindow } : {}),
                  ...(this.#clock ? { clock: this.#clock } : {}),
                }
              : undefined,
          );
        }
      } else {
        invocation = createInvocation(token, {
          key: creds.holderKey!,
          tool,
          operation: policy.operation,
          resource,
          args,
          callId: id,
          ...(policy.proofWindow !== undefined ? { ttl: policy.proofWindow } : {}),
          ...(this.#clock ? { clock: this.#clock } : {}),
          ...(this.#backend ? { backend: this.#backend } : {}),
        });
        const expected = { tool, args, operation: policy.operation, resource, ...(approvals ? { approvals } : {}) };
        decision = local
          ? local[verifyInvocationSync](token, invocation, expected)
          : (this.verifier as CallVerifier).verifyInvocation(token, invocation, expected);
      }
      if (decision instanceof Promise) {
        const inv = invocation;
        const op = policy.operation;
        const res = resource;
        return decision.then(
          (d) => this.#conclude(d, tool, via, creds, inv),
          (e: unknown) => this.#failed(e, tool, callId, runConfig, via, op, res),
        );
      }
      return this.#conclude(decision, tool, via, creds, invocation);
    } catch (e) {
      return this.#failed(e, tool, callId, runConfig, via, policy?.operation, resource);
    }
  }

  #failed(
    e: unknown,
    tool: string,
    callId: string | undefined,
    runConfig: unknown,
    via: 'tool' | 'middleware',
    operation: string | undefined,
    resource: string | undefined,
  ): CheckResult {
    const err = toCapframeError(e);
    this.#earlyDenial(tool, callId, err.code, err.message, runConfig, via, operation, resource);
    return { allowed: false, code: err.code, reason: err.message };
  }

  #conclude(decision: Decision, tool: string, via: 'tool' | 'middleware', creds: Credentials, invocation: Invocation | undefined): CheckResult {
    this.#event(decision, tool, via);
    if (!decision.allowed) {
      const e = decision.error;
      if (e instanceof ApprovalRequiredError && e.tip !== undefined && decision.operation && decision.resource && decision.argsDigest && decision.callId) {
        const approval: ApprovalNeeded = {
          got: e.got,
          need: e.need,
          approvers: e.approvers,
          tip: e.tip,
          operation: decision.operation,
          resource: decision.resource,
          argsDigest: decision.argsDigest,
          callId: decision.callId,
          ...(decision.subject !== undefined ? { subject: decision.subject } : {}),
        };
        return { allowed: false, code: decision.code, reason: decision.reason, approval };
      }
      return { allowed: false, code: decision.code, reason: decision.reason };
    }
    const context: CallContext = { token: creds.token as TokenInput, holderKey: creds.holderKey, decision, invocation };
    return { allowed: true, context };
  }

  /** Denies a call before any token check (e.g. arguments the tool's schema refuses): event + error ToolMessage. */
  [refuseCall](tool: string, callId: string | undefined, code: ErrorCode, reason: string, runConfig: unknown, via: 'tool' | 'middleware'): ToolMessage {
    this.#earlyDenial(tool, callId, code, reason, runConfig, via, this.#policies.get(tool)?.operation, undefined);
    return denialMessage(tool, callId, code, reason);
  }

  /** The event of a call denied before the verifier decided. */
  #earlyDenial(
    tool: string,
    callId: string | undefined,
    code: ErrorCode,
    reason: string,
    runConfig: unknown,
    via: 'tool' | 'middleware',
    operation: string | undefined,
    resource: string | undefined,
  ): void {
    if (!this.sink) return;
    const who = this.#whoHolds(runConfig);
    emit(this.sink, {
      ts: isoNow(),
      decision: 'deny',
      code,
      reason,
      tool,
      ...(operation !== undefined ? { operation } : {}),
      ...(resource !== undefined ? { resource } : {}),
      ...(typeof callId === 'string' ? { callId: callId.slice(0, 256) } : {}),
      ...(who ? { subject: who.subject, tokenIds: who.ids } : {}),
      mode: 'none',
      via,
    });
  }

  /** Subject and block ids of the run's token, for events of calls denied before the verifier (local Verifier only). */
  #whoHolds(runConfig: unknown): { subject: string; ids: readonly string[] } | undefined {
    if (!this.#local) return undefined;
    try {
      const creds = credentialsFrom(runConfig);
      if (!creds || isTokenSource(creds.token)) return undefined;
      const chain = this.#local.verifyToken(this.#token(creds.token));
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

/** A Guard, or one built from guard options or a parsed config. */
export function asGuard(g: Guard | GuardOptions | CapframeConfig): Guard {
  if (g instanceof Guard) return g;
  if (g && 'trusted' in g && 'tools' in g && 'file' in g) return new Guard({ config: g as CapframeConfig });
  return new Guard(g as GuardOptions);
}
