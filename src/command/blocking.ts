/**
 * How long a blocking command may legitimately wait for the server, read from its own
 * arguments, so that its deadline is `commandTimeout` on top of that — and so that it runs
 * on a connection of its own, never holding up the commands queued behind it.
 */
import type { RedisArg } from "../resp/types.js";
import { argEquals } from "./args.js";
import { CommandFlag, type CommandInfo } from "./table.js";

/** Blocks until an answer, however long: no deadline. */
export const BLOCK_FOREVER = Number.POSITIVE_INFINITY;

/**
 * The blocking time in ms of this call, `BLOCK_FOREVER` for a zero timeout, or `undefined`
 * when this call does not block (not a blocking command, or XREAD without BLOCK).
 *
 * @example
 * blockingTimeoutMs(findCommand("blpop")!, ["q", 2.5]);          // 2500
 * blockingTimeoutMs(findCommand("xread")!, ["STREAMS", "s", "$"]); // undefined
 */
export function blockingTimeoutMs(info: CommandInfo, args: readonly RedisArg[]): number | undefined {
  if (!(info.flags & CommandFlag.BLOCKING)) return undefined;
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
    case "wait":
    case "waitaof":
      // WAIT numreplicas timeout: milliseconds, last.
      return toTimeout(args[args.length - 1], 1);
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
