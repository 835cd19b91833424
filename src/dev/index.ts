/**
 * A throwaway local Redis Cluster for development, tests, the demo and the benchmark
 * (`rediscluster/dev`). The CLI `rediscluster dev start|status|stop` is built on it.
 */
export { attachDevCluster, startDevCluster } from "./cluster.js";
export { findDevClusterStateFile } from "./registry.js";
export type {
  DevAclOptions,
  DevAclUser,
  DevAnnounceOptions,
  DevCluster,
  DevClusterOptions,
  DevHost,
  DevNode,
  DevNodeRole,
  DevTlsMaterial,
  DevTlsOptions,
} from "./types.js";
