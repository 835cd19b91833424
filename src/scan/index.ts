/**
 * Cluster-wide SCAN (`cluster.scanIterator()`) and key scans (`hscanIterator`, ...).
 *
 * A SCAN cursor is a position in the hash table of the one redis-server process that made
 * it. Every process seeds its hash function at random, so the same keys sit in different
 * buckets on a primary and its replica: a cursor means nothing to another node, not even to
 * a replica with the same data. Hence:
 *
 * ```
 *   pass 1: every shard, one after the other, each walked on one node from cursor 0
 *           (its primary, or a replica by readFrom) until that node answers cursor 0
 *     node lost mid-walk (failover, restart) ─► the walk starts over at 0 on the node
 *                                               that now serves the shard's slots
 *   after the pass: keys that migrated during it (MIGRATE: RESTORE-ASKING on the target,
 *     read from each primary's INFO commandstats) may have left a node before its walk
 *     reached them and reached a node after its walk passed them
 *   pass 2…: every primary that received keys since its walk began, or that joined, is
 *           walked again from 0 — until a pass where no key arrived anywhere
 * ```
 *
 * The guarantee: a key present for the whole scan is yielded at least once; keys may be
 * yielded more than once (a walk started over, a node walked again). Keys added or deleted
 * during the scan may or may not be yielded, as with SCAN on one node. Detecting moved keys
 * needs `INFO` on the primaries; a user the ACL denies it scans each node once, and keys
 * moved by a reshard during the scan may then be missed.
 *
 * With `readFrom` replicas, each shard is walked on one of its healthy replicas (chosen
 * once per walk): the primaries are spared, and keys written just before reach the scan
 * after the replication delay.
 *
 * Key scans (HSCAN, SSCAN, ZSCAN) go to the key's primary through the executor, which
 * resets their cursor to 0 whenever it resends one (a redirection: the key moved; a
 * failure: another process may answer), so that a walk never continues a cursor elsewhere.
 */
