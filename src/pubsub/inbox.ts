/**
 * The bounded buffer between a subscription and its async iterator: messages wait here until
 * the consumer asks for them, never more than `limit` of them.
 *
 * ```
 *   deliver ──► [ m1 m2 m3 … m_limit ] ──► next() ──► for await (const m of sub)
 *                 ▲ full: "dropOldest" drops m1 (counted), "error" ends the iterator
 *   next() with nothing buffered waits (a line of waiters, FIFO); end() resolves them done
 * ```
 */
import { Queue } from "../connection/queue.js";

/** What a subscription's iterator does when its buffer is full: drop its oldest message, or end with a `SubscriptionOverflowError`. */
export type OverflowPolicy = "dropOldest" | "error";

/** What `push` did with a message. */
export enum PushOutcome {
  Buffered,
  /** The oldest message was dropped to make room (`dropOldest`). */
  DroppedOldest,
  /** The buffer was full (`error`): the inbox is ended with the overflow error. */
  Overflowed,
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: Error): void;
}

/** The bounded buffer between a subscription and its async iterator (see the top of this file). */
export class Inbox<T> {
  readonly #limit: number;
  readonly #policy: OverflowPolicy;
  readonly #messages = new Queue<T>(16);
  readonly #waiters = new Queue<Waiter<T>>(4);
  #ended = false;
  /** Thrown by `next()` once the buffered messages are consumed. */
  #error: Error | undefined;
  /** Messages dropped so far (`dropOldest`). */
  dropped = 0;

  constructor(limit: number, policy: OverflowPolicy) {
    this.#limit = limit;
    this.#policy = policy;
  }

  get length(): number {
    return this.#messages.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(message: T): PushOutcome {
    if (this.#ended) return PushOutcome.Buffered;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: message, done: false });
      return PushOutcome.Buffered;
    }
    if (this.#messages.length < this.#limit) {
      this.#messages.push(message);
      return PushOutcome.Buffered;
    }
    if (this.#policy === "error") return PushOutcome.Overflowed;
    this.#messages.shift();
    this.#messages.push(message);
    this.dropped++;
    return PushOutcome.DroppedOldest;
  }

  next(): Promise<IteratorResult<T>> {
    const message = this.#messages.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.#ended) {
      const error = this.#error;
      this.#error = undefined; // thrown once; the iterator is done after that
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * No more messages will come. Waiting `next()` calls finish (with `error`, if given, for the
   * first of them); buffered messages are still handed out first unless `discard`.
   */
  end(error?: Error, discard = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (discard) this.#messages.drain();
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      const pending = this.#error;
      this.#error = undefined;
      if (pending === undefined) waiter.resolve({ value: undefined, done: true });
      else waiter.reject(pending);
    }
  }
}
