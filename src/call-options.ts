/**
 * Per-call options: `cluster.withOptions({ signal, timeoutMs, readFrom, cache })` returns a view of
 * the client whose commands — and the pipelines, transactions and WATCH sessions made from
 * it — carry those options. The view holds no connection and no state of its own: every
 * command it builds is an ordinary Command of the client, with
 *
 * - `signal`: an `AbortSignal`; when it fires first, the command rejects with `AbortError`
 *   and a blocking call's dedicated connection is closed (which is what unblocks it);
 * - `timeoutMs`: the command's whole budget, instead of `commandTimeout` (a blocking call's
 *   own wait still comes on top, as for any blocking call);
 * - `readFrom`: where its reads go, instead of the client's `readFrom`;
 * - `cache: false`: its reads bypass the client-side cache (neither answered from it nor kept).
 */
import type { Pipeline } from "./batch/pipeline.js";
import type { Transaction } from "./batch/transaction.js";
import type { ReadFrom } from "./cluster/router.js";
import type { Command, ReplyTransform } from "./command/command.js";
import type { CommandMethods } from "./command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "./command/methods.js";
import type { CommandInfo } from "./command/table.js";
import { ArgumentError } from "./errors.js";
import type { RedisArg } from "./resp/types.js";

/** Options for the commands of one `withOptions()` view. */
export interface CallOptions {
  /** Abandons the command when it fires (it rejects with `AbortError`). */
  signal?: AbortSignal | undefined;
  /** The command's whole budget in ms, instead of the client's `commandTimeout`. */
  timeoutMs?: number | undefined;
  /** Where the command's reads go, instead of the client's `readFrom`. */
  readFrom?: ReadFrom | undefined;
  /** `false`: reads go to the server, neither answered from nor kept in the client-side cache. */
  cache?: boolean | undefined;
}

const READ_FROM: ReadonlySet<string> = new Set([
  "primary",
  "replica",
  "preferReplica",
  "any",
  "nearest",
  "sameAz",
]);

/** Checks options given to `withOptions()`; throws `ArgumentError` naming what is wrong. */
export function checkCallOptions(options: CallOptions): Readonly<CallOptions> {
  if (options === null || typeof options !== "object") {
    throw new ArgumentError("withOptions() takes { signal?, timeoutMs?, readFrom?, cache? }");
  }
  const { signal, timeoutMs, readFrom, cache } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ArgumentError("withOptions(): signal must be an AbortSignal");
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > 2 ** 31 - 1)
  ) {
    throw new ArgumentError("withOptions(): timeoutMs must be a positive number of milliseconds");
  }
  if (readFrom !== undefined && !READ_FROM.has(readFrom)) {
    throw new ArgumentError(
      `withOptions(): readFrom must be one of ${[...READ_FROM].map((value) => `"${value}"`).join(", ")}`,
    );
  }
  if (cache !== undefined && typeof cache !== "boolean") {
    throw new ArgumentError("withOptions(): cache must be true or false");
  }
  return Object.freeze({ signal, timeoutMs, readFrom, cache });
}

/** Gives a command the options of its view: readFrom before it is described, the signal. */
export function applyCallOptions(command: Command, options: Readonly<CallOptions> | undefined): void {
  if (options === undefined) return;
  if (options.readFrom !== undefined) command.readFrom = options.readFrom;
  if (options.cache === false) command.cacheReads = false;
  if (options.signal !== undefined) command.listenTo(options.signal);
}

/** What a view needs from its client. */
export interface ViewHost {
  sendWithOptions(
    options: Readonly<CallOptions>,
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown>;
  callWithOptions(
    options: Readonly<CallOptions>,
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
  ): Promise<unknown>;
  pipelineWithOptions(options: Readonly<CallOptions>): Pipeline;
  multiWithOptions(options: Readonly<CallOptions>): Transaction;
  runScriptWithOptions(
    options: Readonly<CallOptions>,
    script: unknown,
    keysAndArgs: RedisArg[],
    wantsBuffers: boolean,
  ): Promise<unknown>;
}

/**
 * The client seen through per-call options: every command method, `call`, `pipeline()`,
 * `multi()`, `runScript()`; `withOptions()` again merges more options over these.
 *
 * @example
 * const controller = new AbortController();
 * const job = cluster.withOptions({ signal: controller.signal }).blpop("jobs", 0);
 * controller.abort(); // job rejects with AbortError; its connection is closed
 */
export interface ClusterView extends CommandMethods {
  /** The options every command sent through this view carries (frozen). */
  readonly options: Readonly<CallOptions>;
  /** Sends any command (as `cluster.call`), with this view's options. */
  call(name: string, ...args: RedisArg[]): Promise<unknown>;
  /** `call`, with bulk replies as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown>;
  /** A pipeline whose commands carry this view's options (as `cluster.pipeline()`). */
  pipeline(): Pipeline;
  /** A transaction that carries this view's options (as `cluster.multi()`). */
  multi(): Transaction;
  /** Runs a script from `defineScript` with this view's options (EVALSHA, EVAL where the node lacks it). */
  runScript(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** `runScript`, with bulk replies as Buffers. */
  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** A view with `options` laid over this view's (a field left out keeps this view's value). */
  withOptions(options: CallOptions): ClusterView;
}

class View implements CommandTarget {
  readonly options: Readonly<CallOptions>;
  readonly #host: ViewHost;

  constructor(host: ViewHost, options: Readonly<CallOptions>) {
    this.#host = host;
    this.options = options;
  }

  call(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#host.callWithOptions(this.options, name, args, false);
  }

  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#host.callWithOptions(this.options, name, args, true);
  }

  pipeline(): Pipeline {
    return this.#host.pipelineWithOptions(this.options);
  }

  multi(): Transaction {
    return this.#host.multiWithOptions(this.options);
  }

  runScript(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#host.runScriptWithOptions(this.options, script, keysAndArgs, false);
  }

  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#host.runScriptWithOptions(this.options, script, keysAndArgs, true);
  }

  withOptions(options: CallOptions): ClusterView {
    const more = checkCallOptions(options);
    return makeView(this.#host, {
      signal: more.signal ?? this.options.signal,
      timeoutMs: more.timeoutMs ?? this.options.timeoutMs,
      readFrom: more.readFrom ?? this.options.readFrom,
      cache: more.cache ?? this.options.cache,
    });
  }

  [SEND_COMMAND](
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    return this.#host.sendWithOptions(this.options, name, info, args, wantsBuffers, transform);
  }
}
installCommandMethods(View.prototype);

/** A view of `host` with `options` (already checked). */
export function makeView(host: ViewHost, options: Readonly<CallOptions>): ClusterView {
  return new View(host, Object.freeze({ ...options })) as unknown as ClusterView;
}
