/**
 * Keyless commands that concern the whole cluster, following the server's own tips
 * (`COMMAND INFO` request_policy / response_policy):
 *
 * | request policy | sent to                       | e.g.                               |
 * | -------------- | ----------------------------- | ---------------------------------- |
 * | `all_shards`   | every primary                 | DBSIZE, KEYS, FLUSHALL, FUNCTION LOAD |
 * | `all_nodes`    | every node, replicas included | SCRIPT LOAD, CONFIG SET            |
 * | none/`special` | one node                      | PING, INFO, TIME                   |
 *
 * and the replies merged by the response policy: `agg_sum` adds (DBSIZE), `all_succeeded`
 * returns one reply if none failed, `one_succeeded` the first success, `agg_logical_*`
 * and `agg_min/max` combine element-wise; with no policy, arrays are concatenated (KEYS).
 */
import type { RequestPolicy, ResponsePolicy } from "../command/table.js";
import { RedisClusterError } from "../errors.js";
import type { ClusterNode, Topology } from "./topology.js";

/** The nodes a keyless command goes to, or undefined for "any one node". */
export function fanOutTargets(
  policy: RequestPolicy | undefined,
  topology: Topology,
): ClusterNode[] | undefined {
  if (policy === "all_shards") return topology.primaries;
  if (policy === "all_nodes") return [...topology.nodes.values()];
  return undefined;
}

/**
 * Merges per-node outcomes (a reply, or an Error at that index). Returns the merged reply,
 * or throws the error the caller should see.
 */
export function mergeFanOut(policy: ResponsePolicy | undefined, outcomes: unknown[]): unknown {
  const errors = outcomes.filter((outcome): outcome is Error => outcome instanceof Error);
  const replies = outcomes.filter((outcome) => !(outcome instanceof Error));
  if (policy === "one_succeeded") {
    if (replies.length > 0) return replies[0];
    throw errors[0];
  }
  // Every other policy needs every node's answer: one failure is the caller's failure.
  if (errors.length > 0) throw errors.find((error) => error instanceof RedisClusterError) ?? errors[0];
  switch (policy) {
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
    default:
      // No policy (or "special"): arrays are parts of one answer (KEYS); else any one reply.
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
