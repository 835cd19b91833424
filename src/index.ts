/**
 * rediscluster — a Redis Cluster client for Node.js.
 *
 * @example
 * import { RedisCluster } from "rediscluster";
 * const cluster = new RedisCluster({ nodes: ["127.0.0.1:7001"] });
 * await cluster.set("name", "v");
 */

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
  SubscriptionOverflowError,
  TimeoutError,
} from "./errors.js";
export type { NatMap, RedisClusterOptions, SeedNode } from "./options.js";
export type { OverflowPolicy } from "./pubsub/inbox.js";
export type { PubSubStats } from "./pubsub/pubsub.js";
export type { InvalidationHandler, UnroutedPush } from "./pubsub/push.js";
export type { DownReason } from "./pubsub/subscriber.js";
export type {
  MessageListener,
  PatternSubscribeOptions,
  PubSubMessage,
  SubscribeOptions,
  SubscriptionDownEvent,
  SubscriptionEvents,
  SubscriptionMovedEvent,
  SubscriptionUpEvent,
} from "./pubsub/subscription.js";
export { Subscription } from "./pubsub/subscription.js";
export type { RedisArg, RespValue } from "./resp/types.js";
