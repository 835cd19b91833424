/**
 * A bounded FIFO of things that wait for something (a topology, a free dedicated
 * connection) until their deadline: entries leave in the order they came, or expire at
 * their deadline, whichever is first. Past `limit` a new entry is refused rather than
 * queued, so an outage cannot grow memory without end.
 *
 * ```
 *   push ──► [ e1 e2 e3 ... ] ──► shift / drain (in order)
 *                 │ one alarm, armed at the earliest deadline
 *                 └──► expired entries go to onExpire (the rest keep their order)
 * ```
 *
 * The offline queue (commands issued before the first topology, or while their slot is
 * unserved) is one; an entry there is a command, or a whole pipeline, which waits as one
 * entry: a batch sent before the first topology is not an outage.
 */
import type { Command } from "../command/command.js";
import { Queue } from "../connection/queue.js";
import { Alarm } from "./alarm.js";

/** Something that waits until a deadline. */
export interface Deferred {
  /** `performance.now()` time after which nobody waits for it. */
  readonly deadlineAt: number;
}

/** A bounded FIFO whose entries leave in order or at their deadline (see the top of this file). */
export class DeadlineQueue<T extends Deferred> {
  readonly limit: number;
  #entries = new Queue<T>(16);
  #alarm: Alarm;
  #onExpire: (entry: T) => void;

  /**
   * @param limit entries that may wait at once
   * @param onExpire receives each entry whose deadline passed while it waited
   */
  constructor(limit: number, onExpire: (entry: T) => void) {
    this.limit = limit;
    this.#onExpire = onExpire;
    // Referenced: a command waiting here keeps the process alive until it settles.
    this.#alarm = new Alarm(() => this.#expire(), true);
  }

  get length(): number {
    return this.#entries.length;
  }

  /** False when full: the caller rejects the entry. */
  push(entry: T): boolean {
    if (this.#entries.length >= this.limit) return false;
    this.#entries.push(entry);
    this.#alarm.armBy(entry.deadlineAt);
    return true;
  }

  /** Takes the oldest entry. */
  shift(): T | undefined {
    const entry = this.#entries.shift();
    if (this.#entries.length === 0) this.#alarm.cancel();
    return entry;
  }

  /** Takes every waiting entry, oldest first. */
  drain(): T[] {
    this.#alarm.cancel();
    return this.#entries.drain();
  }

  #expire(): void {
    const now = performance.now();
    const expired: T[] = [];
    const waiting = this.#entries.drain();
    for (const entry of waiting) {
      if (entry.deadlineAt <= now) expired.push(entry);
      else {
        this.#entries.push(entry);
        this.#alarm.armBy(entry.deadlineAt);
      }
    }
    for (const entry of expired) this.#onExpire(entry);
  }
}

/** A pipeline (or a split command's parts) waiting for the first topology, as one entry. */
export class CommandBatch {
  readonly commands: Command[];
  readonly deadlineAt: number;

  constructor(commands: Command[]) {
    this.commands = commands;
    let deadlineAt = Number.POSITIVE_INFINITY;
    for (const command of commands) deadlineAt = Math.min(deadlineAt, command.deadlineAt);
    this.deadlineAt = deadlineAt;
  }
}
