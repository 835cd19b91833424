/**
 * Argument checks done once, when a command is described, so that nothing malformed ever
 * reaches an encoder half-way through a batch.
 */
import { ArgumentError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";

/** Throws `ArgumentError` for an argument that cannot be sent (undefined, null, NaN, objects...). */
export function checkArgs(command: string, args: readonly unknown[]): asserts args is RedisArg[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const type = typeof arg;
    if (type === "string" || type === "bigint") continue;
    if (type === "number" && !Number.isNaN(arg)) continue;
    if (arg instanceof Uint8Array) continue;
    throw new ArgumentError(
      `argument ${i + 1} is ${describe(arg)}; pass a string, Buffer, number or bigint`,
      command,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return "NaN";
  if (Array.isArray(value)) return "an array (spread it: ...values)";
  if (typeof value === "object") return "an object";
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

/** The text a key is hashed as: numbers and bigints are sent as their decimal text. */
export function keyBytes(key: RedisArg): string | Uint8Array {
  return typeof key === "string" || key instanceof Uint8Array ? key : String(key);
}

/**
 * `call("CLIENT LIST")` and `call("CLIENT", "LIST")` alike: the first word is the command,
 * upper case, and any others lead its arguments.
 */
export function splitCommandName(
  name: string,
  args: RedisArg[],
): { head: string; args: RedisArg[] } | ArgumentError {
  if (typeof name !== "string" || name.trim() === "") {
    return new ArgumentError("the command name must be a non-empty string");
  }
  const words = name.trim().split(/\s+/);
  const head = words[0]!.toUpperCase();
  return { head, args: words.length > 1 ? [...words.slice(1), ...args] : args };
}

/**
 * Commands that change the state of the connection they run on. Every connection of this
 * client is shared by all callers (and pipelined), so one of these would corrupt everybody
 * else's replies (MULTI queues them, SUBSCRIBE swallows them, CLIENT REPLY OFF drops them):
 * they are refused before sending. Transactions and Pub/Sub need their own connections.
 */
const CONNECTION_STATE_COMMANDS = new Set([
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
  "RESET",
  "SELECT",
  "QUIT",
  "HELLO",
  "AUTH",
  "READONLY",
  "READWRITE",
  "ASKING",
  "SYNC",
  "PSYNC",
  "REPLCONF",
]);

/** The same, for subcommands (`CLIENT REPLY OFF`, `CLIENT TRACKING ON`). */
const CONNECTION_STATE_SUBCOMMANDS = new Map([["CLIENT", new Set(["REPLY", "TRACKING"])]]);

/**
 * Throws `ArgumentError` for a command that would change a shared connection's state.
 *
 * @example
 * refuseConnectionState("MULTI", []); // throws ArgumentError
 */
export function refuseConnectionState(name: string, args: readonly RedisArg[]): void {
  // `name` is upper case already: methods and call() pass it so.
  const sub = CONNECTION_STATE_SUBCOMMANDS.get(name);
  const refused =
    CONNECTION_STATE_COMMANDS.has(name) ||
    (sub !== undefined && typeof args[0] === "string" && sub.has(args[0].toUpperCase()));
  if (refused) {
    throw new ArgumentError(
      "would change the state of a connection that every caller shares (pipelined), so the client does not send it",
      sub === undefined ? name : `${name} ${String(args[0]).toUpperCase()}`,
    );
  }
}
