/**
 * A call denied with ERR_APPROVAL_REQUIRED, as a LangGraph interrupt: the
 * interrupt's value is the approval request (docs/spec.md §15.5), and the
 * run resumes with `new Command({ resume })` where `resume` is an
 * ApprovalResume. Needs a checkpointer (e.g. MemorySaver), as every
 * LangGraph interrupt does.
 */
import { interrupt, isGraphInterrupt } from '@langchain/langgraph';
import { APPROVAL_REQUEST_TYPE, type ApprovalRequest } from '../token/approval-request.ts';
import { MAX_APPROVALS_PER_CALL } from '../token/approval.ts';
import type { ApprovalNeeded } from './guard.ts';
import { isPlainObject } from './credentials.ts';

/**
 * How a person answers an approval request:
 *  - `approve`: signed approvals (`cfa1.` texts, e.g. from `capframe approve`); they add to
 *    those given at earlier resumes of the same call;
 *  - `edit`: run the call with other arguments instead; they have another digest, so the
 *    approvals given so far no longer count (`approvals` may carry new ones);
 *  - `reject`: the call is not made; the model reads `message`.
 */
export type ApprovalResume =
  | { readonly type: 'approve'; readonly approvals: readonly string[] }
  | { readonly type: 'edit'; readonly args: Readonly<Record<string, unknown>>; readonly approvals?: readonly string[] }
  | { readonly type: 'reject'; readonly message?: string };

/** The approval request of a call (the interrupt's value). */
export function approvalRequest(tool: string, args: Readonly<Record<string, unknown>>, need: ApprovalNeeded): ApprovalRequest {
  return {
    type: APPROVAL_REQUEST_TYPE,
    version: 1,
    tip: need.tip,
    tool,
    operation: need.operation,
    resource: need.resource,
    args,
    argsDigest: need.argsDigest,
    callId: need.callId,
    got: need.got,
    need: need.need,
    approvers: need.approvers,
    ...(need.subject !== undefined ? { subject: need.subject } : {}),
  };
}

/** What the run resumed with, read defensively: anything unusable is a rejection with a reason. */
export function readResume(v: unknown): ApprovalResume {
  if (!isPlainObject(v)) return { type: 'reject', message: 'the approval answer was not an object' };
  const approvals = v.approvals;
  const texts = (a: unknown): readonly string[] | undefined =>
    Array.isArray(a) && a.every((x) => typeof x === 'string') && a.length <= MAX_APPROVALS_PER_CALL ? (a as string[]) : undefined;
  if (v.type === 'reject') return { type: 'reject', ...(typeof v.message === 'string' ? { message: v.message } : {}) };
  if (v.type === 'edit') {
    if (!isPlainObject(v.args)) return { type: 'reject', message: 'an edit needs args (an object)' };
    const list = approvals === undefined ? [] : texts(approvals);
    if (!list) return { type: 'reject', message: `approvals must be a list of at most ${MAX_APPROVALS_PER_CALL} cfa1. texts` };
    return { type: 'edit', args: v.args, approvals: list };
  }
  if (v.type === 'approve' || v.type === undefined) {
    const list = texts(approvals);
    if (!list) return { type: 'reject', message: `approvals must be a list of at most ${MAX_APPROVALS_PER_CALL} cfa1. texts` };
    return { type: 'approve', approvals: list };
  }
  return { type: 'reject', message: `unknown approval answer type ${JSON.stringify(v.type)}` };
}

/**
 * Pauses the run with the request; returns the answer when the run is
 * resumed, or `undefined` when the run cannot be paused (no checkpointer):
 * the call is then denied as it stands. A pause itself propagates (it is
 * how LangGraph stops the run).
 */
export function askForApproval(request: ApprovalRequest): ApprovalResume | undefined {
  try {
    return readResume(interrupt(request));
  } catch (e) {
    if (isGraphInterrupt(e)) throw e;
    return undefined;
  }
}

/** Approvals so far plus new ones, each once, the newest kept when there are too many. */
export function mergeApprovals(have: readonly string[], added: readonly string[]): string[] {
  const all = [...new Set([...have, ...added])];
  return all.slice(Math.max(0, all.length - MAX_APPROVALS_PER_CALL));
}
