/**
 * The authority side: keeps the registry's signed revocation data current,
 * as a signed delta per change (what a subscribed verifier needs) and a full
 * signed snapshot built when one is asked for (new or lagging verifiers, GET).
 * Incremental: new revoked ids are read by sequence number, added to the
 * bloom filter and merged into the sorted list; a change costs one read, one
 * small delta and its signature. A full rebuild (which also drops ids of
 * expired tokens) runs at start and when the filter outgrows its capacity;
 * after one, no delta leads to the new version (verifiers take the snapshot).
 *
 * Signing: with a key, `refresh()` and `current()` sign synchronously; with a
 * Signer (HSM, cloud KMS, WebCrypto key) `refreshAsync()` and `currentAsync()`
 * do the same through it. One logic serves both: it yields each envelope to sign
 * and changes nothing until the signature is back, so a signer that fails leaves
 * the publisher as it was (the next refresh retries).
 */
import bf from 'bloom-filters';
import type { Ed25519Backend } from '../crypto/backend.ts';
import { defaultBackend } from '../crypto/default.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { keySigner, type Signer } from '../crypto/signer.ts';
import { systemClock, type Clock } from '../clock.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { RegistrySource } from './registry.ts';
import {
  DEFAULT_BLOOM_ERROR_RATE,
  ID_BYTES,
  mergeIds,
  newBloom,
  signEnvelope,
  signEnvelopeWith,
  snapshotFrom,
  snapshotPayload,
  SNAPSHOT_LABEL,
  sortIds,
  type SignedSnapshot,
} from './snapshot.ts';
import { DELTA_LABEL, deltaFrom, deltaPayload, type SignedDelta } from './delta.ts';
import { BLOOM_LABEL, bloomAdd, bloomFormFrom, bloomFormPayload, buildBloomFilter, type BloomFilterBits, type SignedBloomForm } from './bloom.ts';

type BloomFilter = InstanceType<typeof bf.BloomFilter>;

/** An envelope the publisher's logic needs signed; it is resumed with the signed envelope bytes. */
interface ToSign {
  readonly label: Uint8Array;
  readonly payload: Uint8Array;
}
type Steps<T> = Generator<ToSign, T, Uint8Array>;

export interface PublisherOptions {
  registry: RegistrySource;
  /** The authority key that signs snapshots (or give `signer`). */
  key?: PrivateKey;
  /** Signs through this instead of a key in memory: only the async methods sign then. */
  signer?: Signer;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** Re-sign (new iat, same version) when the current snapshot is older than this, seconds. Default 60. */
  resignAfter?: number;
  /** Ids of tokens expired for longer than this are left out at the next rebuild, seconds. Default 86400. */
  pruneAfter?: number;
  /** Bloom filter false-positive rate. Default 0.01. */
  errorRate?: number;
}

/** Recent deltas kept for verifiers that reconnect a few versions behind. */
const DELTA_HISTORY = 256;

export class SnapshotPublisher {
  readonly registry: RegistrySource;
  readonly #key: PrivateKey | undefined;
  readonly #signer: Signer;
  readonly #clock: Clock;
  readonly #backend: Ed25519Backend | undefined;
  readonly resignAfter: number;
  readonly pruneAfter: number;
  readonly errorRate: number;
  #bloom: BloomFilter | undefined;
  #capacity = 0;
  #ids: Uint8Array = new Uint8Array(0);
  #seq = 0;
  /** What the signed data says now. */
  #version = -1;
  #iat = -1;
  #subjects: readonly string[] = [];
  #cutoffs: readonly { kid: string; before: number }[] = [];
  /** The full snapshot of (#version, #iat), built on demand. */
  #current: SignedSnapshot | undefined;
  /** The compact form of (#version, #iat), built on demand, and its filter (kept across re-signatures). */
  #compact: SignedBloomForm | undefined;
  #compactFilter: { version: number; count: number; sizedFor: number; bloom: BloomFilterBits } | undefined;
  /** Deltas of consecutive versions (and refreshes), oldest first; cleared by a rebuild. */
  #deltas: SignedDelta[] = [];
  /** Async operations run one at a time, in call order; a sync one during them is refused. */
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;

  constructor(o: PublisherOptions) {
    if (!o?.registry) throw new InvalidArgumentError('SnapshotPublisher needs a registry');
    const hasKey = !!o.key && o.key.kind === 'private';
    const hasSigner = !!o.signer && typeof o.signer.sign === 'function';
    if (hasKey === hasSigner) throw new InvalidArgumentError('SnapshotPublisher needs the authority private key or a Signer (one of them)');
    this.registry = o.registry;
    this.#key = hasKey ? o.key : undefined;
    this.#signer = hasSigner ? o.signer! : keySigner(o.key!, o.backend ?? defaultBackend());
    this.#clock = o.clock ?? systemClock;
    this.#backend = o.backend;
    this.resignAfter = o.resignAfter ?? 60;
    this.pruneAfter = o.pruneAfter ?? 86400;
    this.errorRate = o.errorRate ?? DEFAULT_BLOOM_ERROR_RATE;
  }

