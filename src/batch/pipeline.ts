/**
 * Pipelines: commands queued on a builder, sent together by `exec()`, results returned in
 * the order they were queued.
 *
 * There is no per-node splitting code here, on purpose: `exec()` dispatches every command
 * in order, synchronously; each goes to its node's connection, and each connection writes
 * everything it got in this tick as one write. So the pipeline is split per node, the
 * groups go out concurrently, and every command keeps its own MOVED/ASK/retry handling —
 * only the redirected ones are re-sent, and a command that succeeded is never sent twice.
 * Commands on one key reach their node in the order they were queued. With replica reads,
 * a read of a slot that the same pipeline wrote earlier goes to the primary, so that it
 * reads the write (a replica may not have it yet).
 */
import type { Command, CommandOwner, ReplyTransform, ScriptSource } from "../command/command.js";
import { Gather, GatherPart } from "../command/gather.js";
import type { PipelineMethods } from "../command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "../command/methods.js";
import { CommandFlag, type CommandInfo, findCommand } from "../command/table.js";
import type { RespVersion } from "../command/types.js";
import { splitCommandName } from "../command/validate.js";
import { ArgumentError } from "../errors.js";
import { startPipelineTrace } from "../observe/channels.js";
import type { RedisArg } from "../resp/types.js";
import { scriptCall, sourceOf } from "../scripting.js";

/** What a pipeline needs from its client. */
export interface BatchHost {
  readonly owner: CommandOwner;
  readonly commandTimeoutMs: number;
  /** Undefined while the client is open; the error to fail with once it is closed. */
  closedError(): Error | undefined;
  /** Reads may go to replicas (`readFrom` other than "primary"). */
  readonly readsFromReplicas: boolean;
  /** The client's description of a command (built-in, or learned from its cluster). */
  findCommand(name: string): CommandInfo | undefined;
  /** Describes one command (args, slot, split) and hands what is to be sent to `send`; errors settle it. */
  describeInto(command: Command, send: (command: Command) => void): void;
  /**
   * Describes one command that must stay whole (a transaction's, a WATCH session's): throws
   * `CrossSlotError` for keys across slots and `ArgumentError` for what cannot be sent.
   * `internal` lets through the connection-state commands the client itself sends there
   * (WATCH, UNWATCH), which users' calls may not.
   */
  describeOne(command: Command, internal?: boolean): void;
  /** Sends commands in order (as one offline entry while there is no topology yet). */
  dispatchAll(commands: Command[]): void;
  /** Sends one command. */
  dispatch(command: Command): void;
  /** Makes sure the command table knows these (module) commands, asking the server. */
  learnCommands(names: readonly string[]): Promise<void>;
  /** Applies the per-call options of the view the batch came from (`withOptions`): before describing. */
  applyCallOptions(command: Command): void;
  /** `defineCommand()` scripts, installed as methods on every batch. */
  readonly definedCommands: ReadonlyMap<string, unknown>;
}

/** Puts the client's `defineCommand()` scripts on a batch as methods (`name` and `nameBuffer`). */
export function installDefinedCommands(
  batch: {
    runScript(script: unknown, ...args: RedisArg[]): unknown;
    runScriptBuffer(script: unknown, ...args: RedisArg[]): unknown;
  },
  host: BatchHost,
): void {
  for (const [name, script] of host.definedCommands) {
    Object.defineProperty(batch, name, { value: (...args: RedisArg[]) => batch.runScript(script, ...args) });
    Object.defineProperty(batch, `${name}Buffer`, {
      value: (...args: RedisArg[]) => batch.runScriptBuffer(script, ...args),
    });
  }
}

interface QueuedCommand {
  name: string;
  info: CommandInfo | undefined;
  args: RedisArg[];
  wantsBuffers: boolean;
  transform: ReplyTransform | undefined;
  /** A `defineScript()` script: the executor sends EVALSHA or EVAL per node. */
  script?: ScriptSource;
  /** A command refused while queuing (no name): its place in the results gets this error. */
  error?: Error;
}

