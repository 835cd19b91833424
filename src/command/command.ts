/**
 * The Command record: one Redis command as the user issued it, described once (name, args,
 * flags, slot, deadline) so that nothing downstream parses its arguments again, plus the
 * little state its journey needs (attempts, redirections, an ASK target).
 *
 * A Command is `Sendable`: the connection hands it the reply, and the command passes error
 * replies and failures to the executor that owns it, which decides between retrying,
 * redirecting and giving up. Successful replies settle it on the spot — the hot path never
 * leaves this file.
 *
 * Where the result goes depends on the subclass: a promise (`PromiseCommand`), a pipeline's
 * result array (`BatchCommand`, in batch/), or a cross-slot split's merge (`SplitPart`).
 */

import type { ReadFrom } from "../cluster/router.js";
import type { Connection } from "../connection/connection.js";
import type { Sendable } from "../connection/types.js";
import { AbortError, type RedisClusterError, ReplyError } from "../errors.js";
import type { CommandTrace } from "../observe/channels.js";
import type { RedisArg, RespValue } from "../resp/types.js";
import type { BlockingCall } from "./blocking.js";
import type { CommandInfo } from "./table.js";

/** Slot value of a command without keys. */
export const NO_SLOT = -1;
/** Slot value of a command whose keys hash to several slots. */
export const MULTI_SLOT = -2;
/** Slot value of a command whose keys only the server can tell (`COMMAND GETKEYS`). */
export const UNKNOWN_SLOT = -3;

let nextSequence = 0;

// The bits of Command#flags.
const WANTS_BUFFERS = 1;
const REPLICA_READABLE = 2;
const SETTLED = 4;

/** What the executor does with a command's non-happy outcomes. */
export interface CommandOwner {
  onErrorReply(command: Command, error: ReplyError, connection: Connection): void;
  onFailure(command: Command, error: RedisClusterError, written: boolean, connection: Connection): void;
  onExpire(command: Command): void;
}

/** Turns a raw reply into what the method returns (e.g. HGETALL's pairs into an object). */
export type ReplyTransform = (reply: RespValue) => unknown;

/**
 * A command sent as several, back to back in one write (a transaction: `MULTI` … `EXEC`).
 * The executor routes and retries the command as one; the connection writes its parts.
 */
export interface CommandUnit {
  /** The commands to write for one attempt: fresh ones each time, so no attempt hears another's replies. */
  sendables(): readonly Sendable[];
  /** Every part only reads: resending after a lost connection cannot apply anything twice. */
  readonly readOnly: boolean;
  /** The errors of the parts the server refused in the last attempt (why EXEC said EXECABORT). */
  refusals(): readonly ReplyError[];
  /** How many commands it carries (a transaction's, MULTI and EXEC not counted): for traces. */
  readonly size: number;
}

/** A script of `defineScript()`: sent as EVALSHA to a node known to have it, else as EVAL. */
export interface ScriptSource {
  readonly sha: string;
  readonly lua: string | Buffer;
  /** EVAL_RO / EVALSHA_RO: may run on a replica. */
  readonly readOnly: boolean;
}

/**
 * The client-side cache's part in one command (src/cache): a read it may answer or fill, or
 * a write whose keys it must forget. The executor asks `route` before routing and calls
 * `sending` when the command goes out on a node's shared connection; the command reports
 * its outcome through `settled`.
 */
export interface CacheHook {
  /** Before routing: true when the cache answered (the command is settled). */
  route(command: Command): boolean;
  /**
   * Being sent on a node's shared connection (`asking`: after ASK). Returns what must go
   * right before it, as one unit (`CLIENT CACHING YES` in OPTIN mode), if anything.
   */
  sending(connection: Connection, asking: boolean): Sendable | undefined;
  /** The command settled: with `value`, or failed (`failed`, value undefined). */
  settled(value: unknown, failed: boolean): void;
}

/** Told when a command that keeps its dedicated connection (WATCH) got its answer there. */
export interface ConnectionKeeper {
  /** The connection is the caller's until `release` (clean: back to the pool; dirty: destroyed). */
  keep(connection: Connection, release: (clean: boolean) => void): void;
}

/**
 * The parts of a command's state that most commands never use (a redirection target, a
 * pinned node, a blocking call, a script, an AbortSignal, ...): kept apart, allocated the
 * first time one is set, so that a plain GET's record stays small (issue 18: the record and
 * its promise were half of what a GET allocated).
 */
