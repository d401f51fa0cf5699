/**
 * Delegation trees as the console has seen them: every decision names its
 * chain (block ids, root first), so each chain is a path root -> ... -> tip;
 * the authority adds the roots it issues. A node holds what was learnt about
 * its block: the subject (a decision names the tip's), a summary of grants
 * (the grant an allowed call used, or the issuing profile's), the expiry,
 * and counts. Bounded: past `maxNodes` the least recently seen node goes
 * (with its whole subtree, so no orphan is left pointing at nothing).
 */
import type { DecisionView } from './view.ts';
import { text } from './view.ts';

export interface ForestNode {
  readonly id: string;
  parent: string | null;
  subject: string;
  grants: string[];
  /** Unix seconds, when known. */
  expiresAt: number | null;
  allowed: number;
  denied: number;
  lastCode: string;
  /** ms since the epoch. */
  lastSeen: number;
  issuedBy: 'authority' | null;
  readonly children: Set<string>;
}

export interface TreeNode {
  readonly id: string;
  readonly subject: string;
  readonly grants: readonly string[];
  readonly expiresAt: number | null;
  readonly revoked: boolean;
  readonly allowed: number;
  readonly denied: number;
  readonly lastCode: string;
  readonly lastSeen: number;
  readonly issuedBy: 'authority' | null;
  readonly children: readonly TreeNode[];
}

const MAX_GRANTS = 8;

/** The verifier names a chain only once its signatures held; a denial with one of these codes never builds a tree all the same (its ids could be the caller's own). */
const UNVERIFIED = new Set(['ERR_MALFORMED', 'ERR_TOO_LARGE', 'ERR_SIGNATURE_INVALID', 'ERR_UNKNOWN_KEY', 'ERR_DEPTH', 'ERR_ATTENUATION']);

export function grantSummary(g: unknown): string | null {
  if (typeof g !== 'object' || g === null) return null;
  // Decisions of one grant share its frozen effective-grant object: summarise it once.
  const known = summaries.get(g);
  if (known !== undefined) return known;
  const { resource, permissions } = g as { resource?: unknown; permissions?: unknown };
  if (typeof resource !== 'string' || !Array.isArray(permissions)) return null;
  const s = `${text(resource, 200)} [${permissions
    .filter((p): p is string => typeof p === 'string')
    .slice(0, 8)
    .map((p) => text(p, 32))
    .join(', ')}]`;
  if (Object.isFrozen(g)) summaries.set(g, s);
  return s;
}
const summaries = new WeakMap<object, string>();

export class Forest {
  readonly #nodes = new Map<string, ForestNode>();
  readonly #max: number;

  constructor(maxNodes: number) {
    this.#max = maxNodes;
  }

  get size(): number {
    return this.#nodes.size;
  }

  #touch(id: string, parent: string | null, now: number): ForestNode {
    let n = this.#nodes.get(id);
    if (n) {
      this.#nodes.delete(id); // re-inserted: Map order is the recency order
    } else {
      n = {
        id,
        parent: null,
        subject: '',
        grants: [],
        expiresAt: null,
        allowed: 0,
        denied: 0,
        lastCode: '',
        lastSeen: now,
        issuedBy: null,
        children: new Set(),
      };
    }
    if (parent !== null && n.parent === null && parent !== id) {
      n.parent = parent;
      this.#nodes.get(parent)?.children.add(id);
    }
    n.lastSeen = now;
    this.#nodes.set(id, n);
    return n;
  }

  /**
   * Past the cap, the least recently seen go down to `max - max/16` in one
   * scan: a scan from the oldest per decision would walk the deleted slots
   * at the front of the Map every time.
   */
  #evict(keep: ReadonlySet<string>): void {
    if (this.#nodes.size <= this.#max) return;
    const target = this.#max - Math.floor(this.#max / 16);
    for (const id of this.#nodes.keys()) {
      if (this.#nodes.size <= target) return;
      if (!keep.has(id)) this.#remove(id);
    }
  }

  #remove(id: string): void {
    const n = this.#nodes.get(id);
    if (!n) return;
    this.#nodes.delete(id);
    if (n.parent !== null) this.#nodes.get(n.parent)?.children.delete(id);
    for (const c of n.children) this.#remove(c);
  }

  /** One decision: its chain becomes (or refreshes) a path; the tip gets the subject, grant and outcome. */
  addDecision(d: DecisionView, grant: unknown, expiresAt: unknown): void {
    const ids = d.chainIds;
    if (ids.length === 0 || (!d.allowed && UNVERIFIED.has(d.code))) return;
    for (let i = 0; i < ids.length; i++) this.#touch(ids[i]!, i === 0 ? null : ids[i - 1]!, d.time);
    const tip = this.#nodes.get(ids[ids.length - 1]!)!;
    if (d.subject) tip.subject = d.subject;
    if (d.allowed) {
      tip.allowed++;
      const g = grantSummary(grant);
      if (g !== null && !tip.grants.includes(g)) tip.grants = [g, ...tip.grants].slice(0, MAX_GRANTS);
      if (typeof expiresAt === 'number' && Number.isFinite(expiresAt)) tip.expiresAt = expiresAt;
    } else tip.denied++;
    tip.lastCode = d.code;
    if (this.#nodes.size > this.#max) this.#evict(new Set(ids));
  }

  /** A root token issued by the authority. */
  addIssued(t: { tokenId: string; subject: string; grants: readonly unknown[]; expiresAt: number }, now: number): void {
    const n = this.#touch(t.tokenId, null, now);
    n.subject = text(t.subject);
    n.issuedBy = 'authority';
    n.expiresAt = t.expiresAt;
    n.grants = t.grants
      .map(grantSummary)
      .filter((g): g is string => g !== null)
      .slice(0, MAX_GRANTS);
    this.#evict(new Set([t.tokenId]));
  }

  /** The trees, most recently seen roots first, at most `limit` roots. */
  trees(revoked: (node: ForestNode) => boolean, limit = 200): TreeNode[] {
    const build = (n: ForestNode, above: boolean, depth: number): TreeNode => {
      const r = above || revoked(n);
      const kids = depth > 32 ? [] : [...n.children].map((c) => this.#nodes.get(c)).filter((c): c is ForestNode => c !== undefined);
      return {
        id: n.id,
        subject: n.subject,
        grants: n.grants,
        expiresAt: n.expiresAt,
        revoked: r,
        allowed: n.allowed,
        denied: n.denied,
        lastCode: n.lastCode,
        lastSeen: n.lastSeen,
        issuedBy: n.issuedBy,
        children: kids.map((c) => build(c, r, depth + 1)),
      };
    };
    const roots = [...this.#nodes.values()].filter((n) => n.parent === null || !this.#nodes.has(n.parent)).reverse();
    return roots.slice(0, limit).map((n) => build(n, false, 0));
  }
}
