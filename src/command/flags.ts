/**
 * Bit sets for the flags of a command and of its key specs, as `COMMAND INFO` names them,
 * plus one flag of ours (`IDEMPOTENT`). Flags are numbers so that a router can test them
 * with one `&` on the hot path.
 */

/**
 * Flags of a command (`COMMAND INFO` flags), one bit each, plus `IDEMPOTENT` (ours).
 *
 * @example
 * if (info.flags & CommandFlag.READONLY) { // may go to a replica
 * }
 */
export const CommandFlag = {
  WRITE: 1,
  READONLY: 1 << 1,
  DENYOOM: 1 << 2,
  ADMIN: 1 << 3,
  PUBSUB: 1 << 4,
  NOSCRIPT: 1 << 5,
  BLOCKING: 1 << 6,
  LOADING: 1 << 7,
  STALE: 1 << 8,
  FAST: 1 << 9,
  NO_MULTI: 1 << 10,
  MOVABLE_KEYS: 1 << 11,
  ALLOW_BUSY: 1 << 12,
  MAY_REPLICATE: 1 << 13,
  SKIP_MONITOR: 1 << 14,
  SKIP_SLOWLOG: 1 << 15,
  ASKING: 1 << 16,
  NO_AUTH: 1 << 17,
  NO_MANDATORY_KEYS: 1 << 18,
  NO_ASYNC_LOADING: 1 << 19,
  MODULE: 1 << 20,
  MODULE_NO_CLUSTER: 1 << 21,
  /**
   * Ours, not the server's: a write that is safe to send a second time after an ambiguous
   * failure (the connection broke after the command may have reached the server).
   *
   * The rule: running the command twice in a row leaves the data exactly as running it
   * once, and its reply reports nothing that was read before the write. So `SET`, `DEL`,
   * `HSET`, `SADD`, `ZADD`, `EXPIRE` qualify; `INCR`, `LPUSH`, `APPEND`, `GETSET`, `SPOP`
   * do not. Accepted consequences of a resend: a count in the reply may be smaller than
   * the first run's (`DEL` answers 0 for a key the lost run deleted), and a relative TTL
   * (`EXPIRE`, `SETEX`) restarts from the resend. Some commands qualify only without an
   * option; `isIdempotentCall` checks those arguments (`SET ... GET|NX`, `ZADD ... INCR`).
   * Read-only commands are always safe to resend and do not carry this flag. The list is
   * `IDEMPOTENT_COMMANDS` in idempotent.ts.
   */
  IDEMPOTENT: 1 << 24,
} as const;

/**
 * `COMMAND INFO` flag names → `CommandFlag` bits. Names not listed here are ignored.
 *
 * @example
 * COMMAND_FLAG_BY_NAME.get("readonly") === CommandFlag.READONLY; // true
 */
export const COMMAND_FLAG_BY_NAME: ReadonlyMap<string, number> = new Map([
  ["write", CommandFlag.WRITE],
  ["readonly", CommandFlag.READONLY],
  ["denyoom", CommandFlag.DENYOOM],
  ["admin", CommandFlag.ADMIN],
  ["pubsub", CommandFlag.PUBSUB],
  ["noscript", CommandFlag.NOSCRIPT],
  ["blocking", CommandFlag.BLOCKING],
  ["loading", CommandFlag.LOADING],
  ["stale", CommandFlag.STALE],
  ["fast", CommandFlag.FAST],
  ["no_multi", CommandFlag.NO_MULTI],
  ["movablekeys", CommandFlag.MOVABLE_KEYS],
  ["allow_busy", CommandFlag.ALLOW_BUSY],
  ["may_replicate", CommandFlag.MAY_REPLICATE],
  ["skip_monitor", CommandFlag.SKIP_MONITOR],
  ["skip_slowlog", CommandFlag.SKIP_SLOWLOG],
  ["asking", CommandFlag.ASKING],
  ["no_auth", CommandFlag.NO_AUTH],
  ["no_mandatory_keys", CommandFlag.NO_MANDATORY_KEYS],
  ["no_async_loading", CommandFlag.NO_ASYNC_LOADING],
  ["module", CommandFlag.MODULE],
  ["module_no_cluster", CommandFlag.MODULE_NO_CLUSTER],
]);

/**
 * Flags of one key spec (`COMMAND INFO` key-spec flags, Redis 7+), one bit each.
 *
 * @example
 * const writesKey = (spec.flags & (KeySpecFlag.RW | KeySpecFlag.OW | KeySpecFlag.RM)) !== 0;
 */
export const KeySpecFlag = {
  RO: 1,
  RW: 1 << 1,
  OW: 1 << 2,
  RM: 1 << 3,
  ACCESS: 1 << 4,
  UPDATE: 1 << 5,
  INSERT: 1 << 6,
  DELETE: 1 << 7,
  /** Not a key but hashed like one: the shard channel of SPUBLISH/SSUBSCRIBE/SUNSUBSCRIBE. */
  NOT_KEY: 1 << 8,
  /** The spec may miss keys: the server needs its own code (or us a hand-written rule). */
  INCOMPLETE: 1 << 9,
  /** The key's flags depend on the arguments (SET ... GET); positions are still exact. */
  VARIABLE_FLAGS: 1 << 10,
} as const;

/**
 * Key-spec flag names (as the server spells them, lower-cased) → `KeySpecFlag` bits.
 *
 * @example
 * KEY_SPEC_FLAG_BY_NAME.get("rw") === KeySpecFlag.RW; // true
 */
export const KEY_SPEC_FLAG_BY_NAME: ReadonlyMap<string, number> = new Map([
  ["ro", KeySpecFlag.RO],
  ["rw", KeySpecFlag.RW],
  ["ow", KeySpecFlag.OW],
  ["rm", KeySpecFlag.RM],
  ["access", KeySpecFlag.ACCESS],
  ["update", KeySpecFlag.UPDATE],
  ["insert", KeySpecFlag.INSERT],
  ["delete", KeySpecFlag.DELETE],
  ["not_key", KeySpecFlag.NOT_KEY],
  ["incomplete", KeySpecFlag.INCOMPLETE],
  ["variable_flags", KeySpecFlag.VARIABLE_FLAGS],
]);

/**
 * Bits of a list of flag names (any case). Unknown names count for nothing: a newer
 * server may send flags we do not know.
 *
 * @example
 * flagBits(["write", "denyoom"], COMMAND_FLAG_BY_NAME); // CommandFlag.WRITE | CommandFlag.DENYOOM
 */
export function flagBits(names: Iterable<string>, byName: ReadonlyMap<string, number>): number {
  let bits = 0;
  for (const name of names) bits |= byName.get(name.toLowerCase()) ?? 0;
  return bits;
}

/**
 * Names of the bits set in `bits`, in `byName`'s order (the generated table stores these).
 *
 * @example
 * flagNames(CommandFlag.READONLY | CommandFlag.FAST, COMMAND_FLAG_BY_NAME); // ["readonly", "fast"]
 */
export function flagNames(bits: number, byName: ReadonlyMap<string, number>): string[] {
  const names: string[] = [];
  for (const [name, bit] of byName) if (bits & bit) names.push(name);
  return names;
}
