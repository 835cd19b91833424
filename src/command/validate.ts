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
