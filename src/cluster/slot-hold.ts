/**
 * A slot on hold: a command of it must be retried (TRYAGAIN mid-migration, a primary that
 * just died, CLUSTERDOWN, ...), so the slot's commands issued after it must not overtake it.
 *
 * ```
 *   waiting: [ c3 c5 c7 ]     in issue order (by Command.sequence); new commands join here
 *   probe:   c2               resent after the backoff; alone, so nothing behind it can pass
 *
 *   probe settles (reply, or a final error) → the slot works again: c3 c5 c7 go, in order
 *   probe must be retried again             → back at the head of `waiting`, next backoff
 *   a waiting command's deadline passes     → it leaves the line with a TimeoutError
 * ```
 *
 * Commands that were already on the wire when the first failure came back have run (or
 * failed) on their own; no client can take those back. Everything issued later keeps its
 * place behind the retry.
 *
 * Blocking calls (BLPOP, ...) never become the probe (cluster/executor.ts retries them on
 * their own): a probe that blocks would hold the slot, and the write that wakes it would
 * wait behind it for ever. The line is bounded: past `limit` waiting commands a new one is
 * refused (the executor fails it), so a slot that stays down cannot grow memory.
 */
import type { Command, SlotGate } from "../command/command.js";
import type { RedisClusterError } from "../errors.js";
import { Alarm } from "./alarm.js";

/** A slot whose commands wait behind one being retried, in issue order (see the top of this file). */
export class SlotHold implements SlotGate {
  readonly slot: number;
  /** The slot's commands waiting their turn, in issue order. */
  readonly waiting: Command[] = [];
  /** The command resent to find out whether the slot answers again. */
  probe: Command | undefined = undefined;
  /** The backoff before the next probe. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Why the slot is held: the last retryable failure of its probe. */
  cause: RedisClusterError;
  readonly #limit: number;
  readonly #onProbeSettled: (hold: SlotHold) => void;
  readonly #onExpire: (command: Command, hold: SlotHold) => void;
  readonly #expiry: Alarm;

  constructor(
    slot: number,
    cause: RedisClusterError,
    limit: number,
    onProbeSettled: (hold: SlotHold) => void,
    onExpire: (command: Command, hold: SlotHold) => void,
  ) {
    this.slot = slot;
    this.cause = cause;
    this.#limit = limit;
    this.#onProbeSettled = onProbeSettled;
    this.#onExpire = onExpire;
    this.#expiry = new Alarm(() => this.#expireWaiting(), true);
  }

  /**
   * Adds a command at its place in issue order (usually the end). False when the line is
   * full; a command coming back for a retry always gets its place.
   */
  enqueue(command: Command, retrying = false): boolean {
    const waiting = this.waiting;
    if (!retrying && waiting.length >= this.#limit) return false;
    let at = waiting.length;
    while (at > 0 && waiting[at - 1]!.sequence > command.sequence) at--;
    waiting.splice(at, 0, command);
    this.#expiry.armBy(command.deadlineAt);
    return true;
  }

  /** Takes the first waiting command (the next probe). */
  shift(): Command | undefined {
    return this.waiting.shift();
  }

  /** Takes every waiting command, in order, and stops watching their deadlines. */
  drain(): Command[] {
    this.#expiry.cancel();
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.waiting.splice(0);
  }

  /** The probe was answered: the slot is served again. */
  onSettled(command: Command): void {
    if (command !== this.probe) return;
    command.slotGate = undefined;
    this.probe = undefined;
    this.#onProbeSettled(this);
  }

  #expireWaiting(): void {
    const now = performance.now();
    const expired: Command[] = [];
    let kept = 0;
    for (const command of this.waiting) {
      if (command.deadlineAt <= now) expired.push(command);
      else {
        this.waiting[kept++] = command;
        this.#expiry.armBy(command.deadlineAt);
      }
    }
    this.waiting.length = kept;
    for (const command of expired) this.#onExpire(command, this);
  }
}
