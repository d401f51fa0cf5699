/**
 * The approval rule (docs/spec.md §15.4, §9 step 12a): every block whose
 * matching grants all carry an approval gate needs, for one of them,
 * `threshold` valid approvals by distinct approvers. Invalid approvals are
 * ignored, not errors. Cheap comparisons come before any signature check,
 * and each approver's approvals are verified at most until one is valid.
 */
import type { Ed25519Backend } from '../crypto/backend.ts';
import { equalBytes, toHex } from '../crypto/hash.ts';
import { formatPublicKey } from '../crypto/keys.ts';
import { ApprovalRequiredError, CapframeError, TooLargeError } from '../errors.ts';
import { Approval, approvalSignedMessage, MAX_APPROVALS_PER_CALL, type ApprovalGate } from '../token/approval.ts';
import type { ResolvedGrant } from '../token/block.ts';
import type { Chain } from '../token/chain.ts';

/** Hex of each gate's approver keys, computed once per gate (gates live as long as their cached chain). */
const gateHex = new WeakMap<ApprovalGate, readonly string[]>();
function hexKeys(g: ApprovalGate): readonly string[] {
  let h = gateHex.get(g);
  if (!h) {
    h = g.approvers.map(toHex);
    gateHex.set(g, h);
  }
  return h;
}

/** An approval as a call carries it: parsed, its cfa1. text or its bytes. */
export type ApprovalInput = Approval | string | Uint8Array;

/** The call facts an approval must name. */
export interface ApprovedCall {
  readonly tool: string;
  readonly operation: string;
  /** Normalised. */
  readonly resource: string;
  /** Hex argument digest. */
  readonly argsHex: string;
  readonly callId: string;
}

/** One block's grants that matched the call at §9 step 11, in block order. */
export interface GatedBlock {
  readonly index: number;
  readonly grants: readonly ResolvedGrant[];
}

type Refusal = 'malformed' | 'other call' | 'expired' | 'not yet valid' | 'not an approver' | 'bad signature';

interface Candidate {
  readonly approval: Approval;
  /** undefined until its signature was checked. */
  valid?: boolean;
}

/**
 * Throws ApprovalRequiredError when some gated block is not satisfied;
 * returns quietly otherwise. `approvals` may be anything a caller passed:
 * entries that do not parse are ignored.
 */
export function checkApprovals(
  chain: Chain,
  call: ApprovedCall,
  blocks: readonly GatedBlock[],
  approvals: readonly ApprovalInput[] | undefined,
  now: number,
  skew: number,
  backend: Ed25519Backend,
): void {
  const list = approvals ?? [];
  if (!Array.isArray(list)) throw new TooLargeError('approvals must be a list');
  if (list.length > MAX_APPROVALS_PER_CALL) throw new TooLargeError(`a call carries at most ${MAX_APPROVALS_PER_CALL} approvals (it has ${list.length})`);
  const refused = new Map<Refusal, number>();
  const refuse = (r: Refusal) => refused.set(r, (refused.get(r) ?? 0) + 1);
  // Approvers of every gate in play: an approval by anyone else costs no signature check.
  const wanted = new Set<string>();
  for (const b of blocks) for (const g of b.grants) if (g.approval) for (const k of hexKeys(g.approval)) wanted.add(k);
  const args = Buffer.from(call.argsHex, 'hex');
  const byApprover = new Map<string, Candidate[]>();
  for (const input of list) {
    let a: Approval;
    try {
      a = Approval.parse(input);
    } catch (e) {
      if (!(e instanceof CapframeError)) throw e;
      refuse('malformed');
      continue;
    }
    const p = a.payload;
    if (
      !equalBytes(p.tip, chain.tip) ||
      p.tool !== call.tool ||
      p.operation !== call.operation ||
      p.resource !== call.resource ||
      p.callId !== call.callId ||
      !equalBytes(p.args, args)
    ) {
      refuse('other call');
      continue;
    }
    if (p.iat > now + skew) {
      refuse('not yet valid');
      continue;
    }
    if (now >= p.exp + skew) {
      refuse('expired');
      continue;
    }
    const who = toHex(p.approver);
    if (!wanted.has(who)) {
      refuse('not an approver');
      continue;
    }
    const c = byApprover.get(who);
    if (c) c.push({ approval: a });
    else byApprover.set(who, [{ approval: a }]);
  }

  /** Does `who` have at least one valid approval? Signatures checked lazily, each once. */
  const approved = (who: string): boolean => {
    const cs = byApprover.get(who);
    if (!cs) return false;
    for (const c of cs) {
      if (c.valid === undefined) {
        const a = c.approval;
        c.valid = backend.verify(a.payload.approver, approvalSignedMessage(a.block.payload), a.block.signature);
        if (!c.valid) refuse('bad signature');
      }
      if (c.valid) return true;
    }
    return false;
  };
  /** Distinct approvers of the gate with a valid approval, counting no further than the threshold. */
  const count = (gate: ApprovalGate): number => {
    let n = 0;
    for (const k of hexKeys(gate)) {
      if (approved(k) && ++n >= gate.threshold) break;
    }
    return n;
  };

  for (const b of blocks) {
    if (b.grants.some((g) => g.approval === undefined)) continue;
    if (b.grants.some((g) => count(g.approval!) >= g.approval!.threshold)) continue;
    const first = b.grants[0]!.approval!;
    const got = count(first);
    const where = b.index === 0 ? 'the root block' : `delegation block ${b.index}`;
    const why = [...refused].map(([r, n]) => `${n} ${r}`).join(', ');
    throw new ApprovalRequiredError(
      `the call needs ${first.threshold} approval${first.threshold === 1 ? '' : 's'} by distinct approvers (${where}); it has ${got}` +
        (why ? ` (ignored: ${why})` : ''),
      { got, need: first.threshold, approvers: first.approvers.map(formatPublicKey), tip: chain.tipHex },
    );
  }
}
