/**
 * What the page may see of a decision: codes, names and chain ids. Never the
 * token, a key, the arguments, their digest (unkeyed: guessable arguments can
 * be recovered from it), the call id, or the denial's free-text reason (it can
 * quote argument values); every string is cut to a bounded length.
 */
export interface DecisionView {
  readonly seq: number;
  /** When the console took the decision off the ring (ms since the epoch; within ~100 ms of the decision). */
  readonly time: number;
  readonly allowed: boolean;
  readonly code: string;
  readonly subject: string;
  readonly tool: string;
  readonly operation: string;
  readonly resource: string;
  readonly chainIds: readonly string[];
  readonly mode: string;
}

const MAX_TEXT = 256;
const MAX_CHAIN = 16;

export function text(v: unknown, max = MAX_TEXT): string {
  return typeof v === 'string' ? (v.length > max ? v.slice(0, max) + '…' : v) : '';
}

export function hexId(v: unknown): string | null {
  return typeof v === 'string' && /^[0-9a-f]{1,64}$/.test(v) ? v : null;
}

export function decisionView(ev: Record<string, unknown>, seq: number, time: number): DecisionView {
  const allowed = ev.allowed === true;
  const ids = Array.isArray(ev.chainIds) ? ev.chainIds.slice(0, MAX_CHAIN).map(hexId) : [];
  return {
    seq,
    time,
    allowed,
    code: allowed ? 'OK' : text(ev.code, 64) || 'ERR_INTERNAL',
    subject: text(ev.subject),
    tool: text(ev.tool),
    operation: text(ev.operation, 64),
    resource: text(ev.resource),
    chainIds: ids.every((x) => x !== null) ? (ids as string[]) : [],
    mode: text(ev.mode, 16),
  };
}