  /** Version of the signed data (after the last refresh). */
  get version(): number {
    return this.#version;
  }

  /** The current full signed snapshot, brought up to date first (signed with the key). */
  current(): SignedSnapshot {
    return this.#runSync(this.#current_());
  }

  /** current() through the Signer (or the key). */
  currentAsync(): Promise<SignedSnapshot> {
    return this.#runAsync(() => this.#current_());
  }

  /** Brings the signed data up to date (signed with the key); returns true when anything new was signed. */
  refresh(): boolean {
    return this.#runSync(this.#refresh());
  }

  /** refresh() through the Signer (or the key). */
  refreshAsync(): Promise<boolean> {
    return this.#runAsync(() => this.#refresh());
  }

  #runSync<T>(steps: Steps<T>): T {
    const key = this.#key;
    if (key === undefined) throw new InvalidArgumentError('this publisher signs through a Signer: use refreshAsync() and currentAsync()');
    if (this.#pending > 0) throw new InvalidArgumentError('an async refresh of this publisher is under way: await it first');
    const backend = this.#backend ?? defaultBackend();
    let r = steps.next();
    while (!r.done) r = steps.next(signEnvelope(r.value.label, r.value.payload, key, backend));
    return r.value;
  }

  #runAsync<T>(start: () => Steps<T>): Promise<T> {
    this.#pending++;
    const run = this.#queue.then(async () => {
      const steps = start();
      let r = steps.next();
      while (!r.done) r = steps.next(await signEnvelopeWith(r.value.label, r.value.payload, this.#signer));
      return r.value;
    });
    const done = run.finally(() => this.#pending--);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  *#current_(): Steps<SignedSnapshot> {
    yield* this.#refresh();
    if (this.#current === undefined || this.#current.version !== this.#version || this.#current.iat !== this.#iat) {
      const { payload, meta } = snapshotPayload(
        {
          version: this.#version,
          iat: this.#iat,
          ids: this.#ids,
          subjects: this.#subjects,
          cutoffs: this.#cutoffs.map((c) => ({ kid: new Uint8Array(Buffer.from(c.kid, 'base64url')), before: c.before })),
        },
        { bloom: this.#bloom! },
      );
      this.#current = snapshotFrom(yield { label: SNAPSHOT_LABEL, payload }, meta);
    }
    return this.#current;
  }

  /**
   * The current signed compact form (§10.9): the exact subjects and cut-offs
   * and a filter over the ids, sized for their number at a 1 % false-positive
   * rate. The filter is rebuilt when the version changes (one SHA-256 per id)
   * and reused when only the signature time does. Signed with the key.
   */
  currentBloom(): SignedBloomForm {
    return this.#runSync(this.#currentBloom());
  }

  /** currentBloom() through the Signer (or the key). */
  currentBloomAsync(): Promise<SignedBloomForm> {
    return this.#runAsync(() => this.#currentBloom());
  }

  *#currentBloom(): Steps<SignedBloomForm> {
    yield* this.#refresh();
    if (this.#compact === undefined || this.#compact.version !== this.#version || this.#compact.iat !== this.#iat) {
      if (this.#compactFilter?.version !== this.#version) {
        const n = this.#ids.length / ID_BYTES;
        this.#compactFilter = { version: this.#version, count: n, sizedFor: n, bloom: buildBloomFilter(this.#ids) };
      }
      const content = {
        version: this.#version,
        iat: this.#iat,
        count: this.#compactFilter.count,
        bloom: this.#compactFilter.bloom,
        subjects: this.#subjects,
        cutoffs: this.#cutoffs.map((c) => ({ kid: new Uint8Array(Buffer.from(c.kid, 'base64url')), before: c.before })),
      };
      this.#compact = bloomFormFrom(yield { label: BLOOM_LABEL, payload: bloomFormPayload(content) }, content);
    }
    return this.#compact;
  }

  /** The newest delta (leading to the current version, or refreshing it), or undefined after a rebuild. */
  latestDelta(): SignedDelta | undefined {
    const d = this.#deltas[this.#deltas.length - 1];
    return d !== undefined && d.version === this.#version ? d : undefined;
  }

