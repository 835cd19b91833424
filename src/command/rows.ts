/**
 * The compact form the generated table stores commands in, and its conversion to and from
 * `CommandInfo`. Flags are kept as names (readable in a diff), key specs as short tuples:
 *
 * ```
 * ["get", 2, "readonly,fast", [["ro,access", 1, ["range", 0, 1, 0]]]]
 *   name  arity  flags         key spec: flags, begin, find
 * begin: 1 (argv index) | ["STREAMS", 1] (keyword, startfrom) | null (unknown)
 * find:  ["range", lastkey, keystep, limit] | ["keynum", keynumidx, firstkey, keystep] | null
 * ```
 * Then, when present: "request_policy/response_policy" (either side may be empty), and the
 * subcommand rows of a container command.
 */
import { COMMAND_FLAG_BY_NAME, CommandFlag, flagBits, flagNames, KEY_SPEC_FLAG_BY_NAME } from "./flags.js";
import {
  type BeginSearch,
  type CommandInfo,
  type FindKeys,
  type KeySpec,
  makeCommandInfo,
  type RequestPolicy,
  type ResponsePolicy,
} from "./info.js";

/** A key spec's begin-search in row form: an argv index, `[keyword, startFrom]`, or unknown. */
export type BeginSearchRow = number | readonly [keyword: string, startFrom: number] | null;
/** A key spec's find-keys in row form: a range, a key count, or unknown. */
export type FindKeysRow =
  | readonly [type: "range", lastKey: number, keyStep: number, limit: number]
  | readonly [type: "keynum", keyNumIndex: number, firstKey: number, keyStep: number]
  | null;
/** One key spec in row form: flags, begin-search, find-keys. */
export type KeySpecRow = readonly [flags: string, begin: BeginSearchRow, find: FindKeysRow];
/** One command of the generated table in row form (see the top of this file). */
export type CommandRow = readonly [
  name: string,
  arity: number,
  flags: string,
  keySpecs: readonly KeySpecRow[],
  policies?: string,
  subcommands?: readonly CommandRow[],
];

/**
 * Builds the `CommandInfo`s of generated rows.
 *
 * @example
 * decodeRows([["get", 2, "readonly,fast", [["ro,access", 1, ["range", 0, 1, 0]]]]])[0]!.singleKeyIndex; // 0
 */
export function decodeRows(rows: readonly CommandRow[]): CommandInfo[] {
  return rows.map(decodeRow);
}

function decodeRow(row: CommandRow): CommandInfo {
  const [name, arity, flags, specs, policies = "", subcommands] = row;
  const [request = "", response = ""] = policies.split("/");
  return makeCommandInfo({
    name,
    arity,
    flags: flagBits(splitNames(flags), COMMAND_FLAG_BY_NAME),
    keySpecs: specs.map(decodeKeySpec),
    requestPolicy: request === "" ? undefined : (request as RequestPolicy),
    responsePolicy: response === "" ? undefined : (response as ResponsePolicy),
    subcommands: subcommands?.map(decodeRow),
  });
}

function decodeKeySpec([flags, begin, find]: KeySpecRow): KeySpec {
  let beginSearch: BeginSearch;
  if (typeof begin === "number") beginSearch = { type: "index", index: begin };
  else if (begin === null) beginSearch = { type: "unknown" };
  else beginSearch = { type: "keyword", keyword: begin[0], startFrom: begin[1] };
  let findKeys: FindKeys;
  if (find === null) findKeys = { type: "unknown" };
  else if (find[0] === "range")
    findKeys = { type: "range", lastKey: find[1], keyStep: find[2], limit: find[3] };
  else findKeys = { type: "keynum", keyNumIndex: find[1], firstKey: find[2], keyStep: find[3] };
  return { flags: flagBits(splitNames(flags), KEY_SPEC_FLAG_BY_NAME), beginSearch, findKeys };
}

function splitNames(names: string): string[] {
  return names === "" ? [] : names.split(",");
}

/**
 * The row of a `CommandInfo` (the generator writes these). Our IDEMPOTENT flag is not
 * stored: the curated list in idempotent.ts adds it when rows are decoded.
 *
 * @example
 * JSON.stringify(encodeRow(findCommand("get")!));
 */
export function encodeRow(info: CommandInfo): CommandRow {
  const flags = flagNames(info.flags & ~CommandFlag.IDEMPOTENT, COMMAND_FLAG_BY_NAME).join(",");
  const specs = info.keySpecs.map(encodeKeySpec);
  const policies = `${info.requestPolicy ?? ""}/${info.responsePolicy ?? ""}`;
  const subcommands = info.subcommands
    ? [...info.subcommands.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(encodeRow)
    : undefined;
  if (subcommands) return [info.name, info.arity, flags, specs, policies, subcommands];
  if (policies !== "/") return [info.name, info.arity, flags, specs, policies];
  return [info.name, info.arity, flags, specs];
}

function encodeKeySpec(spec: KeySpec): KeySpecRow {
  const flags = flagNames(spec.flags, KEY_SPEC_FLAG_BY_NAME).join(",");
  const { beginSearch: begin, findKeys: find } = spec;
  const beginRow: BeginSearchRow =
    begin.type === "index" ? begin.index : begin.type === "keyword" ? [begin.keyword, begin.startFrom] : null;
  const findRow: FindKeysRow =
    find.type === "range"
      ? ["range", find.lastKey, find.keyStep, find.limit]
      : find.type === "keynum"
        ? ["keynum", find.keyNumIndex, find.firstKey, find.keyStep]
        : null;
  return [flags, beginRow, findRow];
}
