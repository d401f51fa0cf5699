/**
 * GuardedTool: a drop-in `StructuredTool` wrapper that asks the guard before
 * every call of the inner tool.
 */
import { StructuredTool, type StructuredToolInterface } from '@langchain/core/tools';
import { InternalError, InvalidArgumentError } from '../errors.ts';
import { configError } from '../config/common.ts';
import type { ToolPolicySpec } from '../config/tools.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { isPlainObject, withContext } from './credentials.ts';
import { parseArguments, type ParsedArgs } from './arguments.ts';
import { denialMessage } from './denial.ts';
import { asGuard, checkSync, refuseCall, type CheckResult, type Guard, type GuardOptions } from './guard.ts';

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
    const t = inner as StructuredToolInterface &
      Partial<Pick<StructuredTool, 'responseFormat' | 'verboseParsingErrors' | 'extras' | 'returnDirect' | 'metadata' | 'tags'>>;
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
      const parsed = parseArguments(this.schema, call ? input.args : input);
      if (parsed instanceof Promise) return parsed.then((p) => this.#checked(p, input, callId, config));
      return this.#checked(parsed, input, callId, config);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #checked(parsed: ParsedArgs, input: any, callId: string | undefined, config: any): Promise<any> {
    if (!parsed.ok) return Promise.resolve(this.guard[refuseCall](this.name, callId, 'ERR_INVALID_ARGUMENT', parsed.reason, config, 'tool'));
    const r = this.guard[checkSync](this.name, parsed.args, callId, config, 'tool');
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
    throw new InternalError('GuardedTool runs through invoke()');
  }
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
