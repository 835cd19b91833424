/**
 * Reads a `COMMAND INFO` (or `COMMAND`) reply into `CommandInfo`s. The generator uses it
 * to build the built-in table and the client uses it to learn commands it does not know
 * (module commands, a newer server), so both see one interpretation of the reply.
 *
 * Accepted shapes:
 * - Redis 7 entries: `[name, arity, flags, first, last, step, acl-categories, tips,
 *   key-specs, subcommands]`, maps as RESP2 flat `[field, value, ...]` arrays or as RESP3
 *   objects;
 * - Redis 6 entries (six or seven elements): key positions synthesised from first/last/step,
 *   marked incomplete when the command has movable keys (the server must be asked);
 * - `null` entries (unknown command names) are skipped.
 * Bulk strings may be Buffers (a connection in Buffer mode).
 */
import { ProtocolError } from "../errors.js";
import type { RespValue } from "../resp/types.js";
import { COMMAND_FLAG_BY_NAME, CommandFlag, flagBits, KEY_SPEC_FLAG_BY_NAME, KeySpecFlag } from "./flags.js";
import {
  type BeginSearch,
  type CommandInfo,
  type FindKeys,
  type KeySpec,
  legacyKeySpec,
  makeCommandInfo,
  type RequestPolicy,
  type ResponsePolicy,
} from "./info.js";

const REQUEST_POLICIES: ReadonlySet<string> = new Set(["all_nodes", "all_shards", "multi_shard", "special"]);
const RESPONSE_POLICIES: ReadonlySet<string> = new Set([
  "one_succeeded",
  "all_succeeded",
  "agg_logical_and",
  "agg_logical_or",
  "agg_min",
  "agg_max",
  "agg_sum",
  "special",
]);

/**
 * Parses a `COMMAND INFO` reply. Throws `ProtocolError` when the reply does not have the
 * documented shape.
 *
 * @example
 * const reply = await connection.send(["COMMAND", "INFO", "JSON.SET"]);
 * for (const info of parseCommandInfoReply(reply)) registerCommand(info);
 */
export function parseCommandInfoReply(reply: RespValue): CommandInfo[] {
  if (!Array.isArray(reply)) throw malformed("the reply is not an array");
  const infos: CommandInfo[] = [];
  for (const entry of reply) {
    if (entry === null) continue;
    infos.push(parseEntry(entry));
  }
  return infos;
}

function parseEntry(entry: RespValue): CommandInfo {
  if (!Array.isArray(entry) || entry.length < 6)
    throw malformed("a command entry is not an array of 6+ items");
  const name = text(entry[0], "name");
  const arity = integer(entry[1], "arity");
  const flags = flagBits(texts(entry[2], "flags"), COMMAND_FLAG_BY_NAME);
  let keySpecs: KeySpec[];
  if (entry.length >= 9) {
    keySpecs = list(entry[8], "key specs").map(parseKeySpec);
  } else {
    // Redis 6: only first/last/step. A movable-keys command's keys are not among them.
    const legacy = legacyKeySpec(
      integer(entry[3], "first"),
      integer(entry[4], "last"),
      integer(entry[5], "step"),
    );
    keySpecs = legacy ? [legacy] : [];
    if (flags & CommandFlag.MOVABLE_KEYS) keySpecs.push(UNKNOWN_KEYS);
  }
  let requestPolicy: RequestPolicy | undefined;
  let responsePolicy: ResponsePolicy | undefined;
  if (entry.length >= 8) {
    for (const tip of texts(entry[7], "tips")) {
      const [kind, value = ""] = tip.toLowerCase().split(":");
      if (kind === "request_policy" && REQUEST_POLICIES.has(value)) requestPolicy = value as RequestPolicy;
      if (kind === "response_policy" && RESPONSE_POLICIES.has(value))
        responsePolicy = value as ResponsePolicy;
    }
  }
  const subcommands = entry.length >= 10 ? list(entry[9], "subcommands").map(parseEntry) : undefined;
  return makeCommandInfo({ name, arity, flags, keySpecs, requestPolicy, responsePolicy, subcommands });
}

const UNKNOWN_KEYS: KeySpec = {
  flags: KeySpecFlag.INCOMPLETE,
  beginSearch: { type: "unknown" },
  findKeys: { type: "unknown" },
};

function parseKeySpec(value: RespValue): KeySpec {
  const spec = fields(value, "key spec");
  const begin = fields(spec.get("begin_search") ?? null, "begin_search");
  const find = fields(spec.get("find_keys") ?? null, "find_keys");
  return {
    flags: flagBits(texts(spec.get("flags") ?? [], "key spec flags"), KEY_SPEC_FLAG_BY_NAME),
    beginSearch: parseBeginSearch(text(begin.get("type") ?? null, "begin_search type"), begin.get("spec")),
    findKeys: parseFindKeys(text(find.get("type") ?? null, "find_keys type"), find.get("spec")),
  };
}

function parseBeginSearch(type: string, value: RespValue | undefined): BeginSearch {
  const spec = value === undefined ? new Map<string, RespValue>() : fields(value, "begin_search spec");
  switch (type) {
    case "index":
      return { type, index: integer(spec.get("index"), "begin_search index") };
    case "keyword":
      return {
        type,
        keyword: text(spec.get("keyword"), "begin_search keyword"),
        startFrom: integer(spec.get("startfrom"), "begin_search startfrom"),
      };
    default:
      return { type: "unknown" };
  }
}

function parseFindKeys(type: string, value: RespValue | undefined): FindKeys {
  const spec = value === undefined ? new Map<string, RespValue>() : fields(value, "find_keys spec");
  switch (type) {
    case "range":
      return {
        type,
        lastKey: integer(spec.get("lastkey"), "find_keys lastkey"),
        keyStep: integer(spec.get("keystep"), "find_keys keystep"),
        limit: integer(spec.get("limit"), "find_keys limit"),
      };
    case "keynum":
      return {
        type,
        keyNumIndex: integer(spec.get("keynumidx"), "find_keys keynumidx"),
        firstKey: integer(spec.get("firstkey"), "find_keys firstkey"),
        keyStep: integer(spec.get("keystep"), "find_keys keystep"),
      };
    default:
      return { type: "unknown" };
  }
}

/** A RESP3 map (object) or a RESP2 flat `[field, value, ...]` array, as a Map. */
function fields(value: RespValue, what: string): Map<string, RespValue> {
  const map = new Map<string, RespValue>();
  if (Array.isArray(value)) {
    if (value.length % 2 !== 0) throw malformed(`${what} has an odd number of items`);
    for (let i = 0; i < value.length; i += 2) map.set(text(value[i], what).toLowerCase(), value[i + 1]!);
    return map;
  }
  if (isObject(value)) {
    for (const [field, item] of Object.entries(value)) map.set(field.toLowerCase(), item);
    return map;
  }
  throw malformed(`${what} is not a map`);
}

function isObject(value: RespValue): value is { [field: string]: RespValue } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Error)
  );
}

function list(value: RespValue | undefined, what: string): RespValue[] {
  if (!Array.isArray(value)) throw malformed(`${what} is not an array`);
  return value;
}

function texts(value: RespValue | undefined, what: string): string[] {
  return list(value, what).map((item) => text(item, what));
}

function text(value: RespValue | undefined, what: string): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  throw malformed(`${what} is not a string`);
}

function integer(value: RespValue | undefined, what: string): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw malformed(`${what} is not an integer`);
}

function malformed(detail: string): ProtocolError {
  return new ProtocolError(`unexpected COMMAND INFO reply: ${detail}`);
}
