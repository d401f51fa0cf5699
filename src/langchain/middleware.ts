/**
 * capframe/langchain/middleware: a langchain v1 `createAgent` middleware that
 * applies the guard to every tool call of the agent, including tools that
 * were not wrapped with guardTool(). Guarded tools are passed through (they
 * check themselves, and checking twice would trip replay protection).
 *
 * Its own entry point because it needs the `langchain` package, which the
 * rest of capframe/langchain does not (only `@langchain/core`).
 */
import { createMiddleware } from 'langchain';
import type { StructuredToolInterface } from '@langchain/core/tools';
import { asGuard, checkSync, refuseCall, type Guard, type GuardOptions } from './guard.ts';
import { isGuarded } from './tool.ts';
import { withContext, type CallContext } from './credentials.ts';
import { parseArguments } from './arguments.ts';
import { denialMessage } from './denial.ts';
import type { CapframeConfig } from '../config/parse.ts';

/** A tool object that runs `inner` with the call's capframe context in its config. */
function withCallContext(inner: StructuredToolInterface, ctx: CallContext): StructuredToolInterface {
  const proxy = Object.create(inner) as StructuredToolInterface;
  proxy.invoke = ((input: unknown, config?: Record<string, unknown>) =>
    inner.invoke(input as never, withContext(config, ctx))) as StructuredToolInterface['invoke'];
  return proxy;
}

/**
 * `createAgent({ model, tools, middleware: [capframeMiddleware(guard)] })`.
 * Credentials are read from the agent's run (`configurable.capframe` or
 * `context.capframe`). A tool with no policy is denied (ERR_NO_SCHEMA).
 */
export function capframeMiddleware(guard: Guard | GuardOptions | CapframeConfig) {
  const g = asGuard(guard);
  return createMiddleware({
    name: 'capframe',
    wrapToolCall: async (request, handler) => {
      if (isGuarded(request.tool)) return handler(request);
      const { toolCall, runtime } = request;
      const runConfig = { configurable: runtime.configurable, context: runtime.context };
      const parsed = await parseArguments((request.tool as StructuredToolInterface | undefined)?.schema, toolCall.args);
      if (!parsed.ok) return g[refuseCall](toolCall.name, toolCall.id, 'ERR_INVALID_ARGUMENT', parsed.reason, runConfig, 'middleware');
      const r = await g[checkSync](toolCall.name, parsed.args, toolCall.id, runConfig, 'middleware');
      if (!r.allowed) return denialMessage(toolCall.name, toolCall.id, r.code, r.reason);
      const tool = request.tool as StructuredToolInterface | undefined;
      if (!tool || typeof tool.invoke !== 'function') return handler(request);
      return handler({ ...request, tool: withCallContext(tool, r.context) as typeof request.tool });
    },
  });
}
