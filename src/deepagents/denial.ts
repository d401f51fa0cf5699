/** The error ToolMessage of a denied call: what the model reads, and the run goes on. */
import { ToolMessage } from '@langchain/core/messages';
import type { ErrorCode } from '../errors.ts';

export function denialMessage(tool: string, callId: string | undefined, code: ErrorCode, reason: string): ToolMessage {
  return new ToolMessage({
    content: `Denied by capframe (${code}): ${reason} [do not retry the same call]`,
    tool_call_id: callId ?? '',
    name: tool,
    status: 'error',
    artifact: { capframe: { decision: 'deny', code, reason } },
  });
}
