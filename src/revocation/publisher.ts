/**
 * The authority side: keeps a signed snapshot of the registry current.
 * Incremental: new revoked ids are read by sequence number, added to the
 * bloom filter and merged into the sorted list, so a change costs one read,
 * one encode and one signature, not a rebuild. A full rebuild (which also
 * drops ids of expired tokens) runs at start and when the filter outgrows its
 * capacity.
 */
import bf from 'bloom-filters';
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { systemClock, type Clock } from '../clock.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { RegistrySource } from './registry.ts';
import {
  buildSnapshot, DEFAULT_BLOOM_ERROR_RATE, ID_BYTES, mergeIds, newBloom, sortIds, type SignedSnapshot,
} from './snapshot.ts';

type BloomFilter = InstanceType<typeof bf.BloomFilter>;

export interface PublisherOptions {
  registry: RegistrySource;
  /** The authority key that signs snapshots. */
  key: PrivateKey;
  clock?: Clock;
  backend?: Ed25519Backend;
  /** Re-sign (new iat, same version) when the current snapshot is older than this, seconds. Default 60. */
  resignAfter?: number;
  /** Ids of tokens expired for longer than this are left out at the next rebuild, seconds. Default 86400. */
  pruneAfter?: number;
  /** Bloom filter false-positive rate. Default 0.01. */
  errorRate?: number;
}

export class SnapshotPublisher {
  readonly registry: RegistrySource;
  readonly #key: PrivateKey;
  readonly #clock: Clock;
  readonly #backend: Ed25519Backend | undefined;
  readonly resignAfter: number;
  readonly pruneAfter: number;
  readonly errorRate: number;
  #bloom: BloomFilter | undefined;
  #capacity = 0;
  #ids: Uint8Array = new Uint8Array(0);
  #seq = 0;
  #current: SignedSnapshot | undefined;

  constructor(o: PublisherOptions) {
    if (!o?.registry || !o.key || o.key.kind !== 'private') throw new InvalidArgumentError('SnapshotPublisher needs a registry and the authority private key');
    this.registry = o.registry;
    this.#key = o.key;
    this.#clock = o.clock ?? systemClock;
    this.#backend = o.backend;
    this.resignAfter = o.resignAfter ?? 60;
    this.pruneAfter = o.pruneAfter ?? 86400;
    this.errorRate = o.errorRate ?? DEFAULT_BLOOM_ERROR_RATE;
  }

  /** The current signed snapshot, (re)built or re-signed when needed. */
  current(): SignedSnapshot {
    this.refresh();
    return this.#current!;
  }

  /** Brings the snapshot up to date; returns true when a new one was signed. */
  refresh(): boolean {
    const now = this.#clock();
    const cur = this.#current;
    if (cur && this.registry.version === cur.version && now - cur.iat < this.resignAfter) return false;
    if (!this.#bloom) return this.#rebuild(now);
    const view = this.registry.view(this.#seq, 0);
    if (view.ids.length > 0) {
      if ((this.#ids.length / ID_BYTES) + view.ids.length > this.#capacity) return this.#rebuild(now);
      for (const r of view.ids) this.#bloom.add(r.id);
      this.#ids = mergeIds(this.#ids, sortIds(view.ids.map((r) => Buffer.from(r.id, 'hex'))));
      this.#seq = view.ids[view.ids.length - 1]!.seq;
    }
    this.#sign(view.version, now, view.subjects, view.cutoffs);
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
    this.#sign(view.version, now, view.subjects, view.cutoffs);
    return true;
  }

  #sign(version: number, now: number, subjects: readonly string[], cutoffs: readonly { kid: string; before: number }[]): void {
    // iat never goes backwards for the same version, even if the clock does.
    const iat = Math.max(now, this.#current && this.#current.version === version ? this.#current.iat : 0);
    this.#current = buildSnapshot({
      version, iat, ids: this.#ids, subjects,
      cutoffs: cutoffs.map((c) => ({ kid: new Uint8Array(Buffer.from(c.kid, 'base64url')), before: c.before })),
    }, this.#key, { bloom: this.#bloom!, ...(this.#backend ? { backend: this.#backend } : {}) });
  }
}

/** One-shot: the current signed snapshot of a registry (CLI export, benchmarks). */
export function exportSnapshot(registry: RegistrySource, key: PrivateKey, opts: Omit<PublisherOptions, 'registry' | 'key'> = {}): SignedSnapshot {
  return new SnapshotPublisher({ ...opts, registry, key }).current();
}
