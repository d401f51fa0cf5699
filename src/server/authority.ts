/**
 * The authority side of `capframe serve` (docs/authority.md, docs/spec.md §16):
 * agents enrol their holder key under a profile (admin credential or a
 * one-time code) and then ask for short-lived tokens with signed, fresh,
 * single-use requests. Every issuance, refusal of a signed request and
 * enrolment change is an audit line; if the line cannot be written, nothing
 * is issued or changed (fail closed).
 */
import { issueTokenWith } from '../authority/issue.ts';
import { EnrolmentStore, type Agent } from '../authority/enrolments.ts';
import { openRequest, replayKey, requestStaleness, type RequestKind, type SignedAuthorityRequest } from '../authority/request.ts';
import type { Signer } from '../crypto/signer.ts';
import { formatPublicKey } from '../crypto/keys.ts';
import { toHex } from '../crypto/hash.ts';
import { decodeRootPayload } from '../token/block.ts';
import { systemClock, type Clock } from '../clock.ts';
import { ExpiredError, InvalidArgumentError, NotYetValidError, ReplayError, RevokedError, UnauthorizedError, UnavailableError } from '../errors.ts';
import { toCapframeError } from '../error-codes.ts';
import { subjectMatches, type Profile } from '../config/authority.ts';
import type { ReplayStore } from '../verify/replay.ts';
import type { AnyRegistry } from '../revocation/open-registry.ts';
import type { EventSink } from './decide.ts';

export interface AuthorityOptions {
  readonly audience: string;
  readonly profiles: Readonly<Record<string, Profile>>;
  readonly signer: Signer;
  readonly store: EnrolmentStore;
  /** Single-use claims of requests (the service's replay store). */
  readonly replay: ReplayStore;
  /** Disenrolment revokes the agent's subject here; without one, its tokens only run out. */
  readonly registry?: AnyRegistry;
  /** Awaited after that revocation: resolves when the service's own revocation state holds it. */
  readonly revoked?: () => Promise<void>;
  readonly audit?: EventSink;
  /** Clock tolerance on request times, seconds. Default 30. */
  readonly requestSkew?: number;
  readonly clock?: Clock;
  /** Told of every token issued (ids, subject, grants, expiry; never the token): the console's trees. */
  readonly onIssued?: (t: { tokenId: string; subject: string; grants: readonly unknown[]; expiresAt: number }) => void;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenId: string;
  readonly subject: string;
  readonly profile: string;
  readonly iat: number;
  readonly expiresAt: number;
}

export interface AuthorityCounters {
  issued: number;
  refused: number;
  enrolled: number;
  disenrolled: number;
}

export interface Authority {
  readonly audience: string;
  readonly counters: AuthorityCounters;
  /** POST /v1/enrolments: `admin` tells whether the admin bearer secret was presented. */
  enrol(requestText: unknown, code: unknown, admin: boolean): Promise<{ subject: string; profile: string; holder: string; changed: boolean }>;
  /** POST /v1/tokens. */
  issue(requestText: unknown): Promise<IssuedToken>;
  /** POST /v1/disenrol (admin). */
  disenrol(subject: string, reason?: string): Promise<{ subject: string; changed: boolean; revoked: boolean }>;
  close(): void;
}

function audit(sink: EventSink | undefined, e: Record<string, unknown>): void {
  if (!sink) return;
  try {
    const event = { source: 'authority', tool: 'capframe.authority', ...e };
    if (typeof sink === 'function') sink(event);
    else sink.write(event);
  } catch (err) {
    throw new UnavailableError(`the audit log cannot be written: ${(err as Error).message}`, { cause: err });
  }
}