  /**
   * The deltas that take a verifier holding `version` to the current version
   * (the newest refresh included), or undefined when they are not all kept:
   * such a verifier needs the full snapshot.
   */
  deltasSince(version: number): SignedDelta[] | undefined {
    if (version === this.#version) {
      const last = this.latestDelta();
      return last !== undefined && last.from === last.version ? [last] : [];
    }
    if (version > this.#version || version < 0) return undefined;
    const out: SignedDelta[] = [];
    let at = version;
    for (const d of this.#deltas) {
      if (d.from === at && d.version > at) {
        out.push(d);
        at = d.version;
      }
    }
    if (at !== this.#version) return undefined;
    const last = this.latestDelta();
    if (last !== undefined && last.from === last.version && out[out.length - 1] !== last) out.push(last);
    return out;
  }

  *#refresh(): Steps<boolean> {
    const now = this.#clock();
    if (this.#bloom === undefined) return this.#rebuild(now);
    if (this.registry.version === this.#version && now - this.#iat < this.resignAfter) return false;
    const view = this.registry.view(this.#seq, 0);
    if (view.version === this.#version) {
      // Unchanged: a freshness refresh, as a delta that adds nothing.
      yield* this.#sign(view.version, now, this.#subjects, this.#cutoffs, new Uint8Array(0), [], []);
      return true;
    }
    let added: Uint8Array = new Uint8Array(0);
    const prevVersion = this.#version;
    if (view.ids.length > 0 && this.#ids.length / ID_BYTES + view.ids.length > this.#capacity) return this.#rebuild(now);
    if (view.ids.length > 0) added = sortIds(view.ids.map((r) => Buffer.from(r.id, 'hex')));
    const had = new Set(this.#subjects);
    const newSubjects = view.subjects.filter((x) => !had.has(x));
    const hadCut = new Map(this.#cutoffs.map((c) => [c.kid, c.before]));
    const newCutoffs = view.cutoffs.filter((c) => (hadCut.get(c.kid) ?? -1) < c.before);
    yield* this.#sign(view.version, now, view.subjects, view.cutoffs, added, newSubjects, newCutoffs);
    // Signed: only now does the held state take the new ids in.
    const from = this.#compactFilter?.version;
    if (view.ids.length > 0) {
      for (const r of view.ids) this.#bloom.add(r.id);
      this.#ids = mergeIds(this.#ids, added);
      const cf = this.#compactFilter;
      if (cf !== undefined && cf.count + added.length / ID_BYTES <= Math.max(64, cf.sizedFor * 1.1)) {
        for (let o = 0; o < added.length; o += ID_BYTES) bloomAdd(cf.bloom, added, o);
        cf.count += added.length / ID_BYTES;
      } else {
        this.#compactFilter = undefined;
      }
      this.#seq = view.ids[view.ids.length - 1]!.seq;
    }
    // The filter, when it held every id of the previous version, now holds every id of the new one.
    const cf = this.#compactFilter;
    if (cf !== undefined) {
      if (from === prevVersion) cf.version = view.version;
      else this.#compactFilter = undefined;
    }
    return true;
  }

  #rebuild(now: number): boolean {
    const view = this.registry.view(0, Math.max(0, now - this.pruneAfter));
    const n = view.ids.length;
    this.#capacity = Math.max(1024, n * 2);
    this.#bloom = newBloom(this.#capacity, this.errorRate);
    for (const r of view.ids) this.#bloom.add(r.id);
    this.#ids = sortIds(view.ids.map((r) => Buffer.from(r.id, 'hex')));
    // Pruned rows are skipped for good: everything up to the newest seq has been seen.
    this.#seq = n > 0 ? view.ids[n - 1]!.seq : this.#seq;
    this.#version = view.version;
    this.#iat = Math.max(now, this.#iat);
    this.#subjects = view.subjects;
    this.#cutoffs = view.cutoffs;
    this.#deltas = [];
    this.#current = undefined;
    this.#compactFilter = undefined;
    return true;
  }

  *#sign(
    version: number,
    now: number,
    subjects: readonly string[],
    cutoffs: readonly { kid: string; before: number }[],
    addedIds: Uint8Array,
    addedSubjects: readonly string[],
    addedCutoffs: readonly { kid: string; before: number }[],
  ): Steps<void> {
    // iat never goes backwards, even if the clock does.
    const iat = Math.max(now, this.#iat);
    const from = this.#version;
    const content = {
      from,
      version,
      iat,
      ids: addedIds,
      subjects: addedSubjects,
      cutoffs: addedCutoffs.map((c) => ({ kid: new Uint8Array(Buffer.from(c.kid, 'base64url')), before: c.before })),
    };
    const delta = deltaFrom(yield { label: DELTA_LABEL, payload: deltaPayload(content) }, content);
    // A refresh replaces the previous refresh of the same version: only the newest one matters.
    const last = this.#deltas[this.#deltas.length - 1];
    if (last !== undefined && last.from === last.version && last.version === from) this.#deltas.pop();
    this.#deltas.push(delta);
    if (this.#deltas.length > DELTA_HISTORY) this.#deltas.shift();
    this.#version = version;
    this.#iat = iat;
    this.#subjects = subjects;
    this.#cutoffs = cutoffs;
  }
}

/** One-shot: the current signed snapshot of a registry (CLI export, benchmarks). */
export function exportSnapshot(registry: RegistrySource, key: PrivateKey, opts: Omit<PublisherOptions, 'registry' | 'key' | 'signer'> = {}): SignedSnapshot {
  return new SnapshotPublisher({ ...opts, registry, key }).current();
}

/** exportSnapshot through a Signer (HSM, KMS, WebCrypto key). */
export function exportSnapshotWith(
  registry: RegistrySource,
  signer: Signer,
  opts: Omit<PublisherOptions, 'registry' | 'key' | 'signer' | 'backend'> = {},
): Promise<SignedSnapshot> {
  return new SnapshotPublisher({ ...opts, registry, signer }).currentAsync();
}
