/**
 * `rediscluster/ioredis`: an ioredis-`Cluster`-shaped client over `RedisCluster`, for the
 * libraries written against ioredis (BullMQ, rate-limiter-flexible, redlock,
 * @socket.io/redis-adapter). See the README's compatibility section for what it covers.
 *
 * @example
 * import { Cluster } from "rediscluster/ioredis";
 * const cluster = new Cluster([{ host: "127.0.0.1", port: 7001 }]);
 * await cluster.set("a", "1");
 */
export type { Callback } from "./args.js";
export type { BatchCommands, ExecEntry, IoredisBatch, QueuedCall } from "./batch.js";
export {
  Cluster,
  type ClusterCommands,
  type ClusterOptions,
  type ClusterStatus,
  type CommandDefinition,
  type IoredisRedisOptions,
  type StartupNode,
} from "./cluster.js";
export type { ClusterNode, NodeCommands } from "./node.js";
