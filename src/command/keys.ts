/**
 * Where the keys of a command are among its arguments, found from the command's key specs
 * the way the server does it (`getKeysUsingKeySpecs` in Redis's db.c), so that a command
 * is routed by exactly the keys the server will check. Hand-written rules cover the specs
 * the server itself marks INCOMPLETE or unknown; anything else unknown yields `null` and
 * the caller asks the server (`COMMAND GETKEYS`).
 *
 * Indexes: key specs count argv positions from the command name (argv[0]); the results
 * here index `args`, which exclude the name, so argv position p is args index p - 1.
 */
import { ArgumentError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";
import { argEquals, parseIntegerArg } from "./args.js";
import { CommandFlag, KeySpecFlag } from "./flags.js";
import type { CommandInfo } from "./info.js";
import { resolveSubcommand } from "./table.js";

/** Shared result for keyless commands, so they allocate nothing. */
const NO_KEYS: readonly number[] = Object.freeze([]);

/**
 * Positions in `args` (0-based, command name excluded) of every key of the command, in
 * key-spec order; an empty array for a keyless command; `null` when the key specs cannot
 * tell and no rule of ours can (ask the server with `COMMAND GETKEYS`).
 *
 * A container command (`OBJECT`, `XINFO`, ...) is resolved to its subcommand from
 * `args[0]` first. Shard channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE: NOT_KEY specs) are
 * not keys unless `includeNotKeys` is true, which routing by slot wants.
 *
 * Throws `ArgumentError` when the arguments are too few to name the keys (`GET` without a
 * key, `EVAL script 3 k1`) or the number of keys is not a non-negative integer.
 *
 * @example
 * keyIndexes(findCommand("mset")!, ["a", "1", "b", "2"]);        // [0, 2]
 * keyIndexes(findCommand("eval")!, ["return 1", 2, "k1", "k2", "x"]); // [2, 3]
 * keyIndexes(findCommand("xread")!, ["COUNT", 1, "STREAMS", "s1", "s2", "0", "0"]); // [3, 4]
 */
export function keyIndexes(
  info: CommandInfo,
  args: readonly RedisArg[],
  includeNotKeys = false,
): readonly number[] | null {
  const command = info.subcommands === undefined ? info : resolveSubcommand(info, args);
  const single = command.singleKeyIndex;
  if (single >= 0 && !includeNotKeys) {
    if (single >= args.length) throw tooFewArguments(command);
    return [single];
  }
  const specs = command.keySpecs;
  // Movable keys and no spec to find them (a module using the getkeys API): only the
  // server can tell.
  if (specs.length === 0 && command.flags & CommandFlag.MOVABLE_KEYS)
    return KEY_RULES.get(command.name)?.(command, args) ?? null;
  const argc = args.length + 1;
  let keys: number[] | undefined;
  for (let s = 0; s < specs.length; s++) {
    const spec = specs[s]!;
    if (spec.flags & KeySpecFlag.NOT_KEY && !includeNotKeys) continue;
    const { beginSearch: begin, findKeys: find } = spec;
    if (
      spec.flags & KeySpecFlag.INCOMPLETE ||
      begin.type === "unknown" ||
      find.type === "unknown" ||
      // A step below 1 is a malformed (module) spec; the server knows what it meant.
      find.keyStep < 1
    ) {
      const rule = KEY_RULES.get(command.name);
      return rule ? rule(command, args) : null;
    }

    // Where the search starts, as an argv position.
    let first = 0;
    if (begin.type === "index") {
      first = begin.index;
    } else {
      first = findKeyword(args, argc, begin.keyword, begin.startFrom);
      // No keyword: this spec names no keys (e.g. GEORADIUS without STORE).
      if (first === 0) continue;
    }

    // The last key, as an argv position.
    const step = find.keyStep;
    let last: number;
    if (find.type === "range") {
      if (find.lastKey >= 0) last = first + find.lastKey;
      else if (find.limit === 0) last = argc + find.lastKey;
      else last = first + Math.trunc((argc - first) / find.limit) + find.lastKey;
    } else {
      const countAt = first + find.keyNumIndex;
      if (countAt >= argc) throw tooFewArguments(command);
      const count = parseIntegerArg(args[countAt - 1]);
      if (count === undefined || count < 0) {
        throw new ArgumentError(
          "the number of keys is not a non-negative integer",
          command.name.toUpperCase(),
        );
      }
      // Zero keys is legal where the server allows it (EVAL script 0) and named no key.
      if (count === 0) continue;
      first += find.firstKey;
      // As released servers do: `count` arguments, of which every step-th is a key. (Only a
      // module's keystep > 1 could tell; redis/redis#15408 proposes `count` keys instead.)
      last = first + count - 1;
    }
    if (first >= argc || last >= argc || last < first) throw tooFewArguments(command);

    keys ??= [];
    for (let position = first; position <= last; position += step) keys.push(position - 1);
  }
  return keys ?? NO_KEYS;
}

/**
 * The argv position after `keyword`, searching as the server does: forwards from
 * `startFrom` up to (not including) the last argument, or backwards from `argc + startFrom`
 * down to (not including) argv[1]; 0 when not found.
 */
function findKeyword(args: readonly RedisArg[], argc: number, keyword: string, startFrom: number): number {
  if (startFrom > 0) {
    for (let position = startFrom; position < argc - 1; position++) {
      if (argEquals(args[position - 1], keyword)) return position + 1;
    }
  } else {
    for (let position = argc + startFrom; position > 1 && position < argc; position--) {
      if (argEquals(args[position - 1], keyword)) return position + 1;
    }
  }
  return 0;
}

function tooFewArguments(command: CommandInfo): ArgumentError {
  return new ArgumentError("too few arguments to name its keys", command.name.toUpperCase());
}

/**
 * Rules for the commands whose key specs the server marks INCOMPLETE or unknown, written
 * after the server's own key-finding functions (db.c), args-indexed.
 */
const KEY_RULES: ReadonlyMap<string, (command: CommandInfo, args: readonly RedisArg[]) => number[]> = new Map(
  [
    ["sort", sortKeys],
    ["sort_ro", sortReadOnlyKeys],
    ["migrate", migrateKeys],
  ],
);

/**
 * SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]:
 * the specs leave STORE "unknown" because it may appear anywhere. Like the server, skip
 * the operands of BY, GET and LIMIT and take the key after the last STORE. The keys that
 * BY/GET patterns reach are derived from stored data and cannot be routed by anyone.
 */
function sortKeys(command: CommandInfo, args: readonly RedisArg[]): number[] {
  if (args.length < 1) throw tooFewArguments(command);
  let store = -1;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    if (argEquals(arg, "LIMIT")) i += 2;
    else if (argEquals(arg, "GET") || argEquals(arg, "BY")) i += 1;
    else if (argEquals(arg, "STORE") && i + 1 < args.length) store = i + 1;
  }
  return store === -1 ? [0] : [0, store];
}

