/**
 * resty-redis-cluster's pipeline style, over the native pipeline: after `initPipeline()`,
 * every command call of the client queues instead of sending, until `commitPipeline()`
 * sends them all and resolves with their results in order. While queued, each call returns
 * a promise of its own entry of that array, which never rejects (errors are values, as in
 * the array) — also when the pipeline is cancelled or the client closes: then the entry is
 * the `ClosedError`.
 */
import type { Pipeline } from "../batch/pipeline.js";
import type { ReplyTransform } from "../command/command.js";
import { SEND_COMMAND } from "../command/methods.js";
import type { CommandInfo } from "../command/table.js";
import { ArgumentError, ClosedError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";

/** resty-redis-cluster's `initPipeline()` / `commitPipeline()`, over the native pipeline. */
export class RestyPipelineMode {
  #open: { pipeline: Pipeline; waiters: Array<(result: unknown) => void> } | undefined;
  readonly #newPipeline: () => Pipeline;

  constructor(newPipeline: () => Pipeline) {
    this.#newPipeline = newPipeline;
  }

  /** True between `initPipeline()` and `commitPipeline()`/`cancelPipeline()`. */
  get isOpen(): boolean {
    return this.#open !== undefined;
  }

  init(): void {
    if (this.#open !== undefined) {
      throw new ArgumentError(
        "initPipeline: a pipeline is already open; commitPipeline() or cancelPipeline() first",
      );
    }
    this.#open = { pipeline: this.#newPipeline(), waiters: [] };
  }

  /** Queues a command call; its promise resolves with its entry of the commit's results. */
  queue(
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    const open = this.#open!;
    open.pipeline[SEND_COMMAND](name, info, args, wantsBuffers, transform);
    return new Promise((resolve) => open.waiters.push(resolve));
  }

  async commit(): Promise<unknown[]> {
    const open = this.#open;
    if (open === undefined)
      throw new ArgumentError("commitPipeline: no pipeline is open; call initPipeline() first");
    this.#open = undefined;
    let results: unknown[];
    try {
      results = await open.pipeline.exec();
    } catch (error) {
      for (const resolve of open.waiters) resolve(error); // the queued calls never reject
      throw error;
    }
    open.waiters.forEach((resolve, index) => {
      resolve(results[index]);
    });
    return results;
  }

  /** Drops what was queued; each queued call resolves with `error`. */
  cancel(error: Error = new ClosedError("the pipeline was cancelled")): void {
    const open = this.#open;
    this.#open = undefined;
    for (const resolve of open?.waiters ?? []) resolve(error);
  }
}
