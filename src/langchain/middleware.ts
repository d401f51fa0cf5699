/**
 * capframe/langchain/middleware: a langchain v1 `createAgent` middleware that
 * applies the guard to every tool call of the agent, including tools that
 * were not wrapped with guardTool(). Guarded tools are passed through (they
 * check themselves, and checking twice would trip replay protection).
 *
 * A call that needs signed approvals (ERR_APPROVAL_REQUIRED, docs/spec.md §15)
 * pauses the run with a LangGraph interrupt whose value is the approval
 * request; resuming with `new Command({ resume: { type: 'approve', approvals } })`
 * checks the call again with them (see approval-interrupt.ts). The agent
 * needs a checkpointer for that; without one the call is denied.
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
import { approvalRequest, askForApproval, mergeApprovals } from './approval-interrupt.ts';
import type { CapframeConfig } from '../config/parse.ts';

export type { ApprovalResume } from './approval-interrupt.ts';

export interface MiddlewareOptions {
  /**
   * What a call that needs approvals does: `'interrupt'` (default) pauses the
   * run for them; `'deny'` answers the model with the ERR_APPROVAL_REQUIRED
   * denial (approvals can then only come with the call from elsewhere).
   */
  readonly approvals?: 'interrupt' | 'deny';
}

/** A tool object that runs `inner` with the call's capframe context in its config. */
function withCallContext(inner: StructuredToolInterface, ctx: CallContext): StructuredToolInterface {
  const proxy = Object.create(inner) as StructuredToolInterface;
  proxy.invoke = ((input: unknown, config?: Record<string, unknown>) =>
    inner.invoke(input as never, withContext(config, ctx))) as StructuredToolInterface['invoke'];
  return proxy;
}

/**
 * `createAgent({ model, tools, middleware: [capframeMiddleware(guard)], checkpointer })`.
 * Credentials are read from the agent's run (`configurable.capframe` or
 * `context.capframe`). A tool with no policy is denied (ERR_NO_SCHEMA).
 */
export function capframeMiddleware(guard: Guard | GuardOptions | CapframeConfig, options: MiddlewareOptions = {}) {
  const g = asGuard(guard);
  const pause = options.approvals !== 'deny';
  return createMiddleware({
    name: 'capframe',
    wrapToolCall: async (request, handler) => {
      if (isGuarded(request.tool)) return handler(request);
      const { toolCall, runtime } = request;
      const runConfig = { configurable: runtime.configurable, context: runtime.context };
      const schema = (request.tool as StructuredToolInterface | undefined)?.schema;
      let parsed = await parseArguments(schema, toolCall.args);
      if (!parsed.ok) return g[refuseCall](toolCall.name, toolCall.id, 'ERR_INVALID_ARGUMENT', parsed.reason, runConfig, 'middleware');
      let rawArgs = toolCall.args;
      let approvals: string[] = [];
      // Each pass either runs the call, denies it, or pauses for approvals; a resumed run
      // replays the earlier answers in order (LangGraph re-runs the node), so the loop ends.
      for (;;) {
        const r = await g[checkSync](toolCall.name, parsed.args, toolCall.id, runConfig, 'middleware', approvals);
        if (r.allowed) {
          const tool = request.tool as StructuredToolInterface | undefined;
          const call = rawArgs === toolCall.args ? request : { ...request, toolCall: { ...toolCall, args: rawArgs } };
          if (!tool || typeof tool.invoke !== 'function') return handler(call);
          return handler({ ...call, tool: withCallContext(tool, r.context) as typeof request.tool });
        }
        if (!pause || !r.approval) return denialMessage(toolCall.name, toolCall.id, r.code, r.reason);
        const answer = askForApproval(approvalRequest(toolCall.name, parsed.args as Record<string, unknown>, r.approval));
        if (!answer) return denialMessage(toolCall.name, toolCall.id, r.code, `${r.reason} (no checkpointer: the run cannot pause for approvals)`);
        if (answer.type === 'reject') {
          return denialMessage(toolCall.name, toolCall.id, r.code, `a person refused the approval${answer.message ? `: ${answer.message}` : ''}`);
        }
        if (answer.type === 'edit') {
          // Other arguments, another digest: earlier approvals no longer apply.
          parsed = await parseArguments(schema, answer.args);
          if (!parsed.ok) return g[refuseCall](toolCall.name, toolCall.id, 'ERR_INVALID_ARGUMENT', parsed.reason, runConfig, 'middleware');
          rawArgs = answer.args as typeof rawArgs;
          approvals = mergeApprovals([], answer.approvals ?? []);
        } else approvals = mergeApprovals(approvals, answer.approvals);
      }
    },
  });
}
