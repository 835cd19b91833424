/**
 * Transactions: `cluster.multi()…exec()`, and `tx.multi()` inside a WATCH session
 * (batch/watch.ts).
 *
 * A transaction is one Command for the executor — routed by its slot, redirected and retried
 * as a whole — whose bytes are several: `MULTI`, the queued commands, `EXEC`, written back to
 * back as one unit on the slot's primary's shared connection (`Connection#sendUnit`), so that
 * no other caller's command comes between them and the connection is never left in MULTI.
 *
 * ```
 *   exec() ─► describe each command (args, key prefix, slot) ─► one slot? else CrossSlotError
 *          ─► TransactionCommand ─► executor ─► [ASKING] MULTI cmd… EXEC   (one unit, one write)
 *                                               │ replies: OK, QUEUED | error …, EXEC's reply
 *   EXEC → array   ─► results in order (a ReplyError in place for a command that failed)
 *   EXEC → null    ─► null (a WATCH saw a change)
 *   EXEC → error   ─► the executor: EXECABORT because of MOVED/ASK/TRYAGAIN while queuing, or
 *                     a MOVED/ASK/TRYAGAIN for EXEC itself — nothing ran: resent whole (to the
 *                     new owner; with ASKING; after a backoff). EXECABORT for anything else
 *                     (a syntax error, OOM, NOPERM): rejected, `cause` the refused command's error.
 *   lost connection ─► before EXEC left: resent; after: ConnectionError, outcomeUnknown
 * ```
 *
 * The server checks, when EXEC arrives, that every queued key is served there (all of them
 * present during a migration, or it answers TRYAGAIN), so a transaction resent after ASK
 * either runs whole on the node that has its keys or is refused again: it applies once or
 * not at all.
 */
import { WriteNotice } from "../cache/cache.js";
import {
  Command,
  type CommandOwner,
  NO_SLOT,
  PromiseCommand,
  type ReplyTransform,
} from "../command/command.js";
import type { PipelineMethods } from "../command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "../command/methods.js";
import { CommandFlag, type CommandInfo, findCommand } from "../command/table.js";
import { splitCommandName } from "../command/validate.js";
import type { Connection } from "../connection/connection.js";
import type { Sendable } from "../connection/types.js";
import {
  ArgumentError,
  CrossSlotError,
  ProtocolError,
  type RedisClusterError,
  ReplyError,
} from "../errors.js";
import type { RedisArg, RespValue } from "../resp/types.js";
import { type ScriptCall, scriptCall, sourceOf } from "../scripting.js";
import { type BatchHost, flattenPairs, installDefinedCommands } from "./pipeline.js";

interface QueuedCommand {
  name: string;
  info: CommandInfo | undefined;
  args: RedisArg[];
  wantsBuffers: boolean;
  transform: ReplyTransform | undefined;
  /** Refused while queuing (no name, not a script): exec() rejects with it. */
  error?: Error;
}

/** Where a transaction runs when it belongs to a WATCH session. */
export interface TransactionSession {
  /** The session's slot (its watched keys'). */
  readonly slot: number;
  /** The session's connection, or the error to reject with when it is over. */
  connectionOrError(): Connection | Error;
  /** The session's remaining budget, in ms. */
  remainingMs(): number;
  /** EXEC went out: whatever its reply, the server dropped the session's watches. */
  onExecSent(): void;
  /** Counts the transaction as the session's until it settles. */
  track(command: PromiseCommand): void;
}

