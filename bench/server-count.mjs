// @ts-check
/**
 * A cross-check of every run against the servers: how many GET, SET, MGET, EXEC, script and
 * SPUBLISH commands the primaries executed (INFO commandstats), before and after. A client can only claim
 * operations the servers actually served; a run that claims more (a cache, a bug that
 * resolves without asking) is flagged instead of being believed.
 *
 * Only primaries are counted: every client here reads from primaries (their default), and
 * replicas also count the SETs replicated to them.
 */

/** @typedef {{ get: number, set: number, mget: number, exec: number, evalsha: number, eval: number, spublish: number }} CommandCounts */

/**
 * The calls of GET, SET, MGET, EXEC, EVALSHA, EVAL and SPUBLISH in an `INFO commandstats` reply.
 *
 * @param {string} info
 * @returns {CommandCounts}
 */
export function parseCommandStats(info) {
  /** @type {CommandCounts} */
  const counts = { get: 0, set: 0, mget: 0, exec: 0, evalsha: 0, eval: 0, spublish: 0 };
  for (const match of info.matchAll(/^cmdstat_(get|set|mget|exec|evalsha|eval|spublish):calls=(\d+)/gm)) {
    const name = /** @type {keyof CommandCounts} */ (match[1]);
    counts[name] += Number(match[2]);
  }
  return counts;
}

/**
 * Reads the counts summed over the cluster's primaries.
 *
 * @param {{ nodes(role: "primary"): Array<{ call(name: string, ...args: string[]): Promise<unknown> }> }} admin
 *   a connected rediscluster client
 * @returns {Promise<CommandCounts>}
 */
export async function readPrimaryCounts(admin) {
  const replies = await Promise.all(admin.nodes("primary").map((node) => node.call("INFO", "commandstats")));
  /** @type {CommandCounts} */
  const total = { get: 0, set: 0, mget: 0, exec: 0, evalsha: 0, eval: 0, spublish: 0 };
  for (const reply of replies) {
    const counts = parseCommandStats(String(reply));
    for (const name of /** @type {Array<keyof CommandCounts>} */ (Object.keys(total)))
      total[name] += counts[name];
  }
  return total;
}

/**
 * What the servers executed between two readings.
 *
 * @param {CommandCounts} before
 * @param {CommandCounts} after
 * @returns {CommandCounts}
 */
export function countsBetween(before, after) {
  return {
    get: after.get - before.get,
    set: after.set - before.set,
    mget: after.mget - before.mget,
    exec: after.exec - before.exec,
    evalsha: after.evalsha - before.evalsha,
    eval: after.eval - before.eval,
    spublish: after.spublish - before.spublish,
  };
}
