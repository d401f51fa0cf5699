/** A bounded least-recently-used map. Map keeps insertion order; a hit re-inserts. */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  readonly max: number;
  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max));
  }
  get(k: K): V | undefined {
    const v = this.#map.get(k);
    if (v !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.#map.delete(k);
    this.#map.set(k, v);
    if (this.#map.size > this.max) {
      const oldest = this.#map.keys().next().value as K;
      this.#map.delete(oldest);
    }
  }
  delete(k: K): void {
    this.#map.delete(k);
  }
  clear(): void {
    this.#map.clear();
  }
  get size(): number {
    return this.#map.size;
  }
}
