/**
 * What the client knows about one command: the shape `COMMAND INFO` describes, reduced to
 * what routing needs, with the hot-path answers (`singleKeyIndex`) computed once here.
 *
 * Positions in key specs are the server's: argv indexes where 0 is the command name (for a
 * subcommand, 0 is the container and 1 the subcommand). `keyIndexes` turns them into
 * indexes into `args`, which exclude the command name.
 */
import { CommandFlag, KeySpecFlag } from "./flags.js";
import { IDEMPOTENT_COMMANDS } from "./idempotent.js";

/** Where a key spec's search starts (`begin_search`). */
export type BeginSearch =
  /** At a fixed argv index. */
  | { readonly type: "index"; readonly index: number }
  /**
   * After the first argument equal (case-insensitively) to `keyword`, searching forwards
   * from argv index `startFrom`, or backwards from `argc + startFrom` when it is negative.
   */
  | { readonly type: "keyword"; readonly keyword: string; readonly startFrom: number }
  /** The server does not say (e.g. SORT's BY/GET/STORE). */
  | { readonly type: "unknown" };

/** How a key spec finds its keys from where the search began (`find_keys`). */
export type FindKeys =
  /**
   * Keys from the start to `lastKey` (relative to the start when ≥ 0; from the end of argv
   * when negative), every `keyStep`-th argument. With `lastKey` -1 and `limit` > 0, only
   * the first 1/`limit` of the remaining arguments (XREAD's STREAMS k1 k2 id1 id2).
   */
  | { readonly type: "range"; readonly lastKey: number; readonly keyStep: number; readonly limit: number }
  /**
   * The argument at `keyNumIndex` (relative to the start) is the number of keys; the first
   * key is at `firstKey` (relative to the start), then every `keyStep`-th.
   */
  | {
      readonly type: "keynum";
      readonly keyNumIndex: number;
      readonly firstKey: number;
      readonly keyStep: number;
    }
  | { readonly type: "unknown" };

/**
 * One key spec of a command (Redis 7 `COMMAND INFO`, or synthesised from first/last/step).
 *
 * @example
 * // MSET: keys from argv[1] to the last argument, every second one.
 * const mset: KeySpec = {
 *   flags: KeySpecFlag.OW | KeySpecFlag.UPDATE,
 *   beginSearch: { type: "index", index: 1 },
 *   findKeys: { type: "range", lastKey: -1, keyStep: 2, limit: 0 },
 * };
 */
export interface KeySpec {
  /** `KeySpecFlag` bits. */
  readonly flags: number;
  readonly beginSearch: BeginSearch;
  readonly findKeys: FindKeys;
}

/** How a keyless command is spread over the cluster (`request_policy` tip). */
export type RequestPolicy = "all_nodes" | "all_shards" | "multi_shard" | "special";

/** How the replies of a spread command are merged (`response_policy` tip). */
export type ResponsePolicy =
  | "one_succeeded"
  | "all_succeeded"
  | "agg_logical_and"
  | "agg_logical_or"
  | "agg_min"
  | "agg_max"
  | "agg_sum"
  | "special";

/**
 * One command (or subcommand) of the table.
 *
 * @example
 * const info = findCommand("set")!;
 * info.flags & CommandFlag.WRITE;   // non-zero
 * info.singleKeyIndex;              // 0: args[0] is the key
 */
export interface CommandInfo {
  /** Lower case: `"get"`, `"cluster|shards"`. */
  readonly name: string;
  /** The server's arity: N means exactly N argv entries (name included), -N at least N. */
  readonly arity: number;
  /** `CommandFlag` bits. */
  readonly flags: number;
  readonly keySpecs: readonly KeySpec[];
  /**
   * Hot path: index into args (0-based, args exclude the command name) of the only key
   * when the command has exactly one key at a fixed position (GET, SET, HSET, INCR, ...);
   * -1 otherwise. The caller still checks that args are long enough (`keyIndexes` does).
   * Shard channels (NOT_KEY specs, e.g. SPUBLISH's) are not keys here.
   */
  readonly singleKeyIndex: number;
  readonly requestPolicy: RequestPolicy | undefined;
  readonly responsePolicy: ResponsePolicy | undefined;
  /** Subcommands by lower-case subcommand name (`"shards"`), for container commands. */
  readonly subcommands: ReadonlyMap<string, CommandInfo> | undefined;
}

/** The parts a `CommandInfo` is made of; `makeCommandInfo` derives the rest. */
export interface CommandInfoFields {
  name: string;
  arity: number;
  flags: number;
  keySpecs: readonly KeySpec[];
  requestPolicy?: RequestPolicy | undefined;
  responsePolicy?: ResponsePolicy | undefined;
  subcommands?: readonly CommandInfo[] | undefined;
}

/**
 * Builds a `CommandInfo`: lower-cases the name, adds our `IDEMPOTENT` flag from the
 * curated list, computes `singleKeyIndex`. Both the generated table and the parser of live
 * `COMMAND INFO` replies go through here, so a command learned at run time behaves exactly
 * like a built-in one.
 *
 * @example
 * const info = makeCommandInfo({ name: "MOD.GET", arity: 2, flags: CommandFlag.READONLY, keySpecs: [spec] });
 * info.name; // "mod.get"
 */
export function makeCommandInfo(fields: CommandInfoFields): CommandInfo {
  const name = fields.name.toLowerCase();
  let flags = fields.flags & ~CommandFlag.IDEMPOTENT;
  if (IDEMPOTENT_COMMANDS.has(name)) flags |= CommandFlag.IDEMPOTENT;
  let subcommands: Map<string, CommandInfo> | undefined;
  if (fields.subcommands && fields.subcommands.length > 0) {
    subcommands = new Map();
    for (const sub of fields.subcommands) {
      const bar = sub.name.indexOf("|");
      subcommands.set(bar === -1 ? sub.name : sub.name.slice(bar + 1), sub);
    }
  }
  return Object.freeze({
    name,
    arity: fields.arity,
    flags,
    keySpecs: Object.freeze([...fields.keySpecs]),
    singleKeyIndex: singleKeyIndexOf(flags, fields.keySpecs),
    requestPolicy: fields.requestPolicy,
    responsePolicy: fields.responsePolicy,
    subcommands,
  });
}

function singleKeyIndexOf(flags: number, keySpecs: readonly KeySpec[]): number {
  if (flags & CommandFlag.MOVABLE_KEYS) return -1;
  let index = -1;
  for (const spec of keySpecs) {
    if (spec.flags & KeySpecFlag.NOT_KEY) continue;
    const { beginSearch, findKeys } = spec;
    const fixed =
      index === -1 &&
      !(spec.flags & KeySpecFlag.INCOMPLETE) &&
      beginSearch.type === "index" &&
      beginSearch.index >= 1 &&
      findKeys.type === "range" &&
      findKeys.lastKey === 0;
    if (!fixed) return -1;
    // argv index → args index (args exclude the command name).
    index = beginSearch.index - 1;
  }
  return index;
}

/**
 * A key spec equivalent to the legacy `first, last, step` triple of `COMMAND INFO` (all a
 * Redis 6 server sends). `first` 0 means no keys.
 *
 * @example
 * legacyKeySpec(1, -1, 2); // MSET: from argv[1] to the end, every second argument
 */
export function legacyKeySpec(first: number, last: number, step: number): KeySpec | undefined {
  if (first <= 0) return undefined;
  return {
    flags: 0,
    beginSearch: { type: "index", index: first },
    findKeys: {
      type: "range",
      lastKey: last < 0 ? last : last - first,
      keyStep: step > 0 ? step : 1,
      limit: 0,
    },
  };
}