/**
 * `MULTI` … `EXEC`: commands queued on a builder, run by the server as one, in order,
 * with nothing of other clients in between. All their keys must hash to one slot
 * (`CrossSlotError` from `exec()` otherwise, before anything is sent); keyless commands are
 * allowed and run on that slot's primary.
 *
 * `Result` is what `exec()` resolves with: the replies, or also `null` for a WATCH session's
 * transaction (a watched key changed).
 *
 * @example
 * const [name, visits] = await cluster.multi().set("u:{42}:name", "ann").incr("u:{42}:visits").exec();
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: command methods are installed on the prototype (installCommandMethods below); the merged interface types them.
export class Transaction<Result extends unknown[] | null = unknown[]> implements CommandTarget {
  #host: BatchHost;
  #session: TransactionSession | undefined;
  #queued: QueuedCommand[] = [];
  #executed = false;

  /** @internal Use `cluster.multi()` or a WATCH session's `tx.multi()`. */
  constructor(host: BatchHost, session?: TransactionSession) {
    this.#host = host;
    this.#session = session;
    installDefinedCommands(this, host);
  }

  /** Commands queued so far. */
  get length(): number {
    return this.#queued.length;
  }

  /** Queues any command by name (module commands included). */
  call(name: string, ...args: RedisArg[]): this {
    return this.#call(name, args, false);
  }

  /** Like `call`, with bulk strings as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): this {
    return this.#call(name, args, true);
  }

  /** MSET, also as an object: `mset({ "a{x}": "1", "b{x}": "2" })`. One slot, like every key here. */
  mset(pairs: Record<string, RedisArg> | Map<RedisArg, RedisArg>): this;
  mset(...keysAndValues: RedisArg[]): this;
  mset(...input: unknown[]): this {
    return this[SEND_COMMAND]("MSET", findCommand("mset"), flattenPairs(input), false, undefined);
  }

  /**
   * Queues a call of a `defineScript()` script. Inside a transaction it is sent as EVAL (the
   * source itself): a missing script there would fail in the middle of the transaction.
   */
  runScript(script: unknown, ...keysAndArgs: RedisArg[]): this {
    return this.#queueScript(script, keysAndArgs, false);
  }

  /** Like `runScript`, with bulk strings in the reply as Buffers. */
  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): this {
    return this.#queueScript(script, keysAndArgs, true);
  }

  #queueScript(script: unknown, keysAndArgs: RedisArg[], wantsBuffers: boolean): this {
    let call: ScriptCall;
    try {
      call = scriptCall(sourceOf(script), keysAndArgs, true);
    } catch (error) {
      return this.#refuse(error as Error, keysAndArgs, wantsBuffers);
    }
    return this[SEND_COMMAND](call.name, call.info, call.args, wantsBuffers, undefined);
  }

  #call(name: string, args: RedisArg[], wantsBuffers: boolean): this {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return this.#refuse(named, args, wantsBuffers);
    return this[SEND_COMMAND](
      named.head,
      this.#host.findCommand(named.head),
      named.args,
      wantsBuffers,
      undefined,
    );
  }

  #refuse(error: Error, args: RedisArg[], wantsBuffers: boolean): this {
    this.#queued.push({ name: "", info: undefined, args, wantsBuffers, transform: undefined, error });
    return this;
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
   * Sends the transaction and resolves with the replies in queue order — a `ReplyError` in
   * place for a command that failed while running (Redis runs the others: that is what
   * MULTI means) — or with `null` when a watched key changed (WATCH sessions). Rejects with
   * `ReplyError` code `EXECABORT` when the server refused to queue a command (nothing ran;
   * `cause` is that command's error), `CrossSlotError` when the keys span slots, and the
   * usual typed errors (`ConnectionError` with `outcomeUnknown: true` when the connection
   * broke after EXEC was sent: it may have run; it is not resent).
   */
  async exec(): Promise<Result> {
    if (this.#executed) throw new ArgumentError("this transaction was already executed; create a new one");
    this.#executed = true;
    const closed = this.#host.closedError();
    if (closed) throw closed;
    const queued = this.#queued;
    this.#queued = [];
    const refused = queued.find((entry) => entry.error !== undefined);
    if (refused?.error !== undefined) throw refused.error;
    const unknown = [
      ...new Set(queued.filter((entry) => entry.info === undefined).map((entry) => entry.name)),
    ];
    if (unknown.length > 0) {
      await this.#host.learnCommands(unknown);
      for (const entry of queued) entry.info ??= this.#host.findCommand(entry.name);
    }
    const session = this.#session;
    const timeoutMs = session === undefined ? this.#host.commandTimeoutMs : session.remainingMs();
    const parts = queued.map((entry) => this.#describe(entry, timeoutMs));
    const slot = sharedSlot(parts, session?.slot);
    const transaction = new TransactionCommand(this.#host.owner, parts, slot, timeoutMs);
    if (session !== undefined) {
      const connection = session.connectionOrError();
      if (connection instanceof Error) throw connection;
      transaction.pinnedConnection = connection;
      transaction.onExecSent = () => session.onExecSent();
      session.track(transaction);
    }
    this.#host.applyCallOptions(transaction);
    this.#host.dispatch(transaction);
    return transaction.promise as Promise<Result>;
  }

  #describe(entry: QueuedCommand, timeoutMs: number): TransactionPart {
    const part = new TransactionPart(
      this.#host.owner,
      entry.name,
      entry.args,
      entry.info,
      entry.wantsBuffers,
      timeoutMs,
    );
    part.transform = entry.transform;
    this.#host.describeOne(part); // throws: nothing is sent
    return part;
  }
}

// biome-ignore lint/correctness/noUnusedVariables: merging with the class requires its type parameters, used or not.
export interface Transaction<Result extends unknown[] | null = unknown[]> extends PipelineMethods {}
installCommandMethods(Transaction.prototype);

/** The one slot of the parts' keys (NO_SLOT when none has keys); CrossSlotError otherwise. */
function sharedSlot(parts: readonly Command[], sessionSlot: number | undefined): number {
  let slot = sessionSlot ?? NO_SLOT;
  for (const part of parts) {
    if (part.slot < 0) continue;
    if (slot === NO_SLOT) slot = part.slot;
    else if (part.slot !== slot) {
      const slots = [...new Set(parts.map((other) => other.slot).filter((value) => value >= 0))];
      if (sessionSlot !== undefined && !slots.includes(sessionSlot)) slots.unshift(sessionSlot);
      throw new CrossSlotError(slots, sessionSlot === undefined ? "MULTI" : "MULTI (in a WATCH session)");
    }
  }
  return slot;
}

/** A queued command: described like any command, never sent on its own (its steps are). */
class TransactionPart extends Command {
  protected deliver(): void {}
  protected deliverError(): void {}
}

/**
 * The transaction as the executor sees it: one command, sent as a unit of several. Each
 * attempt writes fresh steps; the EXEC step's outcome is the transaction's.
 */
export class TransactionCommand extends PromiseCommand {
  readonly parts: readonly TransactionPart[];
  readonly unitReadOnly: boolean;
  /** Told when an attempt's EXEC reached the server, whatever it answered (WATCH sessions). */
  onExecSent: (() => void) | undefined = undefined;
  /** Errors of the commands the server refused to queue in the last attempt, in order. */
  #refusals: ReplyError[] = [];
  #multiReply: RespValue | undefined;

  constructor(owner: CommandOwner, parts: readonly TransactionPart[], slot: number, timeoutMs: number) {
    super(owner, "EXEC", [], EXEC_INFO, false, timeoutMs);
    this.parts = parts;
    this.slot = slot;
    this.unitReadOnly = parts.every((part) => ((part.info?.flags ?? 0) & CommandFlag.READONLY) !== 0);
    // The client-side cache forgets the keys its commands write (they are never routed alone).
    this.cacheHook = WriteNotice.of(parts);
    this.unit = {
      sendables: () => this.#sendables(),
      readOnly: this.unitReadOnly,
      refusals: () => this.#refusals,
      size: parts.length,
    };
  }

  override get displayName(): string {
    return "EXEC";
  }

  #sendables(): Sendable[] {
    this.#refusals = [];
    this.#multiReply = undefined;
    const deadlineAt = this.deadlineAt;
    const steps: Sendable[] = [new Step(this, "MULTI", [], false, deadlineAt, STEP_MULTI)];
    for (const part of this.parts)
      steps.push(new Step(this, part.name, part.args, false, deadlineAt, STEP_QUEUED));
    const wantsBuffers = this.parts.some((part) => part.wantsBuffers);
    steps.push(new Step(this, "EXEC", [], wantsBuffers, deadlineAt, STEP_EXEC));
    return steps;
  }

  /** @internal A step's reply. */
  onStepReply(kind: StepKind, value: RespValue, connection: Connection): void {
    if (kind === STEP_MULTI) {
      this.#multiReply = value;
      return;
    }
    if (kind === STEP_QUEUED) {
      if (value instanceof ReplyError) this.#refusals.push(value);
      return;
    }
    this.onExecSent?.();
    if (this.#multiReply instanceof ReplyError) {
      // MULTI itself was refused (an ACL user without +multi): the commands after it ran one
      // by one, outside any transaction. Nothing can undo that; say so.
      const refusal = this.#multiReply;
      refusal.command = "MULTI";
      this.completeError(refusal);
      return;
    }
    if (value === null) {
      this.complete(null); // a watched key changed: nothing ran
      return;
    }
    if (value instanceof ReplyError) {
      this.owner.onErrorReply(this, value, connection); // EXECABORT, or a redirection of EXEC
      return;
    }
    if (!Array.isArray(value) || value.length !== this.parts.length) {
      this.completeError(
        new ProtocolError(`${connection.address} answered EXEC with something else than the queued replies`),
      );
      return;
    }
    this.complete(this.#results(value));
  }

  /** @internal The EXEC step will not be answered. */
  onStepFailed(error: RedisClusterError, written: boolean, connection: Connection): void {
    if (written) this.onExecSent?.();
    this.fail(error, written, connection);
  }

  #results(replies: RespValue[]): unknown[] {
    const decodedAsBuffers = this.parts.some((part) => part.wantsBuffers);
    return replies.map((reply, index) => {
      const part = this.parts[index]!;
      if (reply instanceof ReplyError) {
        reply.command = part.displayName;
        return reply;
      }
      const value = decodedAsBuffers && !part.wantsBuffers ? buffersToStrings(reply) : reply;
      return part.transform === undefined ? value : part.transform(value);
    });
  }
}

const EXEC_INFO = findCommand("exec");

const STEP_MULTI = 0;
const STEP_QUEUED = 1;
const STEP_EXEC = 2;
type StepKind = typeof STEP_MULTI | typeof STEP_QUEUED | typeof STEP_EXEC;

/** One command of a transaction's unit, reporting to its transaction. */
class Step implements Sendable {
  constructor(
    readonly transaction: TransactionCommand,
    readonly name: string,
    readonly args: readonly RedisArg[],
    readonly wantsBuffers: boolean,
    public deadlineAt: number,
    readonly kind: StepKind,
  ) {}

  /** A maintenance window: the step and its transaction get the time (connection.relaxDeadlines). */
  relaxDeadline(atLeast: number): void {
    if (atLeast > this.deadlineAt) this.deadlineAt = atLeast;
    this.transaction.relaxDeadline(atLeast);
  }

  settle(value: RespValue, connection: Connection): void {
    this.transaction.onStepReply(this.kind, value, connection);
  }

  // The unit fails and expires whole (the connection fails or expires every step): EXEC's
  // step speaks for it, knowing whether EXEC itself reached the server.
  fail(error: RedisClusterError, written: boolean, connection: Connection): void {
    if (this.kind === STEP_EXEC) this.transaction.onStepFailed(error, written, connection);
  }

  expire(connection: Connection): void {
    if (this.kind === STEP_EXEC) this.transaction.expire(connection);
  }
}

/** A reply decoded with Buffers, as strings (a transaction mixing `get` and `getBuffer`). */
function buffersToStrings(value: RespValue): RespValue {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (Array.isArray(value)) return value.map(buffersToStrings);
  if (value !== null && typeof value === "object" && !(value instanceof ReplyError)) {
    const object: { [field: string]: RespValue } = {};
    for (const [field, inner] of Object.entries(value)) object[field] = buffersToStrings(inner);
    return object;
  }
  return value;
}
