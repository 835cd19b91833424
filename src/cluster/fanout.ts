/**
 * Where a keyless command goes, following the server's own tips (`COMMAND INFO`
 * request_policy / response_policy), with the few exceptions a client must make:
 *
 * | plan      | sent to                        | e.g.                                          |
 * | --------- | ------------------------------ | --------------------------------------------- |
 * | `one`     | one node (random shard)        | PING, INFO, TIME, ECHO (tips say all_shards for PING/INFO, but one answer is what a caller means) |
 * | `all`     | every primary (`all_shards`)   | DBSIZE, KEYS, FLUSHALL, WAIT, FUNCTION LOAD   |
 * |           | every node (`all_nodes`)       | SCRIPT LOAD, CONFIG SET                        |
 * | `refuse`  | nowhere: `ArgumentError`       | SCAN (a cursor belongs to one node), MEMORY STATS and other per-node reports |
 *
 * and the replies of `all` merged by the response policy: `agg_sum` adds (DBSIZE),
 * `all_succeeded` returns one reply if none failed, `one_succeeded` the first success,
 * `agg_logical_*` and `agg_min/max` combine element-wise; RANDOMKEY picks a random key among
 * the primaries that have one; with no policy, arrays are concatenated (KEYS).
 */
import type { CommandInfo, RequestPolicy, ResponsePolicy } from "../command/table.js";
import { RedisClusterError } from "../errors.js";
import type { ClusterNode, Topology } from "./topology.js";

/** How replies of a fan-out become one: the server's response policy, or ours. */
export type FanOutMerge = ResponsePolicy | "random_non_null" | undefined;

/** Where a keyless command goes: one node, every primary or node (with a merge), or nowhere. */
export type KeylessPlan =
  | { readonly kind: "one" }
  | { readonly kind: "all"; readonly policy: RequestPolicy; readonly merge: FanOutMerge }
  | { readonly kind: "refuse"; readonly reason: string };

const ONE: KeylessPlan = { kind: "one" };

/** Commands whose tip the client overrides (by table name). */
const OVERRIDES: ReadonlyMap<string, KeylessPlan> = new Map<string, KeylessPlan>([
  ["ping", ONE],
  ["info", ONE],
  ["randomkey", { kind: "all", policy: "all_shards", merge: "random_non_null" }],
  [
    "scan",
    {
      kind: "refuse",
      reason:
        "a SCAN cursor belongs to the node that made it; use cluster.scanIterator() to walk every primary, " +
        "or cluster.nodes('primary') to scan one node",
    },
  ],
]);

const plans = new WeakMap<CommandInfo, KeylessPlan>();

/**
 * Where a command without keys goes. Computed once per command of the table.
 *
 * @example
 * keylessPlan(findCommand("dbsize")!); // { kind: "all", policy: "all_shards", merge: "agg_sum" }
 */
export function keylessPlan(info: CommandInfo): KeylessPlan {
  let plan = plans.get(info);
  if (plan === undefined) {
    plan = planOf(info);
    plans.set(info, plan);
  }
  return plan;
}

function planOf(info: CommandInfo): KeylessPlan {
  const override = OVERRIDES.get(info.name);
  if (override !== undefined) return override;
  const { requestPolicy, responsePolicy } = info;
  const display = info.name.replace("|", " ").toUpperCase();
  if (requestPolicy === "special" || responsePolicy === "special") {
    // The server says merging needs command-specific logic: a per-node report (MEMORY
    // STATS, LATENCY LATEST, FUNCTION STATS, ...). Any one node's answer would pass for the
    // cluster's; a merge of them all would be garbage. The caller asks each node.
    return {
      kind: "refuse",
      reason: `${display} reports on one node; ask each node: for (const node of cluster.nodes("primary")) await node.call(...)`,
    };
  }
  if (requestPolicy === "all_shards" || requestPolicy === "all_nodes") {
    return { kind: "all", policy: requestPolicy, merge: responsePolicy };
  }
  return ONE;
}

/** The nodes a fan-out goes to. */
export function fanOutTargets(policy: RequestPolicy, topology: Topology): ClusterNode[] {
  return policy === "all_nodes" ? [...topology.nodes.values()] : topology.primaries;
}

/**
 * Merges per-node outcomes (a reply, or an Error at that index). Returns the merged reply,
 * or throws the error the caller should see.
 */
export function mergeFanOut(merge: FanOutMerge, outcomes: unknown[]): unknown {
  const errors = outcomes.filter((outcome): outcome is Error => outcome instanceof Error);
  const replies = outcomes.filter((outcome) => !(outcome instanceof Error));
  if (merge === "one_succeeded") {
    if (replies.length > 0) return replies[0];
    throw errors[0];
  }
  // Every other policy needs every node's answer: one failure is the caller's failure.
  if (errors.length > 0) throw errors.find((error) => error instanceof RedisClusterError) ?? errors[0];
  switch (merge) {
    case "all_succeeded":
      return replies[0];
    case "agg_sum":
      return combine(replies, (a, b) => a + b);
    case "agg_min":
      return combine(replies, Math.min);
    case "agg_max":
      return combine(replies, Math.max);
    case "agg_logical_and":
      return combine(replies, (a, b) => (a && b ? 1 : 0));
    case "agg_logical_or":
      return combine(replies, (a, b) => (a || b ? 1 : 0));
    case "random_non_null": {
      const found = replies.filter((reply) => reply !== null);
      return found.length === 0 ? null : found[Math.floor(Math.random() * found.length)];
    }
    default:
      // No policy: arrays are parts of one answer (KEYS); else any one reply.
      return replies.every(Array.isArray) ? replies.flat(1) : replies[0];
  }
}

/** Folds numbers, or arrays of numbers element-wise (SCRIPT EXISTS answers one per script). */
function combine(replies: unknown[], op: (a: number, b: number) => number): unknown {
  const [first, ...rest] = replies;
  if (Array.isArray(first)) {
    return first.map((value, i) =>
      rest.reduce<number>((acc, reply) => op(acc, Number((reply as unknown[])[i])), Number(value)),
    );
  }
  return rest.reduce<number>((acc, reply) => op(acc, Number(reply)), Number(first));
}
