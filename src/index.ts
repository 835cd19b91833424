/**
 * rediscluster — a Redis Cluster client for Node.js.
 *
 * @example
 * import { RedisCluster } from "rediscluster";
 * const cluster = new RedisCluster({ nodes: ["127.0.0.1:7001"] });
 * await cluster.set("name", "v");
 */

export type { Pipeline } from "./batch/pipeline.js";
export type { Transaction } from "./batch/transaction.js";
export type { OptimisticOptions, WatchHandle, WatchOptions } from "./batch/watch.js";
export type { CallOptions, ClusterView } from "./call-options.js";
export type { ClusterStats, NodeHandle, RedisClusterEvents } from "./client.js";
export { RedisCluster } from "./client.js";
export type { ReadFrom } from "./cluster/router.js";
export type { ClusterNode, NodeRole, Shard, Topology, TopologyChange } from "./cluster/topology.js";
export type { CommandMethods, PipelineMethods } from "./command/methods.generated.js";
export { keySlot } from "./command/slot.js";
export type { RedisKey } from "./command/types.js";
export { Connection } from "./connection/connection.js";
export type { ConnectionOptions } from "./connection/types.js";
export {
  AbortError,
  ArgumentError,
  ClosedError,
  ClusterDownError,
  ConfigError,
  ConnectionError,
  CrossSlotError,
  MaxRedirectionsError,
  PartialFailureError,
  ProtocolError,
  RedisClusterError,
  ReplyError,
  TimeoutError,
  WatchConflictError,
} from "./errors.js";
export type { NatMap, RedisClusterOptions, SeedNode } from "./options.js";
export type { RedisArg, RespValue } from "./resp/types.js";
export type { HashScanOptions, KeyScanOptions, ScanOptions } from "./scan/index.js";
export type { Script, ScriptDefinition } from "./scripting.js";