class CommandExtras {
  askAddress: string | undefined = undefined;
  pinnedAddress: string | undefined = undefined;
  avoidAddress: string | undefined = undefined;
  slotGate: SlotGate | undefined = undefined;
  blocking: BlockingCall | undefined = undefined;
  unit: CommandUnit | undefined = undefined;
  pinnedConnection: Connection | undefined = undefined;
  keeper: ConnectionKeeper | undefined = undefined;
  script: ScriptSource | undefined = undefined;
  cursorIndex = -1;
  readFrom: ReadFrom | undefined = undefined;
  cancel: (() => void) | undefined = undefined;
  retryCause: RedisClusterError | undefined = undefined;
  unanswered = false;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  trace: CommandTrace | undefined = undefined;
  cacheReads = true;
  cacheHook: CacheHook | undefined = undefined;
}

/** One command on its way: what it is, where it goes, how far it got, and who gets the result. */
export abstract class Command implements Sendable {
  /** First token as sent, upper case: `"GET"`, `"CLUSTER"` (a script switches EVALSHA ↔ EVAL). */
  name: string;
  args: RedisArg[];
  /** The table entry (subcommand resolved), undefined for a command the table lacks. */
  info: CommandInfo | undefined;
  /** Hash slot of the keys, or NO_SLOT / MULTI_SLOT / UNKNOWN_SLOT. */
  slot: number;
  /** The whole budget of this command, across every attempt, in ms. */
  readonly timeoutMs: number;
  /**
   * When it expires, on the `performance.now()` clock, rounded up to a whole millisecond:
   * an integer fits in the record, where a fraction would be one more heap number per
   * command (issue 18). Keep every write integral (see `relaxDeadline`).
   */
  deadlineAt: number;
  /** Times handed to a connection. */
  attempts = 0;
  /** MOVED/ASK redirections followed. */
  redirections = 0;
  /** Turns the reply into the method's result (HGETALL's pairs into an object, ...). */
  transform: ReplyTransform | undefined = undefined;
  owner: CommandOwner;
  /** Issue order, across the client: keeps a slot's commands in order through retries. */
  readonly sequence = nextSequence++;
  /** WANTS_BUFFERS, REPLICA_READABLE and SETTLED: three booleans in one field of the record. */
  #flags: number;
  #extras: CommandExtras | undefined = undefined;

  constructor(
    owner: CommandOwner,
    name: string,
    args: RedisArg[],
    info: CommandInfo | undefined,
    wantsBuffers: boolean,
    timeoutMs: number,
  ) {
    this.owner = owner;
    this.name = name;
    this.args = args;
    this.info = info;
    this.slot = NO_SLOT;
    this.#flags = wantsBuffers ? WANTS_BUFFERS : 0;
    this.timeoutMs = timeoutMs;
    this.deadlineAt = Math.ceil(performance.now() + timeoutMs);
  }