/** SORT_RO key ...: only the sorted key (BY/GET keys: see `sortKeys`). */
function sortReadOnlyKeys(command: CommandInfo, args: readonly RedisArg[]): number[] {
  if (args.length < 1) throw tooFewArguments(command);
  return [0];
}

/**
 * MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
 * AUTH2 username password] [KEYS key ...]: the KEYS spec is INCOMPLETE because a password
 * could read "KEYS". Like the server, skip AUTH/AUTH2 operands while looking for KEYS; the
 * single key is used unless it is empty and KEYS follows.
 */
function migrateKeys(command: CommandInfo, args: readonly RedisArg[]): number[] {
  if (args.length < 3) throw tooFewArguments(command);
  for (let i = 5; i < args.length; i++) {
    const arg = args[i];
    if (argEquals(arg, "KEYS")) {
      // A key and KEYS together is a syntax error the server reports; it names no key.
      if (!isEmptyArg(args[2])) return [];
      const keys: number[] = [];
      for (let k = i + 1; k < args.length; k++) keys.push(k);
      return keys;
    }
    if (argEquals(arg, "AUTH")) i += 1;
    else if (argEquals(arg, "AUTH2")) i += 2;
  }
  return [2];
}

function isEmptyArg(arg: RedisArg | undefined): boolean {
  return (typeof arg === "string" || arg instanceof Uint8Array) && arg.length === 0;
}
