/** The error ToolMessage of a denied call: what the model reads. */
import { ToolMessage } from '@langchain/core/messages';
import type { ErrorCode } from '../errors.ts';

const HINTS: Partial<Record<ErrorCode, string>> = {
  ERR_SCOPE_RESOURCE: 'the token does not cover this resource',
  ERR_SCOPE_PERMISSION: 'the token does not allow this operation',
  ERR_CONSTRAINT: 'an argument is outside what is allowed',
  ERR_MISSING_TOKEN: 'no capability token was given to this agent run',
  ERR_NO_SCHEMA: 'this tool has no capframe policy',
  ERR_EXPIRED: 'the capability token has expired',
  ERR_REPLAY: 'this exact call was already made',
  ERR_LIMIT: 'a rate limit or budget of the token is used up until the time given',
};

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
