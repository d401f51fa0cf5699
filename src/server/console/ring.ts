/**
 * The recent decisions the console shows, fed from the service's decision
 * path. `push` is all that runs per decision: one store into a fixed array
 * and a counter; everything else (stamping, shaping, fan-out) happens later,
 * off the call, when the console drains it.
 */
export class DecisionRing {
  readonly #slots: (Record<string, unknown> | undefined)[];
  readonly #mask: number;
  /** Decisions pushed so far; slot of decision n is n & mask. */
  #next = 0;

  /** Capacity is rounded up to a power of two (at least 16). */
  constructor(capacity: number) {
    let size = 16;
    while (size < capacity) size *= 2;
    this.#slots = new Array<Record<string, unknown> | undefined>(size);
    this.#mask = size - 1;
  }

  get capacity(): number {
    return this.#slots.length;
  }

  /** Sequence number the next decision gets. */
  get next(): number {
    return this.#next;
  }

  readonly push = (event: Record<string, unknown>): void => {
    this.#slots[this.#next++ & this.#mask] = event;
  };

  /** Decisions from sequence `from` on (older ones already overwritten are skipped), oldest first. */
  since(from: number): { first: number; events: Record<string, unknown>[] } {
    const first = Math.max(from, this.#next - this.#slots.length, 0);
    const events: Record<string, unknown>[] = [];
    for (let n = first; n < this.#next; n++) events.push(this.#slots[n & this.#mask]!);
    return { first, events };
  }
}