  /** Its reply's strings come as Buffers (the `…Buffer` methods). */
  get wantsBuffers(): boolean {
    return (this.#flags & WANTS_BUFFERS) !== 0;
  }

  /** May be sent to a replica (a read-only command, and the client reads from replicas). */
  get replicaReadable(): boolean {
    return (this.#flags & REPLICA_READABLE) !== 0;
  }
  set replicaReadable(value: boolean) {
    this.#flags = value ? this.#flags | REPLICA_READABLE : this.#flags & ~REPLICA_READABLE;
  }

  /** Set by the first complete/completeError: a command settles once, whatever else comes. */
  get settled(): boolean {
    return (this.#flags & SETTLED) !== 0;
  }

  /** The rarely used state, allocated on first write. */
  #more(): CommandExtras {
    if (this.#extras === undefined) this.#extras = new CommandExtras();
    return this.#extras;
  }

  // Each rare field below reads as undefined (or its default) until first set; setting it to
  // its default on a command that has no extras allocates nothing.

  /** `host:port` to send to with ASKING on the next attempt. */
  get askAddress(): string | undefined {
    return this.#extras?.askAddress;
  }
  set askAddress(value: string | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().askAddress = value;
  }

  /** `host:port` this command must go to, whatever its slot (per-node handles, fan-outs). */
  get pinnedAddress(): string | undefined {
    return this.#extras?.pinnedAddress;
  }
  set pinnedAddress(value: string | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().pinnedAddress = value;
  }

  /** A node to keep away from on the next attempt (a replica that just failed this read). */
  get avoidAddress(): string | undefined {
    return this.#extras?.avoidAddress;
  }
  set avoidAddress(value: string | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().avoidAddress = value;
  }

  /** Set while this command is the one a held slot waits on (see SlotGate). */
  get slotGate(): SlotGate | undefined {
    return this.#extras?.slotGate;
  }
  set slotGate(value: SlotGate | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().slotGate = value;
  }

  /**
   * For a call the server may hold (BLPOP, XREAD BLOCK, WAIT, ...): how long, and whether it
   * runs on a dedicated connection (command/blocking.ts). Its deadline includes the wait.
   */
  get blocking(): BlockingCall | undefined {
    return this.#extras?.blocking;
  }
  set blocking(value: BlockingCall | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().blocking = value;
  }

  /** Sent as several commands back to back (a transaction), see CommandUnit. */
  get unit(): CommandUnit | undefined {
    return this.#extras?.unit;
  }
  set unit(value: CommandUnit | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().unit = value;
  }

  /** Must go over this very connection: a WATCH session's (its watches live there). */
  get pinnedConnection(): Connection | undefined {
    return this.#extras?.pinnedConnection;
  }
  set pinnedConnection(value: Connection | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().pinnedConnection = value;
  }

  /** Runs on a dedicated connection and keeps it on success (WATCH), see ConnectionKeeper. */
  get keeper(): ConnectionKeeper | undefined {
    return this.#extras?.keeper;
  }
  set keeper(value: ConnectionKeeper | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().keeper = value;
  }

  /** A `defineScript()` script: the executor picks EVALSHA or EVAL per node. */
  get script(): ScriptSource | undefined {
    return this.#extras?.script;
  }
  set script(value: ScriptSource | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().script = value;
  }

  /**
   * Index in `args` of a cursor (SCAN, HSCAN, ...), or -1: a position in the hash table of
   * the one process that answered, meaningless to any other (each has its own hash seed).
   * Reset to 0 whenever the command is resent — redirected, or after a failure — since the
   * next answer may come from another process; the walk starts over there (duplicates,
   * never gaps).
   */
  get cursorIndex(): number {
    return this.#extras?.cursorIndex ?? -1;
  }
  set cursorIndex(value: number) {
    if (value !== -1 || this.#extras !== undefined) this.#more().cursorIndex = value;
  }

  /** Per-call `readFrom` (cluster.withOptions), over the client's. */
  get readFrom(): ReadFrom | undefined {
    return this.#extras?.readFrom;
  }
  set readFrom(value: ReadFrom | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().readFrom = value;
  }

  /**
   * Undoes what holding this command costs when it is abandoned before its answer (an
   * AbortSignal): set by whoever holds it where that matters (a dedicated connection).
   */
  get cancel(): (() => void) | undefined {
    return this.#extras?.cancel;
  }
  set cancel(value: (() => void) | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().cancel = value;
  }

  /**
   * Why its last attempt was to be retried (a CLUSTERDOWN reply, a lost connection): if the
   * deadline passes before a retry is answered, the error says so rather than a bare timeout.
   */
  get retryCause(): RedisClusterError | undefined {
    return this.#extras?.retryCause;
  }
  set retryCause(value: RedisClusterError | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().retryCause = value;
  }

  /** An attempt was sent and its connection broke before any answer (a node gone silent, say). */
  get unanswered(): boolean {
    return this.#extras?.unanswered ?? false;
  }
  set unanswered(value: boolean) {
    if (value || this.#extras !== undefined) this.#more().unanswered = value;
  }

  /** False for a call that must not be answered from, nor fill, the client-side cache (`withOptions({ cache: false })`). */
  get cacheReads(): boolean {
    return this.#extras?.cacheReads ?? true;
  }
  set cacheReads(value: boolean) {
    if (!value || this.#extras !== undefined) this.#more().cacheReads = value;
  }

  /** The client-side cache's part in this command, when caching is on (see CacheHook). */
  get cacheHook(): CacheHook | undefined {
    return this.#extras?.cacheHook;
  }
  set cacheHook(value: CacheHook | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().cacheHook = value;
  }

  /** Its `rediscluster:command` trace, when someone listened at its first dispatch (observe/). */
  get trace(): CommandTrace | undefined {
    return this.#extras?.trace;
  }
  set trace(value: CommandTrace | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().trace = value;
  }

  /** The command's name for messages: `GET`, or `CLUSTER SHARDS` for a subcommand. */
  get displayName(): string {
    const info = this.info;
    return info?.name.includes("|") ? info.name.replace("|", " ").toUpperCase() : this.name;
  }

  settle(value: RespValue, connection: Connection): void {
    if (value instanceof ReplyError) this.owner.onErrorReply(this, value, connection);
    else this.complete(this.transform === undefined ? value : this.transform(value));
  }

  fail(error: RedisClusterError, written: boolean, connection: Connection): void {
    this.owner.onFailure(this, error, written, connection);
  }

  expire(_connection: Connection): void {
    this.owner.onExpire(this);
  }

  /**
   * A maintenance window on its node (cluster/maintenance.ts), or a blocking call's own
   * timeout (client.ts): the deadline moves to `atLeast` if that is later. Only ever later: a
   * relaxed command never loses time it had. The one place, with the constructor, that writes
   * `deadlineAt`, and it keeps it integral.
   */
  relaxDeadline(atLeast: number): void {
    if (atLeast > this.deadlineAt) this.deadlineAt = Math.ceil(atLeast);
  }

  /** The final reply. Only the first of complete/completeError counts. */
  complete(value: unknown): void {
    if (this.settled) return;
    this.#flags |= SETTLED;
    if (this.#extras?.signal !== undefined) this.#stopListening();
    if (this.trace !== undefined) this.trace.settled(this, undefined);
    if (this.cacheHook !== undefined) this.cacheHook.settled(value, false);
    this.deliver(value);
    if (this.slotGate !== undefined) this.slotGate.onSettled(this);
  }

  /** The final error. Only the first of complete/completeError counts. */
  completeError(error: Error): void {
    if (this.settled) return;
    this.#flags |= SETTLED;
    if (this.#extras?.signal !== undefined) this.#stopListening();
    if (this.trace !== undefined) this.trace.settled(this, error);
    if (this.cacheHook !== undefined) this.cacheHook.settled(undefined, true);
    this.deliverError(error);
    if (this.slotGate !== undefined) this.slotGate.onSettled(this);
  }

  /**
   * Gives up on the command (its AbortSignal fired): it rejects with `error` now, and what
   * holds it lets go (a blocked call's dedicated connection is closed). Whatever answer
   * comes later is ignored.
   */
  abandon(error: Error): void {
    if (this.settled) return;
    const cancel = this.cancel;
    this.cancel = undefined;
    this.completeError(error);
    cancel?.();
  }

  /**
   * Abandons the command with an `AbortError` when `signal` fires before it settles. The
   * listener is removed once it settles, so a long-lived signal does not collect commands.
   */
  listenTo(signal: AbortSignal): void {
    if (signal.aborted) {
      this.abandon(new AbortError(this.displayName, { cause: signal.reason }));
      return;
    }
    const onAbort = () => this.abandon(new AbortError(this.displayName, { cause: signal.reason }));
    const extras = this.#more();
    extras.signal = signal;
    extras.onAbort = onAbort;
    signal.addEventListener("abort", onAbort, { once: true });
  }

  #stopListening(): void {
    const extras = this.#extras!;
    extras.signal!.removeEventListener("abort", extras.onAbort!);
    extras.signal = undefined;
    extras.onAbort = undefined;
  }

  /** Hands the final reply to whoever waits for it (a promise, a pipeline's array, ...). */
  protected abstract deliver(value: unknown): void;
  protected abstract deliverError(error: Error): void;
}

/**
 * Holds a slot's commands behind one whose retry is pending (cluster/executor.ts): told
 * when that command settles, so the next ones may go.
 */
export interface SlotGate {
  onSettled(command: Command): void;
}

/** The resolving functions of the promise last made by `new Promise(captureResolvers)`. */
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (error: Error) => void = () => {};

/**
 * One executor for every command's promise, rather than an arrow function per command that
 * captures it: nothing is made per call but the promise and its resolving functions,
 * whether or not V8 manages to elide such an arrow (it did in the issue 18 measurements:
 * 392 B per record and promise either way). The promise constructor calls the executor
 * synchronously, so the two variables are read right after.
 */
function captureResolvers(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** A command whose result settles a promise: what `cluster.get(...)` returns. */
export class PromiseCommand extends Command {
  /** Settles with the command's result. */
  readonly promise: Promise<unknown> = new Promise(captureResolvers);
  readonly #resolve = capturedResolve;
  readonly #reject = capturedReject;

  protected deliver(value: unknown): void {
    this.#resolve(value);
  }

  protected deliverError(error: Error): void {
    this.#reject(error);
  }
}
