/**
 * A least-recently-used map bounded by an estimate of the memory its entries
 * hold (and optionally by a count): a verifier in front of thousands of
 * agents keeps every chain that fits in its budget, whatever their number.
 * Map keeps insertion order; a hit re-inserts.
 */
export class SizedLru<K, V> {
  readonly #map = new Map<K, { value: V; bytes: number }>();
  readonly maxBytes: number;
  readonly maxCount: number;
  #bytes = 0;

  constructor(maxBytes: number, maxCount = Number.POSITIVE_INFINITY) {
    this.maxBytes = Math.max(1, Math.floor(maxBytes));
    this.maxCount = Math.max(1, Math.floor(maxCount));
  }

  get(k: K): V | undefined {
    const e = this.#map.get(k);
    if (e === undefined) return undefined;
    this.#map.delete(k);
    this.#map.set(k, e);
    return e.value;
  }

  /** Adds or replaces an entry that holds about `bytes` of memory; evicts the oldest past the budget. */
  set(k: K, value: V, bytes: number): void {
    const old = this.#map.get(k);
    if (old !== undefined) {
      this.#bytes -= old.bytes;
      this.#map.delete(k);
    }
    this.#map.set(k, { value, bytes });
    this.#bytes += bytes;
    while ((this.#bytes > this.maxBytes || this.#map.size > this.maxCount) && this.#map.size > 1) {
      const [oldestKey, oldest] = this.#map.entries().next().value as [K, { value: V; bytes: number }];
      this.#map.delete(oldestKey);
      this.#bytes -= oldest.bytes;
    }
  }

  delete(k: K): void {
    const e = this.#map.get(k);
    if (e !== undefined) {
      this.#bytes -= e.bytes;
      this.#map.delete(k);
    }
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Sum of the entries' estimates. */
  get bytes(): number {
    return this.#bytes;
  }
}
