/**
 * How the compatibility facades reach the native client: a command by name, sent through
 * the native object's own method of that name (so its reply shaping, such as HGETALL's
 * object, and its argument checks apply), or through `call` for a command the native
 * client has no method for (a module's). Every native surface that carries commands has
 * both: the client, pipelines, transactions, WATCH handles, node handles.
 */
import { COMMAND_METHOD_NAMES } from "../command/methods.generated.js";
import type { RedisArg } from "../resp/types.js";

/** What a native object that sends commands offers by name. */
export interface CommandSurface {
  call(name: string, ...args: RedisArg[]): unknown;
  callBuffer(name: string, ...args: RedisArg[]): unknown;
}

const METHODS: ReadonlySet<string> = new Set([...COMMAND_METHOD_NAMES, "mset"]);

/**
 * Every command method name of the native client, lower case (`get`, `hgetall`, `mset`, ...):
 * the names both facades put on their prototypes.
 */
export const COMMAND_METHODS: readonly string[] = [...METHODS];

/**
 * Puts a method for every command (and its `...Buffer` twin) on `prototype`, where it has
 * none of that name: each calls `send(this, name, args, buffers)`. The facades' classes call
 * it from a static block, with a `send` that reaches their private sender.
 */
export function defineCommandMethods<T extends object>(
  prototype: T,
  send: (self: T, name: string, given: unknown[], buffers: boolean) => unknown,
): void {
  for (const name of COMMAND_METHODS) {
    if (name in prototype) continue;
    Object.defineProperty(prototype, name, {
      configurable: true,
      writable: true,
      value(this: T, ...given: unknown[]) {
        return send(this, name, given, false);
      },
    });
    Object.defineProperty(prototype, `${name}Buffer`, {
      configurable: true,
      writable: true,
      value(this: T, ...given: unknown[]) {
        return send(this, name, given, true);
      },
    });
  }
}

/**
 * Sends `name` with `args` through `target`: its method `name` (or `nameBuffer`) when it
 * has one, else `call`/`callBuffer`. Returns what that returns (a promise for the client,
 * the batch itself for a pipeline or transaction).
 *
 * @example
 * invoke(cluster, "hgetall", ["user:1"], false); // Promise<{ name: "ann" }>
 */
export function invoke(target: CommandSurface, name: string, args: RedisArg[], buffers: boolean): unknown {
  const lower = name.toLowerCase();
  if (METHODS.has(lower)) {
    const method = (target as unknown as Record<string, unknown>)[buffers ? `${lower}Buffer` : lower];
    if (typeof method === "function")
      return (method as (...values: RedisArg[]) => unknown).apply(target, args);
  }
  return buffers ? target.callBuffer(name, ...args) : target.call(name, ...args);
}

/** True for a command the native client has a method for (`invoke` uses it). */
export function isCommandMethod(name: string): boolean {
  return METHODS.has(name.toLowerCase());
}