import type { ReadFrom } from "../cluster/router.js";
import type { ClusterNode, Shard, Topology } from "../cluster/topology.js";
import type { Command } from "../command/command.js";
import type { RedisKey } from "../command/types.js";
import { ArgumentError, ClusterDownError, ConnectionError, ReplyError, TimeoutError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";

/** Options of `scanIterator()`. */
export interface ScanOptions {
  /** A glob pattern, as SCAN's MATCH takes it (`user:*`). With `keyPrefix`, relative to it. */
  match?: string;
  /** SCAN's COUNT hint: keys looked at per step and node (default: the server's, 10). */
  count?: number;
  /** Only keys of this type (`string`, `hash`, `zset`, ...), as SCAN's TYPE. */
  type?: string;
}

/** Options of `hscanIterator()`, `sscanIterator()`, `zscanIterator()`. */
export interface KeyScanOptions {
  /** A glob pattern for fields / members. */
  match?: string;
  /** COUNT hint per step. */
  count?: number;
}

/** Options of `zscanIterator()` (the same as for HSCAN and SSCAN). */
export type HashScanOptions = KeyScanOptions;

/** What the scans need from the client. */
export interface ScanHost {
  closedError(): Error | undefined;
  topology(): Topology | undefined;
  refreshTopology(): Promise<Topology>;
  /** One command to one node; `prepare` marks it before it is sent (its cursor). */
  sendToNode(
    address: string,
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    prepare?: (command: Command) => void,
  ): Promise<unknown>;
  /** One command routed by its key, marked by `prepare`. */
  send(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    prepare: (command: Command) => void,
  ): Promise<unknown>;
  readonly keyPrefix: string | undefined;
  readonly readFrom: ReadFrom;
  /** A node of `shard` to read from by `readFrom`. */
  pickForRead(shard: Shard): ClusterNode;
}

/** Walks that may start over on one shard (its node lost again and again) before giving up. */
const MAX_RESTARTS_PER_SHARD = 8;
/** Passes after which keys still moving end the scan with an error rather than go on for ever. */
const MAX_PASSES = 16;

/**
 * Every key of the cluster, as one array per SCAN reply. See the file comment for what is
 * guaranteed through failovers and resharding.
 */
export async function* scanKeys(
  host: ScanHost,
  options: ScanOptions,
  buffers: boolean,
): AsyncIterableIterator<Array<string | Buffer>> {
  const scanArgs = scanArguments(options, host.keyPrefix);
  const strip = prefixStripper(host.keyPrefix, buffers);
  const closed = host.closedError();
  if (closed) throw closed;
  let topology = host.topology() ?? (await host.refreshTopology());
  // Per primary, its migration arrivals as of the moment from which a missed key would
  // matter: the start of its last walk, or the end of the last pass for one not walked since.
  const baseline = new Map<string, number | undefined>();
  let toWalk: Shard[] = [...topology.shards];
  for (let pass = 1; toWalk.length > 0; pass++) {
    if (pass > MAX_PASSES) {
      throw new ClusterDownError(
        `SCAN: keys kept moving between nodes through ${MAX_PASSES} passes (a reshard under way); ` +
          "scan again once it is done",
      );
    }
    for (const shard of toWalk) {
      const anchorSlot = shard.ranges[0]?.[0];
      let current: Shard | undefined = shard;
      for (let restarts = 0; current !== undefined; ) {
        const primary = current.primary.address;
        baseline.set(primary, await arrivalsOf(host, primary));
        try {
          for await (const keys of walkNode(host, host.pickForRead(current).address, scanArgs, buffers)) {
            if (keys.length > 0) yield strip(keys);
          }
          current = undefined;
        } catch (error) {
          if (!isNodeLost(error) || ++restarts > MAX_RESTARTS_PER_SHARD || anchorSlot === undefined)
            throw error;
          // The node is gone (or going): the shard's slots are served by another node now
          // (its promoted replica), whose table is another: start over there.
          topology = await host.refreshTopology();
          current = topology.shardOf(anchorSlot);
        }
      }
    }
    // Walk again every primary that received keys since its baseline, and any primary
    // never seen (joined, or promoted after its shard's walk): it may hold keys that left a
    // node before that node's walk reached them.
    topology = await host.refreshTopology();
    toWalk = [];
    for (const shard of topology.shards) {
      if (shard.ranges.length === 0) continue;
      const primary = shard.primary.address;
      const now = await arrivalsOf(host, primary);
      const before = baseline.get(primary);
      if (!baseline.has(primary) || (before !== undefined && now !== undefined && now !== before)) {
        toWalk.push(shard);
      }
      baseline.set(primary, now);
    }
  }
}

/** One node's walk, from cursor 0 until it answers 0. */
async function* walkNode(
  host: ScanHost,
  address: string,
  scanArgs: readonly RedisArg[],
  buffers: boolean,
): AsyncIterableIterator<Array<string | Buffer>> {
  let cursor: RedisArg = "0";
  do {
    const reply = await host.sendToNode(address, "SCAN", [cursor, ...scanArgs], buffers, (command) => {
      command.cursorIndex = 0;
    });
    const [next, keys] = parseCursorReply(reply, "SCAN");
    cursor = next;
    yield keys as Array<string | Buffer>;
  } while (!isZeroCursor(cursor));
}

/**
 * The members (SSCAN) or field/value, member/score pairs (HSCAN, ZSCAN) of one key.
 */
export async function* scanKey(
  host: ScanHost,
  name: "HSCAN" | "SSCAN" | "ZSCAN",
  key: RedisKey,
  options: KeyScanOptions,
): AsyncIterableIterator<string | [string, string]> {
  const tail = keyScanArguments(options);
  const closed = host.closedError();
  if (closed) throw closed;
  let cursor: RedisArg = "0";
  do {
    const reply = await host.send(name, [key, cursor, ...tail], false, (command) => {
      command.cursorIndex = 1;
      // One walk, one process: never a replica chosen at random for each step.
      command.readFrom = "primary";
    });
    const [next, items] = parseCursorReply(reply, name);
    cursor = next;
    if (name === "SSCAN") {
      yield* items as string[];
    } else {
      for (let i = 0; i + 1 < items.length; i += 2) yield [items[i] as string, items[i + 1] as string];
    }
  } while (!isZeroCursor(cursor));
}

function scanArguments(options: ScanOptions, keyPrefix: string | undefined): RedisArg[] {
  if (options === null || typeof options !== "object") {
    throw new ArgumentError("scanIterator() takes { match?, count?, type? }", "SCAN");
  }
  const { match, count, type } = options;
  if (match !== undefined && typeof match !== "string")
    throw new ArgumentError("match must be a string", "SCAN");
  if (type !== undefined && typeof type !== "string")
    throw new ArgumentError("type must be a string", "SCAN");
  checkCount(count, "SCAN");
  const args: RedisArg[] = [];
  // With a key prefix, only this prefix's keys: the prefix matched literally, then the pattern.
  const pattern = keyPrefix === undefined ? match : escapeGlob(keyPrefix) + (match ?? "*");
  if (pattern !== undefined) args.push("MATCH", pattern);
  if (count !== undefined) args.push("COUNT", count);
  if (type !== undefined) args.push("TYPE", type);
  return args;
}

function keyScanArguments(options: KeyScanOptions): RedisArg[] {
  if (options === null || typeof options !== "object") {
    throw new ArgumentError("key scans take { match?, count? }");
  }
  const { match, count } = options;
  if (match !== undefined && typeof match !== "string") throw new ArgumentError("match must be a string");
  checkCount(count, "HSCAN");
  const args: RedisArg[] = [];
  if (match !== undefined) args.push("MATCH", match);
  if (count !== undefined) args.push("COUNT", count);
  return args;
}

function checkCount(count: unknown, command: string): void {
  if (count !== undefined && (!Number.isSafeInteger(count) || (count as number) < 1)) {
    throw new ArgumentError("count must be a positive integer", command);
  }
}

/** A prefix matched literally by a glob pattern: `*?[]\` escaped with a backslash. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Removes the key prefix from scanned keys (they come back as the user names them). */
function prefixStripper(
  keyPrefix: string | undefined,
  buffers: boolean,
): (keys: Array<string | Buffer>) => Array<string | Buffer> {
  if (keyPrefix === undefined || keyPrefix === "") return (keys) => keys;
  const length = buffers ? Buffer.byteLength(keyPrefix) : keyPrefix.length;
  return (keys) => keys.map((key) => (typeof key === "string" ? key.slice(length) : key.subarray(length)));
}

function parseCursorReply(reply: unknown, name: string): [RedisArg, unknown[]] {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new ReplyError(`ERR ${name} answered something else than [cursor, items]`, name);
  }
  return [reply[0] as RedisArg, reply[1] as unknown[]];
}

function isZeroCursor(cursor: RedisArg): boolean {
  return Buffer.isBuffer(cursor) ? cursor.length === 1 && cursor[0] === 0x30 : String(cursor) === "0";
}

/** A failure that means the node itself is gone or unreachable (the walk cannot go on there). */
function isNodeLost(error: unknown): boolean {
  return (
    error instanceof ConnectionError || error instanceof TimeoutError || error instanceof ClusterDownError
  );
}

/**
 * Keys a primary has received by migration (RESTORE-ASKING, which MIGRATE sends per key,
 * and RESTORE), as its `INFO commandstats` counts them; undefined when it cannot tell (the
 * ACL denies INFO, the node does not answer).
 */
async function arrivalsOf(host: ScanHost, address: string): Promise<number | undefined> {
  try {
    const info = await host.sendToNode(address, "INFO", ["commandstats"], false);
    const text = String(info);
    let total = 0;
    for (const name of ["restore-asking", "restore"]) {
      const match = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, "m").exec(text);
      if (match) total += Number(match[1]);
    }
    return total;
  } catch {
    return undefined;
  }
}
