/**
 * Where the service collects approvals for a UI (POST/GET /v1/approvals):
 * pending approval requests (docs/spec.md §15.5) and the signed approvals
 * posted for them. In memory and bounded: at most `maxPending` requests,
 * each kept until its approvals could no longer be used (one approval
 * lifetime after it was posted, or its token's expiry), at most 16
 * approvals each. Full: new requests are refused (ERR_UNAVAILABLE) rather
 * than live ones forgotten.
 */
import { createHash } from 'node:crypto';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { toHex } from '../crypto/hash.ts';
import { formatPublicKey } from '../crypto/keys.ts';
import { InvalidArgumentError, UnavailableError } from '../errors.ts';
import { Approval, approvalSignedMessage, MAX_APPROVAL_LIFETIME, MAX_APPROVALS_PER_CALL } from '../token/approval.ts';
import { parseApprovalRequest, type ApprovalRequest } from '../token/approval-request.ts';

export interface PendingApproval {
  /** Stable id of the call (hex). */
  readonly id: string;
  readonly request: ApprovalRequest;
  /** cfa1. texts, one per approver, in the order they came. */
  readonly approvals: readonly string[];
  /** Distinct approvers of the request with a valid approval. */
  readonly got: number;
  /** Unix seconds after which the entry is dropped. */
  readonly until: number;
}

export interface ApprovalInboxOptions {
  readonly backend: Ed25519Backend;
  readonly clock: () => number;
  /** Most pending requests kept. Default 1024. */
  readonly maxPending?: number;
  /** Clock skew tolerated on approval times, seconds. Default 30. */
  readonly skew?: number;
}

interface Entry {
  id: string;
  request: ApprovalRequest;
  /** approver cfk1 -> approval text */
  approvals: Map<string, string>;
  until: number;
}

/** The id of a call: what an approval binds (tip, tool, operation, resource, argument digest, call id). */
export function approvalCallId(r: { tip: string; tool: string; operation: string; resource: string; argsDigest: string; callId: string }): string {
  const h = createHash('sha256');
  for (const part of [r.tip, r.tool, r.operation, r.resource, r.argsDigest, r.callId]) h.update(part).update('\u0000');
  return h.digest('hex').slice(0, 32);
}

export class ApprovalInbox {
  readonly #entries = new Map<string, Entry>();
  readonly #backend: Ed25519Backend;
  readonly #clock: () => number;
  readonly #max: number;
  readonly #skew: number;

  constructor(o: ApprovalInboxOptions) {
    this.#backend = o.backend;
    this.#clock = o.clock;
    this.#max = o.maxPending ?? 1024;
    this.#skew = o.skew ?? 30;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) throw new InvalidArgumentError('maxPending must be a positive integer');
  }

  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  /** Registers a pending request (idempotent for the same call). Throws ERR_MALFORMED / ERR_UNAVAILABLE. */
  add(request: unknown): PendingApproval {
    const r = parseApprovalRequest(request);
    const id = approvalCallId(r);
    this.#sweep();
    const have = this.#entries.get(id);
    if (have) return this.#view(have);
    if (this.#entries.size >= this.#max) throw new UnavailableError(`the approval inbox is full (${this.#max} pending requests)`);
    const now = this.#now();
    const until = Math.min(r.expiresAt ?? Number.MAX_SAFE_INTEGER, now + MAX_APPROVAL_LIFETIME);
    const e: Entry = { id, request: r, approvals: new Map(), until };
    this.#entries.set(id, e);
    return this.#view(e);
  }

  /**
   * Adds a signed approval to the pending request it is for. Refused
   * (ERR_INVALID_ARGUMENT) unless it is valid now, names a pending request's
   * call exactly, and is signed by one of that request's approvers: the
   * approval authenticates its poster. Same approver again: the newer one
   * replaces the older.
   */
  post(approval: unknown): PendingApproval {
    const a = Approval.parse(approval as string);
    const p = a.payload;
    this.#sweep();
    const id = approvalCallId({
      tip: toHex(p.tip),
      tool: p.tool,
      operation: p.operation,
      resource: p.resource,
      argsDigest: toHex(p.args),
      callId: p.callId,
    });
    const e = this.#entries.get(id);
    if (!e) throw new InvalidArgumentError('no pending approval request for this call');
    const who = formatPublicKey(p.approver);
    if (!e.request.approvers.includes(who)) throw new InvalidArgumentError("the approval's key is not one of the request's approvers");
    const now = this.#now();
    if (p.iat > now + this.#skew || now >= p.exp + this.#skew) throw new InvalidArgumentError('the approval is not valid now');
    if (!this.#backend.verify(p.approver, approvalSignedMessage(a.block.payload), a.block.signature)) {
      throw new InvalidArgumentError('the approval signature does not verify');
    }
    if (!e.approvals.has(who) && e.approvals.size >= MAX_APPROVALS_PER_CALL) throw new UnavailableError('too many approvals for this request');
    e.approvals.delete(who);
    e.approvals.set(who, a.toString());
    return this.#view(e);
  }

  /** One pending request, or undefined. */
  get(id: string): PendingApproval | undefined {
    this.#sweep();
    const e = this.#entries.get(id);
    return e ? this.#view(e) : undefined;
  }

  /** Every pending request, oldest first. */
  list(): PendingApproval[] {
    this.#sweep();
    return [...this.#entries.values()].map((e) => this.#view(e));
  }

  /** Drops a request (e.g. once the call ran). */
  delete(id: string): boolean {
    return this.#entries.delete(id);
  }

  #now(): number {
    return Math.floor(this.#clock());
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, e] of this.#entries) if (now >= e.until + this.#skew) this.#entries.delete(id);
  }

  #view(e: Entry): PendingApproval {
    const now = this.#now();
    let got = 0;
    for (const text of e.approvals.values()) {
      // Stored approvals were verified when posted; only time can make them unusable.
      const p = Approval.parse(text).payload;
      if (now < p.exp + this.#skew) got++;
    }
    return { id: e.id, request: e.request, approvals: [...e.approvals.values()], got, until: e.until };
  }
}
