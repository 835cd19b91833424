/**
 * The command table: every command of the Redis version the table was generated from
 * (`table.generated.ts`), plus any learned at run time (`registerCommand`), looked up by
 * name in any case. The first command of a new client needs no `COMMAND` round trip.
 *
 * ```
 * findCommand("CLUSTER") ──► info (container) ──resolveSubcommand(info, ["SHARDS"])──► "cluster|shards"
 *        │ one Map.get for lower- or upper-case names; mixed case lower-cases first
 * ```
 */
import type { RedisArg } from "../resp/types.js";
import type { CommandInfo } from "./info.js";
import { decodeRows } from "./rows.js";
import { COMMAND_ROWS, REDIS_VERSION } from "./table.generated.js";

export { CommandFlag, KeySpecFlag } from "./flags.js";
export { isIdempotentCall } from "./idempotent.js";
export type {
  BeginSearch,
  CommandInfo,
  FindKeys,
  KeySpec,
  RequestPolicy,
  ResponsePolicy,
} from "./info.js";
export { parseCommandInfoReply } from "./parse-info.js";

/**
 * The Redis version the built-in table was generated from.
 *
 * @example
 * BUILT_IN_TABLE_VERSION; // "7.0.15"
 */
export const BUILT_IN_TABLE_VERSION = REDIS_VERSION;

/** Every command by lower-case name, and again by upper-case name (both spellings hit). */
const commandsByName = new Map<string, CommandInfo>();

for (const info of decodeRows(COMMAND_ROWS)) registerCommand(info);

/**
 * The command named `name` (any case), or `undefined` when the table does not know it
 * (ask the server with `COMMAND INFO`, then `registerCommand`).
 *
 * @example
 * findCommand("get")?.singleKeyIndex; // 0
 * findCommand("JSON.SET");            // undefined until registered
 */
export function findCommand(name: string): CommandInfo | undefined {
  return commandsByName.get(name) ?? commandsByName.get(name.toLowerCase());
}

/**
 * For a container command (CLUSTER, CONFIG, OBJECT, XINFO, ...), the subcommand named by
 * `args[0]` (any case); otherwise, or when the subcommand is unknown or missing, `info`
 * itself (the server will answer the error).
 *
 * @example
 * resolveSubcommand(findCommand("object")!, ["ENCODING", "k"]).name; // "object|encoding"
 */
export function resolveSubcommand(info: CommandInfo, args: readonly RedisArg[]): CommandInfo {
  const subcommands = info.subcommands;
  if (subcommands === undefined || args.length === 0) return info;
  const arg = args[0];
  let name: string;
  if (typeof arg === "string") name = arg;
  else if (arg instanceof Uint8Array)
    name = Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength).toString("latin1");
  else return info;
  return subcommands.get(name) ?? subcommands.get(name.toLowerCase()) ?? info;
}

/**
 * Adds a command to the table, or replaces the one of the same name: for commands learned
 * at run time (module commands, a server newer than the built-in table).
 *
 * @example
 * for (const info of parseCommandInfoReply(reply)) registerCommand(info);
 */
export function registerCommand(info: CommandInfo): void {
  commandsByName.set(info.name.toLowerCase(), info);
  commandsByName.set(info.name.toUpperCase(), info);
}

/**
 * Every top-level command the table knows, once each.
 *
 * @example
 * listCommands().filter((info) => info.flags & CommandFlag.BLOCKING);
 */
export function listCommands(): CommandInfo[] {
  return [...new Set(commandsByName.values())];
}
