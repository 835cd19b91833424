/**
 * One timer for "the earliest of many deadlines": armed at a `performance.now()` time, moved
 * earlier when an earlier deadline arrives, fired once. Node timers cannot wait longer than
 * 2^31 - 1 ms (a longer delay fires after 1 ms, with a warning); a later deadline is waited
 * for in steps of that length, so a far deadline never turns into a busy loop.
 */

/** The longest delay a Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** One timer for the earliest of many deadlines (see the top of this file). */
export class Alarm {
  #timer: NodeJS.Timeout | undefined;
  #at = Number.POSITIVE_INFINITY;
  #onFire: () => void;
  #keepsProcessAlive: boolean;

  /**
   * @param onFire called once the armed time has come (not before)
   * @param keepsProcessAlive whether a pending alarm keeps Node running (true for work
   *   someone waits on, false for housekeeping)
   */
  constructor(onFire: () => void, keepsProcessAlive: boolean) {
    this.#onFire = onFire;
    this.#keepsProcessAlive = keepsProcessAlive;
  }

  /** The time it is armed for; `Infinity` when idle. */
  get at(): number {
    return this.#at;
  }

  /** Arms for `at`, unless already armed for an earlier time. `Infinity` does nothing. */
  armBy(at: number): void {
    if (at >= this.#at) return;
    this.#set(at);
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  #set(at: number): void {
    clearTimeout(this.#timer);
    this.#at = at;
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - performance.now())));
    this.#timer = setTimeout(() => this.#tick(), delayMs);
    if (!this.#keepsProcessAlive) this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    const at = this.#at;
    if (performance.now() < at) {
      this.#set(at); // a step of a deadline beyond the timer range
      return;
    }
    this.#at = Number.POSITIVE_INFINITY;
    this.#onFire();
  }
}