export function createAuthority(o: AuthorityOptions): Authority {
  const clock = o.clock ?? systemClock;
  const skew = o.requestSkew ?? 30;
  const counters: AuthorityCounters = { issued: 0, refused: 0, enrolled: 0, disenrolled: 0 };

  /** Opens a request and checks audience, freshness and single use. */
  async function accept(kind: RequestKind, text: unknown, now: number): Promise<SignedAuthorityRequest> {
    if (typeof text !== 'string') throw new InvalidArgumentError('the body needs "request": the signed cfq1. request text');
    const r = openRequest(kind, text);
    if (r.audience !== o.audience) throw new UnauthorizedError(`the request is for another service (audience ${JSON.stringify(r.audience.slice(0, 64))})`);
    const stale = requestStaleness(r, now, skew);
    if (stale) throw r.iat > now + skew ? new NotYetValidError(stale) : new ExpiredError(stale);
    // Claimed only after the signature verified: nobody can burn another agent's request.
    if (!(await o.replay.checkAndRecord(replayKey(r), r.exp + skew, now))) throw new ReplayError('this request was already used');
    return r;
  }

  function refuse(e: unknown, op: string, r?: { subject?: string; profile?: string }): never {
    const err = toCapframeError(e);
    counters.refused++;
    // Refusals of well-formed requests are audited too (an agent knocking after disenrolment shows).
    if (r && err.code !== 'ERR_UNAVAILABLE') {
      try {
        audit(o.audit, { decision: 'deny', code: err.code, operation: op, subject: r.subject, resource: r.profile ? `profile:${r.profile}` : undefined });
      } catch {
        /* the refusal stands either way */
      }
    }
    throw err;
  }

  return {
    audience: o.audience,
    counters,

    async enrol(text, code, admin) {
      const now = clock();
      let r: SignedAuthorityRequest | undefined;
      try {
        if (!admin && typeof code !== 'string') throw new UnauthorizedError('enrolment needs the admin bearer secret or a one-time enrolment code');
        r = await accept('enrolment', text, now);
        const profile = Object.prototype.hasOwnProperty.call(o.profiles, r.profile) ? o.profiles[r.profile] : undefined;
        if (!profile) throw new InvalidArgumentError(`no profile ${JSON.stringify(r.profile)}`);
        if (!subjectMatches(profile.subject, r.subject!))
          throw new InvalidArgumentError(`subject ${r.subject} does not match the profile's pattern ${profile.subject}`);
        const input = { subject: r.subject!, holder: r.holder, profile: profile.name, now };
        // The audit line is written inside the enrolment's transaction: if it cannot be, nothing is enrolled.
        const line = (c: { agent: Agent }) =>
          audit(o.audit, { decision: 'allow', operation: 'enrol', subject: c.agent.subject, resource: `profile:${profile.name}`, mode: c.agent.via });
        const res = admin ? o.store.enrol({ ...input, via: 'admin' }, line) : o.store.enrolWithCode(code as string, input, line);
        if (res.changed) counters.enrolled++;
        return { subject: res.agent.subject, profile: res.agent.profile, holder: formatPublicKey(r.holder), changed: res.changed };
      } catch (e) {
        refuse(e, 'enrol', r ? { subject: r.subject!, profile: r.profile } : undefined);
      }
    },

    async issue(text) {
      const now = clock();
      let agent: Agent | undefined;
      let r: SignedAuthorityRequest | undefined;
      try {
        r = await accept('token', text, now);
        agent = o.store.byHolder(r.holder);
        if (!agent) throw new UnauthorizedError('this holder key is not enrolled');
        if (agent.status !== 'active') throw new RevokedError(`agent ${agent.subject} is disenrolled`);
        if (agent.profile !== r.profile) throw new UnauthorizedError(`agent ${agent.subject} is enrolled under profile ${agent.profile}, not ${r.profile}`);
        const profile = Object.hasOwn(o.profiles, agent.profile) ? o.profiles[agent.profile] : undefined;
        if (!profile) throw new UnauthorizedError(`profile ${agent.profile} is no longer configured`);
        // The profile may have been narrowed since the enrolment: its pattern holds at every issue.
        if (!subjectMatches(profile.subject, agent.subject))
          throw new UnauthorizedError(`subject ${agent.subject} no longer matches the pattern of profile ${profile.name}`);
        const ttl = r.ttl !== undefined ? Math.min(r.ttl, profile.ttl) : profile.ttl;
        const token = await issueTokenWith(o.signer, {
          subject: agent.subject,
          holder: r.holder,
          grants: profile.grants,
          ttl,
          maxDepth: profile.maxDepth,
          clock: () => now,
        });
        const tokenId = toHex(decodeRootPayload(token.blocks[0]!.payload).tid);
        audit(o.audit, { decision: 'allow', operation: 'issue', subject: agent.subject, resource: `profile:${profile.name}`, chainIds: [tokenId] });
        counters.issued++;
        try {
          o.onIssued?.({ tokenId, subject: agent.subject, grants: profile.grants, expiresAt: now + ttl });
        } catch {
          /* an observer never changes an issuance */
        }
        return { token: String(token), tokenId, subject: agent.subject, profile: profile.name, iat: now, expiresAt: now + ttl };
      } catch (e) {
        refuse(e, 'issue', r ? { ...(agent ? { subject: agent.subject } : {}), profile: r.profile } : undefined);
      }
    },

    async disenrol(subject, reason) {
      const now = clock();
      if (typeof subject !== 'string' || subject.length === 0 || subject.length > 1024) throw new InvalidArgumentError('disenrol needs a subject');
      const existing = o.store.get(subject);
      if (!existing) throw new InvalidArgumentError(`no agent enrolled as ${subject}`);
      // Audited first: a change that cannot be audited is not made.
      audit(o.audit, { decision: 'allow', operation: 'disenrol', subject, resource: `profile:${existing.profile}` });
      const res = o.store.disenrol(subject, now)!;
      let revoked = false;
      if (o.registry) {
        await o.registry.revokeSubject(subject, { reason: reason ?? 'disenrolled' });
        await o.revoked?.();
        revoked = true;
      }
      if (res.changed) counters.disenrolled++;
      return { subject, changed: res.changed, revoked };
    },

    close() {
      o.store.close();
    },
  };
}
