/**
 * guardDeepAgent(): the parameters of createDeepAgent() with the capframe
 * middleware in the main agent and in every declarative sub-agent.
 *
 * Deep Agents gives a sub-agent only its own `middleware` (the main agent's
 * custom middleware is not inherited), so each one gets the middleware here.
 * When the config has an entry for `general-purpose`, that sub-agent is
 * declared explicitly (the default one Deep Agents adds would run without
 * the middleware); without an entry it is left to Deep Agents and every
 * `task` call to it is denied.
 *
 * A compiled sub-agent (`{ runnable }`) cannot be given middleware: it still
 * runs with the child's credentials only, and its tools must check themselves
 * (capframe/langchain's guardTools or middleware in its own createAgent).
 */
import { GENERAL_PURPOSE_SUBAGENT } from 'deepagents';
import { capframeDeepAgentMiddleware, type DeepAgentGuardOptions } from './middleware.ts';

interface DeepAgentParamsLike {
  middleware?: readonly unknown[];
  subagents?: readonly unknown[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function guardDeepAgent<P extends object>(params: P & DeepAgentParamsLike, options: DeepAgentGuardOptions): P {
  const mw = capframeDeepAgentMiddleware(options);
  const subagents = (params.subagents ?? []).map((s) => {
    // Compiled (`runnable`) and async (`graphId`, remote) sub-agents take no middleware.
    if (!isObject(s) || 'runnable' in s || 'graphId' in s) return s;
    return { ...s, middleware: [...((s.middleware as unknown[] | undefined) ?? []), mw] };
  });
  const names = new Set([...Object.keys(options.config?.subagents ?? {}), ...Object.keys(options.subagents ?? {})]);
  if (names.has(GENERAL_PURPOSE_SUBAGENT.name) && !subagents.some((s) => isObject(s) && s.name === GENERAL_PURPOSE_SUBAGENT.name)) {
    subagents.unshift({ ...GENERAL_PURPOSE_SUBAGENT, middleware: [mw] });
  }
  return { ...params, middleware: [...(params.middleware ?? []), mw], subagents } as P;
}
