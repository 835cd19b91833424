/**
 * Commands that cannot be routed yet — no topology so far, or their slot has no shard for
 * the moment — wait here, in the order they were issued, until a topology arrives or their
 * deadline passes. Bounded: past `limit` a new entry is refused rather than queued, so an
 * outage cannot grow memory without end. An entry is a command, or a whole pipeline (which
 * waits as one entry: a batch sent before the first topology is not an outage).
 */
import type { Command } from "../command/command.js";
import { Queue } from "../connection/queue.js";

export interface Deferred {
  readonly deadlineAt: number;
}

export class OfflineQueue<T extends Deferred> {
  readonly limit: number;
  #commands = new Queue<T>(16);
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  #onExpire: (entry: T) => void;

  constructor(limit: number, onExpire: (entry: T) => void) {
    this.limit = limit;
    this.#onExpire = onExpire;
  }

  get length(): number {
    return this.#commands.length;
  }

  /** False when full: the caller rejects the command. */
  push(command: T): boolean {
    if (this.#commands.length >= this.limit) return false;
    this.#commands.push(command);
    if (command.deadlineAt < this.#armedAt) this.#arm(command.deadlineAt);
    return true;
  }

  /** Takes every waiting command, oldest first. */
  drain(): T[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    return this.#commands.drain();
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    // Referenced: a command waiting for the cluster keeps the process alive until it settles.
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, Math.ceil(at - performance.now())));
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    const kept = new Queue<T>(this.#commands.length);
    const expired: T[] = [];
    for (const command of this.#commands.drain()) {
      if (command.deadlineAt <= now) {
        expired.push(command);
      } else {
        kept.push(command);
        next = Math.min(next, command.deadlineAt);
      }
    }
    this.#commands = kept;
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    for (const command of expired) this.#onExpire(command);
  }
}

/** A pipeline waiting for the first topology, as one entry of the offline queue. */
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
