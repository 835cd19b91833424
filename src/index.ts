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
export type { CacheStats } from "./cache/cache.js";
export type { ClientCacheOptions } from "./cache/options.js";
export type { CallOptions, ClusterView } from "./call-options.js";
export type {
  ClusterStats,
  NodeErrorEvent,
  NodeHandle,
  RedirectEvent,
  RedisClusterEvents,
} from "./client.js";
export { RedisCluster } from "./client.js";
export type { ViewRejection } from "./cluster/discovery.js";
export type { MaintenanceEvent, MaintenanceSlotMove } from "./cluster/maintenance.js";
export type { ReadFrom } from "./cluster/router.js";
export type {
  ClusterNode,
  NodeHealth,
  NodeRole,
  RoleChange,
  Shard,
  Topology,
  TopologyChange,
} from "./cluster/topology.js";
export type { CommandMethods, PipelineMethods } from "./command/methods.generated.js";
export { keySlot } from "./command/slot.js";
export type {
  ByProtocol,
  RedisKey,
  RedisNumber,
  RepliesByProtocol,
  RespVersion,
  Token,
} from "./command/types.js";
export type { HostPort } from "./connection/address.js";
export type { ConnectTo, ConnectToList } from "./connection/allow-list.js";
export { Connection } from "./connection/connection.js";
export type {
  ConnectionOptions,
  ConnectionState,
  Credentials,
  CredentialsProvider,
  MovingEndpointType,
  Sendable,
} from "./connection/types.js";
export {
  AbortError,
  ArgumentError,
  AuthError,
  ClosedError,
  ClusterDownError,
  ConfigError,
  ConnectionError,
  CrossSlotError,
  MaxRedirectionsError,
  PartialFailureError,
  ProtocolError,
  RedisClusterError,
  type RedisClusterErrorCode,
  ReplyError,
  type ReplyErrorCode,
  SubscriptionOverflowError,
  TimeoutError,
  WatchConflictError,
} from "./errors.js";
export {
  type BatchTraceContext,
  CHANNELS,
  type CommandTraceContext,
  type ConnectionClosedMessage,
  type ConnectionErrorMessage,
  type ConnectionReadyMessage,
  type ConnectTraceContext,
  type TopologyMessage,
} from "./observe/channels.js";
export type {
  MaintenanceNotificationOptions,
  NatMap,
  RedisClusterCommonOptions,
  RedisClusterOptions,
  RestySeed,
  SeedNode,
} from "./options.js";
export type { Family as SubscriptionKind } from "./pubsub/frames.js";
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
  SubscriptionOverflowEvent,
  SubscriptionUpEvent,
} from "./pubsub/subscription.js";
export { Subscription } from "./pubsub/subscription.js";
export type { DecoderLimits, RedisArg, RespValue } from "./resp/types.js";
export type { HashScanOptions, KeyScanOptions, ScanOptions } from "./scan/index.js";
export type { Script, ScriptDefinition } from "./scripting.js";