/**
 * A batch of commands sent at once.
 *
 * Its type remembers what was queued through a chain of calls, so that `exec()` resolves
 * to a tuple: `pipeline().get("a").incr("b").exec()` is `Promise<[string | null | Error,
 * number | Error]>`. A pipeline filled in a loop (`for (...) p.get(k)`) has `unknown[]`.
 *
 * @example
 * const [a, b, c] = await cluster.pipeline().get("a").set("b", "1").incr("c").exec();
 * // each entry is the reply, or an Error instance for a command that failed
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: command methods are installed on the prototype (installCommandMethods below); the merged interface types them.
export class Pipeline<R extends RespVersion = 2, T extends unknown[] = []> implements CommandTarget {
  #host: BatchHost;
  #queued: QueuedCommand[] = [];
  #executed = false;

  constructor(host: BatchHost) {
    this.#host = host;
    if (host.definedCommands.size > 0) installDefinedCommands(this, host);
  }

  /** Commands queued so far. */
  get length(): number {
    return this.#queued.length;
  }

  /** Queues any command by name (module commands included). */
  call(name: string, ...args: RedisArg[]): Pipeline<R, [...T, unknown]> {
    return this.#call(name, args, false) as unknown as Pipeline<R, [...T, unknown]>;
  }

  /** Like `call`, with bulk strings as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): Pipeline<R, [...T, unknown]> {
    return this.#call(name, args, true) as unknown as Pipeline<R, [...T, unknown]>;
  }

  #call(name: string, args: RedisArg[], wantsBuffers: boolean): this {
    const named = splitCommandName(name, args);
    // A nameless command still takes its place: exec() reports the error at its index.
    if (named instanceof Error) {
      this.#queued.push({
        name: "",
        info: undefined,
        args,
        wantsBuffers,
        transform: undefined,
        error: named,
      });
      return this;
    }
    return this[SEND_COMMAND](
      named.head,
      this.#host.findCommand(named.head),
      named.args,
      wantsBuffers,
      undefined,
    );
  }

  /** Queues a call of a `defineScript()` script (EVALSHA, or EVAL for a node that lacks it). */
  runScript(script: unknown, ...keysAndArgs: RedisArg[]): this {
    return this.#queueScript(script, keysAndArgs, false);
  }

  /** Like `runScript`, with bulk strings in the reply as Buffers. */
  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): this {
    return this.#queueScript(script, keysAndArgs, true);
  }

  #queueScript(script: unknown, keysAndArgs: RedisArg[], wantsBuffers: boolean): this {
    try {
      const source = sourceOf(script);
      const call = scriptCall(source, keysAndArgs, false);
      this.#queued.push({
        name: call.name,
        info: call.info,
        args: call.args,
        wantsBuffers,
        transform: undefined,
        script: source,
      });
    } catch (error) {
      this.#queued.push({
        name: "",
        info: undefined,
        args: keysAndArgs,
        wantsBuffers,
        transform: undefined,
        error: error as Error,
      });
    }
    return this;
  }

  /** MSET, also as an object: `mset({ a: "1", b: "2" })`. */
  mset(pairs: Record<string, RedisArg> | Map<RedisArg, RedisArg>): Pipeline<R, [...T, "OK" | Error]>;
  mset(...keysAndValues: RedisArg[]): Pipeline<R, [...T, "OK" | Error]>;
  mset(...input: unknown[]): Pipeline<R, [...T, "OK" | Error]> {
    const queued = this[SEND_COMMAND]("MSET", findCommand("mset"), flattenPairs(input), false, undefined);
    return queued as unknown as Pipeline<R, [...T, "OK" | Error]>;
  }

  /** @internal */
  [SEND_COMMAND](
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): this {
    this.#queued.push({ name, info, args, wantsBuffers, transform });
    return this;
  }

  /**
   * Sends every queued command and resolves with their results in queue order: each entry
   * is the reply, or the error (a `ReplyError`, `TimeoutError`, ...) of that command alone.
   * Rejects only when the pipeline cannot be sent at all (client closed, reused pipeline).
   */
  async exec(): Promise<[] extends T ? unknown[] : T> {
    if (this.#executed) throw new ArgumentError("this pipeline was already executed; create a new one");
    this.#executed = true;
    const closed = this.#host.closedError();
    if (closed) throw closed;
    const queued = this.#queued;
    this.#queued = [];
    const unknown = [
      ...new Set(
        queued
          .filter((entry) => entry.info === undefined && entry.error === undefined)
          .map((entry) => entry.name),
      ),
    ];
    if (unknown.length > 0) {
      await this.#host.learnCommands(unknown);
      for (const entry of queued) entry.info ??= this.#host.findCommand(entry.name);
    }
    // Traced on rediscluster:batch (and its commands on rediscluster:command) when someone listens.
    const trace = startPipelineTrace(queued.length);
    return new Promise((resolve) => {
      const done = resolve as (results: unknown[]) => void;
      const gather = new Gather(
        queued.length,
        trace === undefined
          ? done
          : (results) => {
              trace.settled();
              done(results);
            },
      );
      const { owner, commandTimeoutMs } = this.#host;
      const toSend: Command[] = [];
      // Slots this pipeline writes to, so far in queue order (read-your-writes, see above).
      let written: Set<number> | undefined;
      const send = this.#host.readsFromReplicas
        ? (command: Command) => {
            if (command.replicaReadable) {
              if (written?.has(command.slot)) command.replicaReadable = false;
            } else if (command.slot >= 0 && (command.info?.flags ?? 0) & CommandFlag.WRITE) {
              written ??= new Set();
              written.add(command.slot);
            }
            toSend.push(command);
          }
        : (command: Command) => toSend.push(command);
      for (let i = 0; i < queued.length; i++) {
        const entry = queued[i]!;
        if (entry.error !== undefined) {
          gather.put(i, entry.error);
          continue;
        }
        const part = new GatherPart(
          gather,
          i,
          owner,
          entry.name,
          entry.args,
          entry.info,
          entry.wantsBuffers,
          commandTimeoutMs,
        );
        part.transform = entry.transform;
        part.script = entry.script;
        if (trace !== undefined) part.trace = trace.commandTrace(part);
        this.#host.applyCallOptions(part);
        this.#host.describeInto(part, send);
      }
      if (trace === undefined) this.#host.dispatchAll(toSend);
      else trace.run(() => this.#host.dispatchAll(toSend));
    });
  }
}

export interface Pipeline<R extends RespVersion = 2, T extends unknown[] = []>
  extends PipelineMethods<R, T> {}
installCommandMethods(Pipeline.prototype);

/** `({a: 1})`, `(Map)`, or `(k, v, k, v)` → `[k, v, k, v]`. */
export function flattenPairs(input: unknown[]): RedisArg[] {
  const first = input[0];
  if (input.length === 1 && first instanceof Map) return [...first].flat() as RedisArg[];
  if (input.length === 1 && first !== null && typeof first === "object" && !(first instanceof Uint8Array)) {
    return Object.entries(first).flat() as RedisArg[];
  }
  return input as RedisArg[];
}
