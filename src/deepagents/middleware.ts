/**
 * The capframe middleware of a Deep Agent (and of each of its sub-agents):
 * every tool call is checked by the guard before it runs, and the `task`
 * tool, where the model starts a sub-agent, becomes a delegation point.
 *
 *  - `task`: the sub-agent type must have an entry under `subagents:`
 *    (none, `general-purpose` included: denied, ERR_NO_SCHEMA). The
 *    parent's token is delegated to a fresh holder key as the entry says,
 *    and the task tool runs with a run config whose `capframe` credentials
 *    (in `configurable` and in `context`) are the child's only; Deep Agents
 *    passes that config on to the sub-agent's run, so the sub-agent's tools
 *    are checked against the child token and the parent's token and key
 *    never reach it.
 *  - the built-in file tools: checked with their default policies
 *    (./file-tools.ts) unless the guard has its own, on the view of their
 *    arguments that file-tools.ts describes.
 *  - any other tool: checked like capframe/langchain's middleware checks it.
 *
 * A denial is an error ToolMessage (the model reads it, the run goes on); the
 * middleware never throws into the agent loop.
 *
 * The guard is capframe/langchain's `Guard`, passed in (this folder sits
 * beside langchain/ and does not import it): anything with the same
 * `check`, `policy` and `addPolicy` works.
 */
import { createMiddleware } from 'langchain';
import type { StructuredToolInterface } from '@langchain/core/tools';
import { interopSafeParseAsync, isInteropZodSchema } from '@langchain/core/utils/types';
import type { ErrorCode } from '../errors.ts';
import { MissingTokenError, NoSchemaError } from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { defineSubagent, type SubagentEntry, type SubagentSpec } from '../config/subagents.ts';
import type { ToolPolicySpec } from '../config/tools.ts';
import type { Clock } from '../clock.ts';
import { decodeChain } from '../token/chain.ts';
import type { Token } from '../token/token.ts';
import { CAPFRAME_KEY, childRunConfig, credentialsFrom, type Credentials } from './credentials.ts';
import { delegateChild } from './delegate-child.ts';
import { denialMessage } from './denial.ts';
import { FILE_TOOL_POLICIES, fileToolView, isFileTool } from './file-tools.ts';

/** What the middleware needs of a guard: capframe/langchain's `Guard` has it. */
export interface ToolCallGuard {
  check(
    tool: string,
    args: unknown,
    callId: string | undefined,
    runConfig: unknown,
    via?: 'tool' | 'middleware',
  ): Promise<{ readonly allowed: true; readonly context: object } | { readonly allowed: false; readonly code: ErrorCode; readonly reason: string }>;
  policy(tool: string): unknown;
  addPolicy(tool: string, spec: ToolPolicySpec): unknown;
  /** The guard's decision sink (delegations are reported to it too). */
  readonly sink?: unknown;
}

/** A delegation made for one `task` call (for tests, demos and logs: the child's holder key is not in it). */
export interface Delegation {
  readonly subagent: string;
  readonly callId: string | undefined;
  /** The child token (its last block names the fresh holder key). */
  readonly token: Token;
  /** The fresh holder key's public half. */
  readonly holder: Uint8Array;
}

export interface DeepAgentGuardOptions {
  guard: ToolCallGuard;
  /** The parsed config: its `subagents:` section (and nothing else) is read here; the guard has the rest. */
  config?: Pick<CapframeConfig, 'subagents'>;
  /** Entries in code; they replace config entries of the same name. */
  subagents?: Readonly<Record<string, SubagentSpec>>;
  /** Called after each delegation. Must not throw (an exception is ignored). */
  onDelegate?: (d: Delegation) => void;
  clock?: Clock;
}

