/**
 * WATCH sessions: `cluster.watch(keys, async (tx) => ...)` and the retry helper
 * `cluster.optimistic(keys, fn, { attempts })`.
 *
 * A session holds one dedicated connection to the primary of the watched keys' slot, taken
 * from that node's pool (shared with blocking calls, bounded by `maxBlockingConnections`),
 * for the callback's lifetime:
 *
 * ```
 *   WATCH keys ─(executor: routed, MOVED followed, ASK waited out)─► connection kept
 *     callback(tx): tx.get(...) … over that connection
 *                   tx.multi()…exec() ─► MULTI … EXEC over it: replies | null (conflict)
 *   end (returned, threw, or the deadline passed):
 *     watches still set, nothing pending ─► UNWATCH ─► back to the pool
 *     EXEC already sent (the server dropped the watches) ─► back to the pool
 *     anything pending, or the deadline passed ─► connection closed (its watches die with it)
 * ```
 *
 * The session never commits on a node that no longer holds its keys: when the slot moves
 * (MOVED, ASK, TRYAGAIN on the queued commands or on EXEC), the server discards the
 * transaction and its watches, and `exec()` resolves `null` — a conflict, retryable —
 * instead of resending it elsewhere without the watches (cluster/executor.ts).
 */
import { type Command, PromiseCommand, type ReplyTransform } from "../command/command.js";
import type { CommandMethods } from "../command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "../command/methods.js";
import { type CommandInfo, findCommand, resolveSubcommand } from "../command/table.js";
import type { RedisKey } from "../command/types.js";
import { splitCommandName } from "../command/validate.js";
import type { Connection } from "../connection/connection.js";
import { ArgumentError, ClosedError, CrossSlotError, TimeoutError, WatchConflictError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";
import { scriptCall, sourceOf } from "../scripting.js";
import { type BatchHost, flattenPairs, installDefinedCommands } from "./pipeline.js";
import { Transaction, type TransactionSession } from "./transaction.js";

/** A dedicated connection on which WATCH succeeded, held until `release`. */
export interface WatchLease {
  readonly connection: Connection;
  /** Back to the pool (`clean`: no watch, nothing pending) or destroyed. */
  release(clean: boolean): void;
  /** The watched keys' slot. */
  readonly slot: number;
}

/** What a WATCH session needs from its client. */
export interface WatchHost extends BatchHost {
  /**
   * Sends `WATCH keys` to the primary of their slot on a dedicated connection and keeps that
   * connection; resolves once the keys are watched.
   */
  openWatch(keys: RedisArg[], timeoutMs: number): Promise<WatchLease>;
}

/** Options of `watch()` and `optimistic()`. */
export interface WatchOptions {
  /**
   * The session's whole budget in ms, WATCH and callback included (default `commandTimeout`):
   * past it, the session's connection is closed, its pending commands and `watch()` reject
   * with `TimeoutError`, and nothing more is sent from the callback.
   */
  timeoutMs?: number;
}

/** Options of `optimistic()`. */
export interface OptimisticOptions extends WatchOptions {
  /** How many times to run the callback before giving up with `WatchConflictError` (default 10). */
  attempts?: number;
}

/**
 * The handle a WATCH callback gets: every command method, run over the session's
 * connection (keys of the watched slot only, or none), plus `multi()` for the transaction
 * that commits if nothing watched changed.
 *
 * @example
 * await cluster.watch("acct:{7}:balance", async (tx) => {
 *   const balance = Number(await tx.get("acct:{7}:balance"));
 *   return tx.multi().set("acct:{7}:balance", balance - 10).exec(); // null if it changed meanwhile
 * });
 */
export interface WatchHandle extends CommandMethods {
  /** A transaction over the session's connection: `exec()` resolves `null` if a watched key changed. */
  multi(): Transaction<unknown[] | null>;
  /** Watches more keys (of the same slot). */
  watch(...keys: RedisKey[]): Promise<"OK">;
  /** Forgets every watched key of the session. */
  unwatch(): Promise<"OK">;
  /** Any command by name. */
  call(name: string, ...args: RedisArg[]): Promise<unknown>;
  /** `call`, with bulk replies as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown>;
  /** A `defineScript()` script, over the session's connection. */
  runScript(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** `runScript`, with bulk replies as Buffers. */
  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown>;
}

const WATCH_INFO = findCommand("watch");
const UNWATCH_INFO = findCommand("unwatch");

/**
 * Runs `fn` in a WATCH session on `keys` (one slot) and resolves with what it returns.
 * The session ends when `fn` settles or its deadline passes, whichever is first.
 */
export async function runWatch<T>(
  host: WatchHost,
  keys: RedisKey | readonly RedisKey[],
  fn: (tx: WatchHandle) => T | Promise<T>,
  options: WatchOptions = {},
): Promise<T> {
  const closed = host.closedError();
  if (closed) throw closed;
  const keyList = watchedKeys(keys);
  if (typeof fn !== "function") throw new ArgumentError("watch(keys, fn): fn must be a function", "WATCH");
  const timeoutMs = options.timeoutMs ?? host.commandTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ArgumentError("timeoutMs must be a positive number of milliseconds", "WATCH");
  }
  const deadlineAt = performance.now() + timeoutMs;
  const lease = await host.openWatch(keyList, timeoutMs);
  const session = new WatchSession(host, lease, deadlineAt, timeoutMs);
  try {
    return await session.race(Promise.resolve().then(() => fn(session.handle)));
  } finally {
    session.end();
  }
}

/**
 * Optimistic locking with retries: runs `fn` in a WATCH session; when it returns the
 * session's transaction (`tx.multi()…`, not executed) the helper executes it, and when that
 * (or `fn` itself) yields `null` — a watched key changed, or the slot moved — it waits a
 * little and runs `fn` again in a fresh session, up to `attempts` times.
 */
export async function runOptimistic<T>(
  host: WatchHost,
  keys: RedisKey | readonly RedisKey[],
  fn: (
    tx: WatchHandle,
  ) => T | Transaction<unknown[] | null> | null | Promise<T | Transaction<unknown[] | null> | null>,
  options: OptimisticOptions = {},
): Promise<T | unknown[]> {
  const attempts = options.attempts ?? 10;
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new ArgumentError("attempts must be a positive integer", "WATCH");
  }
  for (let attempt = 1; ; attempt++) {
    const outcome = await runWatch(
      host,
      keys,
      async (tx) => {
        const returned = await fn(tx);
        return returned instanceof Transaction ? returned.exec() : returned;
      },
      options,
    );
    if (outcome !== null) return outcome as T | unknown[];
    if (attempt >= attempts) throw new WatchConflictError(attempts);
    // Jittered and growing: contending clients should not retry in lock step.
    const delayMs = Math.min(100, 2 ** attempt) * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

function watchedKeys(keys: RedisKey | readonly RedisKey[]): RedisArg[] {
  const list: RedisArg[] = Array.isArray(keys) ? [...keys] : [keys as RedisKey];
  if (list.length === 0) throw new ArgumentError("watch() needs at least one key", "WATCH");
  return list;
}

/** One session: its connection, slot, deadline and whether the server still watches. */
class WatchSession implements TransactionSession {
  readonly slot: number;
  readonly handle: WatchHandle;
  readonly #host: WatchHost;
  readonly #lease: WatchLease;
  readonly #deadlineAt: number;
  readonly #timeoutMs: number;
  /** Set once the session is over: what its handle's commands reject with from then on. */
  #over: Error | undefined;
  /** The server holds watches for us (WATCH sent since the last EXEC/UNWATCH). */
  #watching = true;
  /**
   * The session's commands not settled yet. One may be waiting to be retried (LOADING), out
   * of the connection's queues: a connection given back to the pool meanwhile would carry it
   * into another session. So the connection is reused only when this is empty.
   */
  readonly #pending = new Set<PromiseCommand>();

  constructor(host: WatchHost, lease: WatchLease, deadlineAt: number, timeoutMs: number) {
    this.#host = host;
    this.#lease = lease;
    this.slot = lease.slot;
    this.#deadlineAt = deadlineAt;
    this.#timeoutMs = timeoutMs;
    this.handle = new SessionHandle(host, this) as unknown as WatchHandle;
  }

  connectionOrError(): Connection | Error {
    return this.#over ?? this.#lease.connection;
  }

  remainingMs(): number {
    return Math.max(1, this.#deadlineAt - performance.now());
  }

  onExecSent(): void {
    this.#watching = false;
  }

  /** Counts `command` as the session's until it settles. */
  track(command: PromiseCommand): void {
    this.#pending.add(command);
    const done = () => this.#pending.delete(command);
    command.promise.then(done, done);
  }

  set watching(value: boolean) {
    this.#watching = value;
  }

  /** `work`, or a TimeoutError at the session's deadline (then the session is closed). */
  race<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new TimeoutError("WATCH", 1, this.#timeoutMs);
        this.#expire(error);
        reject(error);
      }, this.remainingMs());
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** The deadline passed: the connection closes (its watches with it), pending commands reject. */
  #expire(error: TimeoutError): void {
    if (this.#over !== undefined) return;
    this.#over = error;
    this.#lease.connection.destroy(error);
    this.#lease.release(false);
  }

  /** The callback is done: the connection goes back to the pool, without watches. */
  end(): void {
    if (this.#over !== undefined) return;
    this.#over = new ClosedError(
      "this WATCH session is over: use its handle only inside the callback, and await its commands there",
    );
    const connection = this.#lease.connection;
    const lease = this.#lease;
    if (
      connection.state !== "ready" ||
      this.#pending.size > 0 ||
      connection.inFlightCount > 0 ||
      connection.waitingCount > 0
    ) {
      lease.release(false); // commands left unanswered, or a broken connection
      return;
    }
    if (!this.#watching) {
      lease.release(true);
      return;
    }
    connection.request("UNWATCH", [], { timeoutMs: this.#host.commandTimeoutMs }).then(
      (reply) => lease.release(reply === "OK"),
      () => lease.release(false),
    );
  }
}

/** The handle's methods: every command, sent over the session's connection. */
class SessionHandle implements CommandTarget {
  readonly #host: WatchHost;
  readonly #session: WatchSession;

  constructor(host: WatchHost, session: WatchSession) {
    this.#host = host;
    this.#session = session;
    installDefinedCommands(this, host);
  }

  multi(): Transaction<unknown[] | null> {
    return new Transaction<unknown[] | null>(this.#host, this.#session);
  }

  async watch(...keys: RedisKey[]): Promise<"OK"> {
    if (keys.length === 0) throw new ArgumentError("watch() needs at least one key", "WATCH");
    const reply = await this.#send("WATCH", WATCH_INFO, [...keys], false, undefined, true);
    this.#session.watching = true;
    return reply as "OK";
  }

  async unwatch(): Promise<"OK"> {
    const reply = await this.#send("UNWATCH", UNWATCH_INFO, [], false, undefined, true);
    this.#session.watching = false;
    return reply as "OK";
  }

  call(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, false);
  }

  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, true);
  }

  mset(...input: unknown[]): Promise<unknown> {
    return this.#send("MSET", findCommand("mset"), flattenPairs(input), false, undefined, false);
  }

  runScript(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#runScript(script, keysAndArgs, false);
  }

  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#runScript(script, keysAndArgs, true);
  }

  [SEND_COMMAND](
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    return this.#send(name, info, args, wantsBuffers, transform, false);
  }

  #call(name: string, args: RedisArg[], wantsBuffers: boolean): Promise<unknown> {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return Promise.reject(named);
    return this.#send(
      named.head,
      this.#host.findCommand(named.head),
      named.args,
      wantsBuffers,
      undefined,
      false,
    );
  }

  #runScript(script: unknown, keysAndArgs: RedisArg[], wantsBuffers: boolean): Promise<unknown> {
    try {
      const source = sourceOf(script);
      const call = scriptCall(source, keysAndArgs, false);
      return this.#send(call.name, call.info, call.args, wantsBuffers, undefined, false, (command) => {
        command.script = source;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #send(
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
    internal: boolean,
    prepare?: (command: Command) => void,
  ): Promise<unknown> {
    let described = info ?? this.#host.findCommand(name);
    if (described === undefined) {
      await this.#host.learnCommands([name]);
      described = this.#host.findCommand(name);
    }
    const connection = this.#session.connectionOrError();
    if (connection instanceof Error) throw connection;
    const timeoutMs = Math.min(this.#host.commandTimeoutMs, this.#session.remainingMs());
    const command = new PromiseCommand(
      this.#host.owner,
      name,
      args,
      described && resolveSubcommand(described, args),
      wantsBuffers,
      timeoutMs,
    );
    command.transform = transform;
    prepare?.(command);
    this.#host.applyCallOptions(command);
    this.#host.describeOne(command, internal);
    const slot = this.#session.slot;
    if (command.slot >= 0 && command.slot !== slot) {
      throw new CrossSlotError([slot, command.slot], `${command.displayName} (in a WATCH session)`);
    }
    // Over the session's connection, to its primary: never a replica, never a fan-out.
    command.replicaReadable = false;
    command.pinnedConnection = connection;
    this.#session.track(command);
    this.#host.dispatch(command);
    return command.promise;
  }
}
installCommandMethods(SessionHandle.prototype);
