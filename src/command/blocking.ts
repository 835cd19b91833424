/**
 * Commands the server may legitimately hold before answering, and how long, read from their
 * own arguments: their deadline is `commandTimeout` on top of that wait.
 *
 * Two kinds, because of where the wait happens:
 * - **blocking on keys** (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...): the call waits for
 *   another client's write. It runs on a dedicated connection of the node, never on the
 *   shared one, so that nothing queued behind it waits too (and so that the write that wakes
 *   it is not stuck behind it).
 * - **waiting for replication** (WAIT, WAITAOF): the answer is about the writes *of the
 *   connection it runs on*. On a fresh dedicated connection, which wrote nothing, it would
 *   answer at once with a meaningless count; so it runs on the shared connection, whose
 *   writes it waits for, and holds that connection's later replies until it answers. A zero
 *   timeout ("wait forever") is refused there: it could stall every caller of the node.
 */
import { ArgumentError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";
import { argEquals } from "./args.js";
import { CommandFlag, type CommandInfo } from "./table.js";

/** Blocks until an answer, however long: no deadline. */
export const BLOCK_FOREVER = Number.POSITIVE_INFINITY;

/** How a call waits at the server: see the file comment. */
export interface BlockingCall {
  /** How long the server may hold the call, in ms; `BLOCK_FOREVER` for a zero timeout. */
  readonly timeoutMs: number;
  /** Runs on a dedicated connection (blocking on keys), or on the shared one (WAIT). */
  readonly dedicated: boolean;
}

/**
 * How this call waits at the server, or `undefined` when it answers at once (not a blocking
 * command, XREAD without BLOCK, or a timeout argument the server will refuse anyway).
 * Throws `ArgumentError` for WAIT/WAITAOF with a zero timeout.
 *
 * @example
 * blockingCall(findCommand("blpop")!, ["q", 2.5]);          // { timeoutMs: 2500, dedicated: true }
 * blockingCall(findCommand("xread")!, ["STREAMS", "s", "$"]); // undefined
 * blockingCall(findCommand("wait")!, [1, 100]);             // { timeoutMs: 100, dedicated: false }
 */
export function blockingCall(info: CommandInfo, args: readonly RedisArg[]): BlockingCall | undefined {
  // WAIT/WAITAOF first, whatever their flags say (Redis 7.0 does not flag them as blocking;
  // later versions may). The first-letter test keeps this off the path of other commands.
  const name = info.name;
  if (name.charCodeAt(0) === 0x77 && (name === "wait" || name === "waitaof"))
    return replicationWait(info, args);
  if (!(info.flags & CommandFlag.BLOCKING)) return undefined;
  const timeoutMs = keyBlockingTimeoutMs(info, args);
  return timeoutMs === undefined ? undefined : { timeoutMs, dedicated: true };
}

/** WAIT numreplicas timeout / WAITAOF numlocal numreplicas timeout: milliseconds, last. */
function replicationWait(info: CommandInfo, args: readonly RedisArg[]): BlockingCall | undefined {
  const timeoutMs = toTimeout(args[args.length - 1], 1);
  if (timeoutMs === BLOCK_FOREVER) {
    throw new ArgumentError(
      "a timeout of 0 waits forever on the connection every caller of that node shares; give a timeout in ms",
      info.name.toUpperCase(),
    );
  }
  return timeoutMs === undefined ? undefined : { timeoutMs, dedicated: false };
}

function keyBlockingTimeoutMs(info: CommandInfo, args: readonly RedisArg[]): number | undefined {
  switch (info.name) {
    case "xread":
    case "xreadgroup": {
      const at = args.findIndex((arg) => argEquals(arg, "BLOCK"));
      return at === -1 ? undefined : toTimeout(args[at + 1], 1);
    }
    case "blmpop":
    case "bzmpop":
      // BLMPOP timeout numkeys key ... : the timeout comes first, in seconds.
      return toTimeout(args[0], 1000);
    default:
      // BLPOP/BRPOP/BZPOPMIN/BZPOPMAX/BRPOPLPUSH/BLMOVE ... timeout: seconds, last.
      return toTimeout(args[args.length - 1], 1000);
  }
}

function toTimeout(arg: RedisArg | undefined, unitMs: number): number | undefined {
  const value = typeof arg === "number" ? arg : Number(typeof arg === "bigint" ? arg : String(arg ?? ""));
  if (!Number.isFinite(value) || value < 0) return undefined; // the server will refuse it
  return value === 0 ? BLOCK_FOREVER : value * unitMs;
}