/** Tools wrapped with capframe/langchain's guardTool() check themselves (checking twice would trip replay protection). */
const GUARDED = Symbol.for('capframe.guardedTool');
function isGuarded(tool: unknown): boolean {
  return typeof tool === 'object' && tool !== null && (tool as Record<symbol, unknown>)[GUARDED] === true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A tool object that runs `inner` with its run config rewritten by `rewrite`. */
function withConfig(
  inner: StructuredToolInterface,
  rewrite: (config: Record<string, unknown> | undefined) => Record<string, unknown>,
): StructuredToolInterface {
  const proxy = Object.create(inner) as StructuredToolInterface;
  proxy.invoke = ((input: unknown, config?: Record<string, unknown>) => inner.invoke(input as never, rewrite(config))) as StructuredToolInterface['invoke'];
  return proxy;
}

type Parsed = { ok: true; args: Record<string, unknown> } | { ok: false; reason: string };

/** The arguments the tool will act on: the model's, run through the tool's zod schema (defaults, renames, coercions). */
async function parseArguments(schema: unknown, raw: unknown): Promise<Parsed> {
  let args = raw;
  if (isInteropZodSchema(schema)) {
    try {
      const r = await interopSafeParseAsync(schema, raw);
      if (!r.success) {
        const fields = [...new Set((r.error.issues ?? []).map((i) => (i.path ?? []).map(String).join('.') || '(arguments)'))].slice(0, 5);
        return { ok: false, reason: `arguments do not match the tool's schema (${fields.join(', ') || 'unknown field'})` };
      }
      args = r.data;
    } catch {
      return { ok: false, reason: "arguments do not match the tool's schema (its checks failed)" };
    }
  }
  return isObject(args) ? { ok: true, args } : { ok: false, reason: 'tool arguments must be an object' };
}

function now(): string {
  return new Date().toISOString();
}

/**
 * `createDeepAgent({ ..., middleware: [capframeDeepAgentMiddleware({ guard, config })] })`,
 * and the same middleware in each sub-agent's `middleware` (guardDeepAgent() does both).
 * Adds the default file tool policies to the guard where it has none.
 */
export function capframeDeepAgentMiddleware(options: DeepAgentGuardOptions) {
  const { guard, onDelegate, clock } = options;
  const entries = new Map<string, SubagentEntry>(Object.entries(options.config?.subagents ?? {}));
  for (const [name, spec] of Object.entries(options.subagents ?? {})) entries.set(name, defineSubagent(name, spec));
  for (const [name, spec] of Object.entries(FILE_TOOL_POLICIES)) if (!guard.policy(name)) guard.addPolicy(name, spec);

  const report = (event: Record<string, unknown>): void => {
    const sink = guard.sink;
    if (typeof sink !== 'function') return;
    try {
      const r = (sink as (e: unknown) => unknown)(event);
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      // an audit sink must not take the agent down; the decision stands
    }
  };
  const deny = (tool: string, callId: string | undefined, code: ErrorCode, reason: string, extra: Record<string, unknown> = {}) => {
    report({ ts: now(), decision: 'deny', code, reason, tool, ...extra, ...(callId ? { callId: callId.slice(0, 256) } : {}), mode: 'none', via: 'middleware' });
    return denialMessage(tool, callId, code, reason);
  };

  return createMiddleware({
    name: 'capframeDeepAgents',
    wrapToolCall: async (request, handler) => {
      if (isGuarded(request.tool)) return handler(request);
      const { toolCall, runtime } = request;
      const callId = toolCall.id;
      const tool = request.tool as StructuredToolInterface | undefined;
      const runConfig = { configurable: runtime.configurable, context: runtime.context };
      const parsed = await parseArguments(tool?.schema, toolCall.args);
      if (!parsed.ok) return deny(toolCall.name, callId, 'ERR_INVALID_ARGUMENT', parsed.reason);

      if (toolCall.name === 'task') {
        const type = parsed.args.subagent_type;
        const resource = typeof type === 'string' ? `subagent:${type.slice(0, 128)}` : undefined;
        const extra = { operation: 'delegate', ...(resource ? { resource } : {}) };
        if (typeof type !== 'string' || !entries.has(type)) {
          return deny(
            'task',
            callId,
            NoSchemaError.code,
            `no capframe entry for sub-agent type ${JSON.stringify(String(type).slice(0, 64))} (add it under subagents:)`,
            extra,
          );
        }
        // A `task` policy in the config, if any, is one more check of the parent's own token.
        if (guard.policy('task')) {
          const r = await guard.check('task', parsed.args, callId, runConfig, 'middleware');
          if (!r.allowed) return denialMessage('task', callId, r.code, r.reason);
        }
        const parent: Credentials | undefined = credentialsFrom(runConfig);
        if (!parent)
          return deny('task', callId, MissingTokenError.code, 'no capframe token in the run config (configurable.capframe or context.capframe)', extra);
        let child;
        try {
          child = delegateChild(parent, entries.get(type)!, clock);
        } catch (e) {
          const err = toCapframeError(e);
          return deny('task', callId, err.code, `cannot delegate to sub-agent "${type}": ${err.message}`, extra);
        }
        const chain = decodeChain(child.token);
        report({
          ts: now(),
          decision: 'allow',
          code: 'OK',
          tool: 'task',
          ...extra,
          ...(callId ? { callId: callId.slice(0, 256) } : {}),
          subject: chain.subject,
          tokenIds: chain.ids,
          mode: 'local',
          via: 'middleware',
        });
        try {
          onDelegate?.({ subagent: type, callId, token: child.token, holder: child.holderKey.publicKey });
        } catch {
          // a callback for logs and tests cannot change the decision
        }
        // Never run the task tool with the parent's config: no tool object to wrap is a denial.
        if (!tool || typeof tool.invoke !== 'function')
          return deny('task', callId, 'ERR_INTERNAL', 'the task tool cannot be run with the child credentials', extra);
        return handler({ ...request, tool: withConfig(tool, (config) => childRunConfig(config ?? {}, child)) as typeof request.tool });
      }

      let view: Record<string, unknown> = parsed.args;
      if (isFileTool(toolCall.name)) {
        try {
          view = fileToolView(toolCall.name, parsed.args);
        } catch (e) {
          const err = toCapframeError(e);
          return deny(toolCall.name, callId, err.code, err.message);
        }
      }
      const r = await guard.check(toolCall.name, view, callId, runConfig, 'middleware');
      if (!r.allowed) return denialMessage(toolCall.name, callId, r.code, r.reason);
      if (!tool || typeof tool.invoke !== 'function') return handler(request);
      const context = r.context;
      return handler({
        ...request,
        tool: withConfig(tool, (config) => {
          const c = config ?? {};
          return { ...c, configurable: { ...(isObject(c.configurable) ? c.configurable : {}), [CAPFRAME_KEY]: context } };
        }) as typeof request.tool,
      });
    },
  });
}
