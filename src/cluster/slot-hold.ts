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
 * ```
 *
 * Commands that were already on the wire when the first failure came back have run (or
 * failed) on their own; no client can take those back. Everything issued later keeps its
 * place behind the retry.
 */
import type { Command, SlotGate } from "../command/command.js";

export class SlotHold implements SlotGate {
  readonly slot: number;
  /** The slot's commands waiting their turn, in issue order. */
  readonly waiting: Command[] = [];
  /** The command resent to find out whether the slot answers again. */
  probe: Command | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  #onProbeSettled: (hold: SlotHold) => void;

  constructor(slot: number, onProbeSettled: (hold: SlotHold) => void) {
    this.slot = slot;
    this.#onProbeSettled = onProbeSettled;
  }

  /** Adds a command at its place in issue order (usually the end). */
  enqueue(command: Command): void {
    const waiting = this.waiting;
    let at = waiting.length;
    while (at > 0 && waiting[at - 1]!.sequence > command.sequence) at--;
    waiting.splice(at, 0, command);
  }

  /** The probe was answered: the slot is served again. */
  onSettled(command: Command): void {
    if (command !== this.probe) return;
    command.slotGate = undefined;
    this.probe = undefined;
    this.#onProbeSettled(this);
  }
}
