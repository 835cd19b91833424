/**
 * A FIFO on a growable ring buffer: O(1) push and shift without the O(n) `Array#shift`,
 * and indexed access for the rare scans (deadline checks).
 *
 * ```
 *   capacity 8, head = 5, length = 4
 *   index:   0   1   2   3   4   5   6   7
 *          [ c | d | . | . | . | a | b ]      a = at(0), d = at(3)
 *                    ^tail             ^head
 * ```
 *
 * `capacity` is a power of two so that wrapping is a mask. Shifted slots are cleared so the
 * queue never keeps a settled command alive.
 */
export class Queue<T> {
  #items: Array<T | undefined>;
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(initialCapacity = 16) {
    let capacity = 4;
    while (capacity < initialCapacity) capacity *= 2;
    this.#items = new Array(capacity);
    this.#mask = capacity - 1;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The item `index` places from the oldest (0 = oldest). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /** Replaces the item `index` places from the oldest. */
  set(index: number, item: T): void {
    if (index < 0 || index >= this.#length) throw new RangeError(`index ${index} out of range`);
    this.#items[(this.#head + index) & this.#mask] = item;
  }

  /** Removes every item and returns them oldest first. */
  drain(): T[] {
    const items: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) items.push(item);
    return items;
  }

  #grow(): void {
    const capacity = this.#items.length;
    const grown = new Array<T | undefined>(capacity * 2);
    for (let i = 0; i < this.#length; i++) grown[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = grown;
    this.#mask = capacity * 2 - 1;
    this.#head = 0;
  }
}
