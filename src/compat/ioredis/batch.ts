/**
 * ioredis's `pipeline()` and `multi()` over the native Pipeline and Transaction: the same
 * command methods (chainable, ioredis's argument rules), the `defineCommand()` scripts as
 * methods, and `exec()` resolving with `[error, result]` pairs, one per queued command.
 *
 * ```
 *   facade.multi().incr("a").get("a").exec()
 *     └─► native Transaction .incr("a") .get("a") .exec() ──► [1, "1"]
 *                                                            ──► [[null, 1], [null, "1"]]
 * ```
 *
 * A command that failed is `[error, null]`, as ioredis has it; a transaction a WATCH
 * aborted resolves with `null`; what makes the whole batch fail (EXECABORT, a closed client)
 * rejects, as in ioredis.
 */
import type { Pipeline } from "../../batch/pipeline.js";
import type { Transaction } from "../../batch/transaction.js";
import type { CommandMethods } from "../../command/methods.generated.js";
import type { RedisArg } from "../../resp/types.js";
import type { Script } from "../../scripting.js";
import { defineCommandMethods, invoke } from "../invoke.js";
import { asIoredisError, type Callback, ioredisArgs, withCallback } from "./args.js";

/** One entry of `exec()`'s result: the command's error, or its result. */
export type ExecEntry = [error: Error | null, result: unknown];

/** A command given as a list, as `pipeline([["set", "a", "1"], ["get", "a"]])` takes them. */
export type QueuedCall = [name: string, ...args: unknown[]];

type NativeBatch = Pipeline | Transaction<unknown[] | null>;

/**
 * A pipeline or transaction as ioredis hands it out: every command method queues and
 * returns the batch (`p.set("a", "1").get("a")`), `exec()` sends.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the command methods are installed on the prototype in the static block; the interface below types them.
export class IoredisBatch {
  readonly #native: NativeBatch;
  /** Per-command callbacks (ioredis lets each queued call take one), by queue position. */
  readonly #callbacks: Array<Callback | undefined> = [];

  /** @internal Made by `Cluster.pipeline()` and `Cluster.multi()`. */
  constructor(native: NativeBatch, scripts: ReadonlyMap<string, Script>, calls?: readonly QueuedCall[]) {
    this.#native = native;
    for (const [name, script] of scripts) {
      const queue = (buffers: boolean) =>
        function (this: IoredisBatch, ...given: unknown[]): IoredisBatch {
          const { args, callback } = ioredisArgs(name, given);
          if (buffers) native.runScriptBuffer(script, ...args);
          else native.runScript(script, ...args);
          this.#callbacks.push(callback);
          return this;
        };
      Object.defineProperty(this, name, { configurable: true, value: queue(false) });
      Object.defineProperty(this, `${name}Buffer`, { configurable: true, value: queue(true) });
    }
    for (const [name, ...args] of calls ?? []) {
      // A command the facade has a method for (defined commands too), else by name.
      const methods = this as unknown as Record<string, unknown>;
      const method = methods[name] ?? methods[String(name).toLowerCase()];
      if (typeof method === "function") (method as (...values: unknown[]) => unknown).apply(this, args);
      else this.call(String(name), ...args);
    }
  }

  /** How many commands are queued. */
  get length(): number {
    return this.#callbacks.length;
  }

  /**
   * Sends what was queued; resolves with one `[error, result]` per command, in order
   * (`null` for a transaction that a WATCH aborted).
   */
  exec(callback?: Callback<ExecEntry[] | null>): Promise<ExecEntry[] | null> {
    const done = this.#native.exec().then((results: unknown[] | null) => {
      if (results === null) return null;
      const entries = results.map(
        (result): ExecEntry => (result instanceof Error ? [result, null] : [null, result]),
      );
      entries.forEach(([error, result], index) => {
        const each = this.#callbacks[index];
        if (each === undefined) return;
        try {
          each(error, result);
        } catch {
          // The caller's per-command callback threw; the batch itself succeeded.
        }
      });
      return entries;
    }, asIoredisError);
    return withCallback(done, typeof callback === "function" ? callback : undefined);
  }

  /** Queues `name` with ioredis's argument rules. */
  #queue(name: string, given: readonly unknown[], buffers: boolean): this {
    const { args, callback } = ioredisArgs(name, given);
    invoke(this.#native, name, args as RedisArg[], buffers);
    this.#callbacks.push(callback);
    return this;
  }

  /** Queues any command by name (ioredis's `call`). */
  call(name: string, ...given: unknown[]): this {
    return this.#queue(name, given, false);
  }

  /** Like `call`, with bulk strings as Buffers. */
  callBuffer(name: string, ...given: unknown[]): this {
    return this.#queue(name, given, true);
  }

  static {
    defineCommandMethods(IoredisBatch.prototype, (self, name, given, buffers) =>
      self.#queue(name, given, buffers),
    );
  }
}

/** Every native command name, with its `...Buffer` twin. */
export type CommandName = (keyof CommandMethods<2> & string) | "mset";

/**
 * The command methods of a batch, typed as loosely as the facade takes them: any arguments,
 * the batch back. (The facade is for libraries written against ioredis; typed code is better
 * served by the native client's methods.)
 */
export type BatchCommands = {
  [K in CommandName | `${CommandName}Buffer`]: (...args: unknown[]) => IoredisBatch;
};

export interface IoredisBatch extends BatchCommands {}
