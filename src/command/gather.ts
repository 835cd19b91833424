/**
 * Collects the results of several commands by index and hands them over once all are in.
 * Pipelines, fan-outs over nodes and cross-slot splits are all a Gather plus a way to merge.
 *
 * A part's error does not stop the others: each index gets its reply or its error, and the
 * merge decides what the caller sees.
 */

import type { RedisArg } from "../resp/types.js";
import { Command, type CommandOwner } from "./command.js";
import type { CommandInfo } from "./table.js";

/** Results of several commands by index, handed over once all are in. */
export class Gather {
  readonly results: unknown[];
  #remaining: number;
  #onDone: (results: unknown[]) => void;

  constructor(size: number, onDone: (results: unknown[]) => void) {
    this.results = new Array(size);
    this.#remaining = size;
    this.#onDone = onDone;
    if (size === 0) queueMicrotask(() => onDone(this.results));
  }

  put(index: number, value: unknown): void {
    this.results[index] = value;
    if (--this.#remaining === 0) this.#onDone(this.results);
  }
}

/** A command whose outcome — reply or error — fills one index of a Gather. */
export class GatherPart extends Command {
  readonly gather: Gather;
  readonly index: number;

  constructor(
    gather: Gather,
    index: number,
    owner: CommandOwner,
    name: string,
    args: RedisArg[],
    info: CommandInfo | undefined,
    wantsBuffers: boolean,
    timeoutMs: number,
  ) {
    super(owner, name, args, info, wantsBuffers, timeoutMs);
    this.gather = gather;
    this.index = index;
  }

  protected deliver(value: unknown): void {
    this.gather.put(this.index, value);
  }

  protected deliverError(error: Error): void {
    this.gather.put(this.index, error);
  }
}
