/**
 * The state file: what another process needs to take over a running dev cluster (ports,
 * PIDs, folders). It lives in the cluster's folder as `state.json`; every change of a PID
 * (restart, add, remove) rewrites it, so whoever stops the cluster kills the right ones.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DevAclUser, DevAnnounceOptions, DevHost } from "./types.js";

/** The name of a dev cluster's state file, in its folder. */
export const STATE_FILE_NAME = "state.json";

/** One node as the state file records it. */
export interface DevNodeState {
  /** The node's client port. */
  port: number;
  /** OS process id, or null while the node is stopped. */
  pid: number | null;
  /** The node's own folder (absolute). */
  dir: string;
  /** Its `cluster-announce-hostname`, if any (kept for restarts). */
  hostname?: string;
}

/** What a dev cluster's state file holds: enough to attach to the cluster, restart its nodes, stop it. */
export interface DevClusterState {
  version: 1;
  /** The cluster's folder (absolute); removed by stop(). */
  dir: string;
  redisServer: string;
  nodeTimeoutMs: number;
  startTimeoutMs: number;
  extraConfig: string[];
  nodes: DevNodeState[];
  /** Where the nodes listen; absent (127.0.0.1) in files of clusters without the option. */
  host?: DevHost;
  /** A TLS cluster; its certificates are in `<dir>/tls/`. */
  tls?: { mutual: boolean };
  /**
   * An ACL cluster: its users, and the password of the dev cluster's admin user (a
   * throwaway, like the cluster; redis.conf holds it too).
   */
  acl?: { users: DevAclUser[]; disableDefault: boolean; adminPassword: string };
  /** Announced addresses; per-node hostnames are in each node's entry. */
  announce?: Omit<DevAnnounceOptions, "hostname"> & { hostnames: boolean };
}

/** Where the state file of the cluster in `dir` is. */
export function stateFileOf(dir: string): string {
  return join(dir, STATE_FILE_NAME);
}

/** Reads and checks a state file; throws a readable Error when it is missing or malformed. */
export function readStateFile(path: string): DevClusterState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read dev cluster state ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!isDevClusterState(parsed)) throw new Error(`${path} is not a dev cluster state file`);
  return parsed;
}

/** Writes the state atomically (temp file + rename): a reader never sees half a file. */
export function writeStateFile(path: string, state: DevClusterState): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state, null, 2) + "\n");
  renameSync(temporary, path);
}

function isDevClusterState(value: unknown): value is DevClusterState {
  if (typeof value !== "object" || value === null) return false;
  const state = value as Partial<DevClusterState>;
  return (
    state.version === 1 &&
    typeof state.dir === "string" &&
    typeof state.redisServer === "string" &&
    typeof state.nodeTimeoutMs === "number" &&
    typeof state.startTimeoutMs === "number" &&
    Array.isArray(state.extraConfig) &&
    (state.host === undefined || state.host === "127.0.0.1" || state.host === "::1") &&
    Array.isArray(state.nodes) &&
    state.nodes.every(
      (node) =>
        typeof node === "object" &&
        node !== null &&
        typeof node.port === "number" &&
        (node.pid === null || typeof node.pid === "number") &&
        typeof node.dir === "string",
    )
  );
}
