/**
 * Argument checks done once, when a command is described, so that nothing malformed ever
 * reaches an encoder half-way through a batch.
 */
import { ArgumentError } from "../errors.js";
import { numberText } from "../resp/encoder.js";
import type { RedisArg } from "../resp/types.js";
import { argEquals } from "./args.js";

/**
 * Throws `ArgumentError` for an argument that cannot be sent (undefined, null, NaN, objects...).
 * `command` names the command in the error: a name, or a Command whose `displayName` is only
 * worked out when there is an error (every command is checked; few fail).
 */
export function checkArgs(
  command: string | { readonly displayName: string },
  args: readonly unknown[],
): asserts args is RedisArg[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const type = typeof arg;
    if (type === "string" || type === "bigint") continue;
    if (type === "number" && !Number.isNaN(arg)) continue;
    if (arg instanceof Uint8Array) continue;
    throw new ArgumentError(
      `argument ${i + 1} is ${describe(arg)}; pass a string, Buffer, number or bigint`,
      typeof command === "string" ? command : command.displayName,
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

/**
 * What a key is hashed as: exactly what the encoder sends for it. Numbers go through the
 * encoder's own rendering (`Infinity` is sent, and so hashed, as `+inf`), bigints as their digits.
 */
export function keyBytes(key: RedisArg): string | Uint8Array {
  if (typeof key === "string" || key instanceof Uint8Array) return key;
  return typeof key === "number" ? numberText(key) : key.toString();
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
  const head = asciiUpperCase(words[0]!);
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
const CONNECTION_STATE_SUBCOMMANDS = new Map([["CLIENT", ["REPLY", "TRACKING"]]]);

/**
 * Throws `ArgumentError` for a command that would change a shared connection's state.
 *
 * Decided on what the server will read, as the server reads it (issue 17.1): the command
 * name and the subcommand compared ASCII case-insensitively, byte by byte for Buffers and
 * Uint8Arrays — a `Buffer.from("reply")` subcommand is `REPLY` to the server, so it is here.
 *
 * @example
 * refuseConnectionState("MULTI", []); // throws ArgumentError
 * refuseConnectionState("CLIENT", [Buffer.from("reply"), "OFF"]); // throws ArgumentError
 */
export function refuseConnectionState(name: string, args: readonly RedisArg[]): void {
  // Every path passes the name upper case already (methods, splitCommandName); fold it anyway.
  const upper = HAS_LOWER_CASE.test(name) ? asciiUpperCase(name) : name;
  if (CONNECTION_STATE_COMMANDS.has(upper)) refuse(upper);
  const subcommands = CONNECTION_STATE_SUBCOMMANDS.get(upper);
  if (subcommands === undefined) return;
  for (const subcommand of subcommands) {
    if (argEquals(args[0], subcommand)) refuse(`${upper} ${subcommand}`);
  }
}

function refuse(command: string): never {
  throw new ArgumentError(
    "would change the state of a connection that every caller shares (pipelined), so the client does not send it",
    command,
  );
}

const HAS_LOWER_CASE = /[a-z]/;

/**
 * Upper-cases ASCII letters only, as the server folds command names (`strcasecmp`):
 * `"ſet".toUpperCase()` is `"SET"`, but the server reads the bytes of `ſ` as no letter.
 */
export function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}
