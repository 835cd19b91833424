/**
 * A throwaway local Redis Cluster: N primaries × R replicas of the redis-server on PATH,
 * on free ports of 127.0.0.1 (or ::1), in a temporary folder; optionally with TLS, ACL users
 * and announced addresses, the shapes of managed and containerised deployments. Built with
 * commands (ADDSLOTSRANGE, MEET, REPLICATE) rather than `redis-cli --cluster create`, so each
 * step can be waited for precisely: start-up is a few polls at 20–30 ms intervals, never a
 * fixed sleep.
 *
 * Everything is addressed by port and PID and recorded in a state file, so another
 * process (the CLI's `stop`, a test worker) can take over the cluster with
 * `attachDevCluster`.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { keySlot } from "../command/slot.js";
import { formatAddress } from "../connection/address.js";
import { ReplyError } from "../errors.js";
import type { RespValue } from "../resp/index.js";
import { type AdminCommand, AdminConnection, type AdminEndpoint, AdminPool } from "./admin.js";
import {
  type ClusterNodesEntry,
  judgeHealth,
  type NodeReport,
  parseClusterNodes,
  parseInfo,
  parseNodeReport,
  REPORT_COMMANDS,
  shiftReportPorts,
} from "./cluster-view.js";
import { guardOnExit, unguard } from "./exit-guard.js";
import { assignSlots, moveSlotKeys, openSlotMigration } from "./migration.js";
import { ALL_PERMISSIONS, NODE_FILES, type NodeConfig, renderNodeConfig } from "./node-config.js";
import { pollUntil } from "./poll.js";
import { BUS_PORT_OFFSET, markNodePortUsed, releaseNodePort, reserveNodePort } from "./ports.js";
import {
  isProcessAlive,
  isProcessStopped,
  isRedisServerProcess,
  signalProcess,
  spawnRedisServer,
  terminateProcesses,
  waitForExit,
} from "./process.js";
import { findRedisServer } from "./redis-server.js";
import { type DevClusterState, readStateFile, stateFileOf, writeStateFile } from "./state.js";
import { clientTlsMaterial, createTlsFiles, issueExtraMaterial, nodeTlsFiles } from "./tls-files.js";
import type { DevAclUser, DevCluster, DevClusterOptions, DevHost, DevNode, DevTlsMaterial } from "./types.js";

const SLOT_COUNT = 16_384;
/** The user the dev cluster's own connections (and replicas, to their primary) log in as. */
const ADMIN_USER = "rediscluster-dev-admin";
/** Timeout of one admin request (a paused node must not hang a caller forever). */
const ADMIN_TIMEOUT_MS = 10_000;
/** Timeout of command(): long enough for the DEBUG SLEEPs that tests use to make a node slow. */
const COMMAND_TIMEOUT_MS = 60_000;
/** Timeout of the status requests of one health poll; a poll that times out is retried. */
const REPORT_TIMEOUT_MS = 2_000;
/** SIGTERM → SIGKILL grace period of stop(). */
const STOP_GRACE_MS = 3_000;
/** Attempts at starting a node when another program takes its port under us. */
const PORT_ATTEMPTS = 5;
/** Least time between two writes that nudge a primary's replication offset. */
const NUDGE_INTERVAL_MS = 200;

/**
 * Starts a local cluster and resolves once it is healthy: every node reports
 * `cluster_state:ok`, all agree on roles and slot owners, and every replica is listed (and
 * online) in CLUSTER SLOTS and CLUSTER SHARDS. A 3 + 3 cluster takes a few seconds.
 *
 * Throws (after cleaning up what it started) when redis-server is missing or older than
 * 7, or when the cluster does not become healthy within `startTimeoutMs`.
 *
 * @example
 * const cluster = await startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
 * try {
 *   const client = new RedisCluster({ seeds: cluster.seeds });
 *   // ...
 * } finally {
 *   await cluster.stop();
 * }
 */
export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const primaries = positiveInteger(options.primaries ?? 3, "primaries", 1);
  const replicasPerPrimary = positiveInteger(options.replicasPerPrimary ?? 1, "replicasPerPrimary", 0);
  const nodeTimeoutMs = positiveInteger(options.nodeTimeoutMs ?? 2_000, "nodeTimeoutMs", 100);
  const startTimeoutMs = positiveInteger(options.startTimeoutMs ?? 30_000, "startTimeoutMs", 1);
  const total = primaries * (1 + replicasPerPrimary);
  const firstPort =
    options.firstPort === undefined ? undefined : positiveInteger(options.firstPort, "firstPort", 1);
  if (firstPort !== undefined && firstPort + total - 1 + BUS_PORT_OFFSET > 65_535) {
    throw new RangeError(
      `firstPort leaves no room for ${total} nodes and their bus ports (port + ${BUS_PORT_OFFSET})`,
    );
  }
  if (primaries > SLOT_COUNT) throw new RangeError(`primaries must be at most ${SLOT_COUNT}`);
  if (options.announce?.portOffset && replicasPerPrimary > 0) {
    // Redis replicates from the primary's announced address, which nothing reaches here.
    throw new RangeError(
      "announce.portOffset needs replicasPerPrimary: 0 (replicas connect to their primary's " +
        "announced port, which is unreachable on purpose); announce unresolvable hostnames instead",
    );
  }
  const deployment = deploymentState(options);
  const server = await findRedisServer(options.redisServer);
  let dir: string;
  if (options.dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), "rediscluster-dev-"));
  } else {
    dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
  }
  const state: DevClusterState = {
    version: 1,
    dir,
    redisServer: server.path,
    nodeTimeoutMs,
    startTimeoutMs,
    extraConfig: [...(options.extraConfig ?? [])],
    nodes: [],
    ...deployment,
  };
  // Before the cluster object, which reads the client certificate for its own connections.
  if (state.tls) createTlsFiles(dir);
  const detached = options.detached ?? false;
  const hostname = options.announce?.hostname;
  const cluster = new LocalDevCluster(state, {
    spawnDetached: detached,
    guardOnExit: !detached,
    hostnameOf: typeof hostname === "string" ? () => hostname : hostname,
  });
  try {
    await cluster.create(primaries, replicasPerPrimary, firstPort);
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
  return cluster;
}

/**
 * A handle to a cluster started elsewhere (by the CLI, or by the test global setup), read
 * from its state file. Everything works on it as on the handle that started the cluster,
 * `stop()` included. It does not kill the cluster when this process exits.
 *
 * @example
 * const cluster = await attachDevCluster(stateFile);
 * await cluster.killNode(cluster.nodes[0].port);
 */
export async function attachDevCluster(stateFile: string): Promise<DevCluster> {
  const state = readStateFile(stateFile);
  for (const node of state.nodes) markNodePortUsed(node.port);
  const cluster = new LocalDevCluster(state, {
    spawnDetached: true,
    guardOnExit: false,
    hostnameOf: undefined,
  });
  // A cluster whose processes are all gone can still be stopped (which cleans its folder).
  if (cluster.livePorts().length > 0) await cluster.refresh();
  return cluster;
}

/** The deployment options, checked, as the state file records them. */
function deploymentState(options: DevClusterOptions): Partial<DevClusterState> {
  const state: Partial<DevClusterState> = {};
  const host = options.host ?? "127.0.0.1";
  if (host !== "127.0.0.1" && host !== "::1") throw new RangeError('host must be "127.0.0.1" or "::1"');
  state.host = host;
  if (options.tls) state.tls = { mutual: options.tls !== true && options.tls.mutual === true };
  if (options.acl) {
    const users = options.acl.users ?? [];
    for (const user of users) {
      if (!/^[^\s"']+$/.test(user.name) || user.name === ADMIN_USER)
        throw new RangeError(
          `acl user name "${user.name}" is not allowed (no spaces or quotes; not ${ADMIN_USER})`,
        );
    }
    state.acl = {
      users: users.map((user) => ({ ...user })),
      disableDefault: options.acl.disableDefault ?? true,
      adminPassword: randomBytes(18).toString("base64url"),
    };
  }
  const announce = options.announce;
  if (announce) {
    const offset = announce.portOffset;
    if (offset !== undefined && (!Number.isInteger(offset) || offset < 0 || offset > 42_768))
      throw new RangeError("announce.portOffset must be an integer from 0 to 42768 (ports end at 65535)");
    const preferred = announce.preferredEndpoint;
    if (preferred !== undefined && !["ip", "hostname", "unknown-endpoint"].includes(preferred))
      throw new RangeError('announce.preferredEndpoint must be "ip", "hostname" or "unknown-endpoint"');
    state.announce = {
      ip: announce.ip,
      portOffset: offset,
      preferredEndpoint: preferred,
      hostnames: announce.hostname !== undefined,
    };
  }
  return state;
}

class LocalDevCluster implements DevCluster {
  readonly dir: string;
  readonly stateFile: string;
  readonly host: DevHost;
  readonly #state: Omit<DevClusterState, "nodes">;
  readonly #spawnDetached: boolean;
  readonly #guarded: boolean;
  readonly #admin: AdminPool;
  /**
   * command()'s own connections: a health poll that times out drops its connection, and
   * must not take a caller's DEBUG SLEEP down with it, nor slip a command between a
   * caller's ASKING and the command it is meant for.
   */
  readonly #callerConnections: AdminPool;
  /** Announced port − real port (announce.portOffset). */
  readonly #portOffset: number;
  /** The hostname a new node announces; undefined on attached handles (not serialisable). */
  readonly #hostnameOf: ((port: number) => string) | undefined;
  readonly #hostnames = new Map<number, string>();
  #nodes: DevNode[];
  readonly #nodeDirs = new Map<number, string>();
  /** PIDs spawned whose node is not in #nodes yet (still starting): the exit guard kills them too. */
  readonly #starting = new Set<number>();
  readonly #keyBySlot = new Map<number, string>();
  readonly #nudgedAt = new Map<number, number>();
  /** Ports paused by this handle (other processes' pauses are seen in /proc, on Linux). */
  readonly #paused = new Set<number>();
  #stopping: Promise<void> | undefined;

  constructor(
    state: DevClusterState,
    options: {
      spawnDetached: boolean;
      guardOnExit: boolean;
      hostnameOf: ((port: number) => string) | undefined;
    },
  ) {
    const { nodes, ...settings } = state;
    this.#state = settings;
    this.dir = state.dir;
    this.host = state.host ?? "127.0.0.1";
    this.stateFile = stateFileOf(state.dir);
    this.#spawnDetached = options.spawnDetached;
    this.#guarded = options.guardOnExit;
    this.#portOffset = state.announce?.portOffset ?? 0;
    this.#hostnameOf = options.hostnameOf;
    const endpoint: AdminEndpoint = {
      host: this.host,
      tls: state.tls ? clientTlsMaterial(state.dir) : undefined,
      auth: state.acl ? { username: ADMIN_USER, password: state.acl.adminPassword } : undefined,
    };
    this.#admin = new AdminPool(ADMIN_TIMEOUT_MS, endpoint);
    this.#callerConnections = new AdminPool(COMMAND_TIMEOUT_MS, endpoint);
    this.#nodes = nodes.map((node) => {
      this.#nodeDirs.set(node.port, node.dir);
      if (node.hostname !== undefined) this.#hostnames.set(node.port, node.hostname);
      return this.#newNode(node.port, node.pid ?? undefined);
    });
    if (this.#guarded) {
      guardOnExit({
        stateFile: this.stateFile,
        dir: this.dir,
        redisServer: settings.redisServer,
        pids: () => [...this.#pids(), ...this.#starting],
      });
    }
  }

  get seeds(): string[] {
    const primaries = this.#nodes.filter((node) => node.role === "primary");
    const replicas = this.#nodes.filter((node) => node.role === "replica");
    return [...primaries, ...replicas].map((node) => node.address);
  }

  get tls(): DevTlsMaterial | undefined {
    return this.#state.tls ? clientTlsMaterial(this.dir) : undefined;
  }

  issueCertificate(options: { expired?: boolean; otherCa?: boolean } = {}): DevTlsMaterial {
    if (!this.#state.tls) throw new Error("issueCertificate() needs a cluster started with tls");
    return issueExtraMaterial(this.dir, options);
  }

  get nodes(): DevNode[] {
    return this.#nodes.map((node) => ({ ...node, slots: node.slots.map(([start, end]) => [start, end]) }));
  }

  /**
   * Ports of the nodes that run and are not paused: the ones that can answer. A paused
   * node is down as far as health goes (its slots are not served), like a killed one.
   */
  livePorts(): number[] {
    return this.#nodes
      .filter(
        (node) =>
          node.pid !== undefined &&
          isProcessAlive(node.pid) &&
          !this.#paused.has(node.port) &&
          !isProcessStopped(node.pid),
      )
      .map((node) => node.port);
  }

  /** Builds the cluster: nodes, config epochs, slots, MEET, REPLICATE, then waits for health. */
  async create(primaries: number, replicasPerPrimary: number, firstPort?: number): Promise<void> {
    const deadlineAt = Date.now() + this.#state.startTimeoutMs;
    const total = primaries * (1 + replicasPerPrimary);
    const launched = await Promise.all(
      Array.from({ length: total }, (_, index) =>
        this.#launchNewNode(
          this.#newNodeDir(index + 1),
          firstPort === undefined ? undefined : firstPort + index,
        ),
      ),
    );
    // #launchNewNode appends in the order the nodes came up; keep the planned order.
    this.#nodes = launched;
    this.#saveState();
    const ports = launched.map((node) => node.port);
    const ids = await Promise.all(ports.map((port) => this.#myId(port)));
    // Distinct config epochs up front, as redis-cli does: no epoch collisions to resolve
    // later, so the first failover does not wait for them.
    await Promise.all(
      ports.map((port, index) => {
        const commands: AdminCommand[] = [["CLUSTER", "SET-CONFIG-EPOCH", index + 1]];
        if (index < primaries) {
          const [first, last] = slotShare(index, primaries);
          commands.push(["CLUSTER", "ADDSLOTSRANGE", first, last]);
        }
        return this.#expectOk(port, commands);
      }),
    );
    // One node meets all, and gossip introduces the others to each other; a replica also
    // meets its primary itself, so that it can REPLICATE without waiting for that gossip.
    await this.#expectOk(
      ports[0]!,
      ports.slice(1).map((port) => ["CLUSTER", "MEET", this.host, port]),
    );
    await Promise.all(
      ports.slice(primaries).map((port, index) => {
        const primaryPort = ports[Math.floor(index / replicasPerPrimary)]!;
        return primaryPort === ports[0]
          ? undefined
          : this.#expectOk(port, [["CLUSTER", "MEET", this.host, primaryPort]]);
      }),
    );
    await Promise.all(
      ports.slice(primaries).map((port, index) => {
        const primaryId = ids[Math.floor(index / replicasPerPrimary)]!;
        return this.#replicate(port, primaryId, deadlineAt);
      }),
    );
    await this.waitForHealthy(Math.max(1, deadlineAt - Date.now()));
    await this.refresh();
  }

  async refresh(): Promise<DevNode[]> {
    let lastError: unknown;
    for (const port of this.livePorts()) {
      try {
        this.#applyView(await this.#clusterNodes(port));
        return this.nodes;
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no node of the dev cluster in ${this.dir} answered CLUSTER NODES`, { cause: lastError });
  }

  async probe(port: number, args: Array<string | number>, timeoutMs: number): Promise<unknown> {
    const connection = await AdminConnection.open(port, this.#admin.endpoint, timeoutMs, timeoutMs);
    try {
      return await connection.call(args);
    } finally {
      connection.close();
    }
  }

  async command(port: number, ...args: Array<string | number | Buffer>): Promise<unknown> {
    if (args.length === 0) throw new TypeError("command() needs a command name");
    return this.#callerConnections.call(port, args);
  }

  async waitForHealthy(timeoutMs = this.#state.startTimeoutMs): Promise<void> {
    await pollUntil(
      "the dev cluster to become healthy",
      timeoutMs,
      async () => {
        const live = this.livePorts();
        const reports: NodeReport[] = [];
        for (const result of await Promise.allSettled(live.map((port) => this.#report(port)))) {
          if (result.status === "rejected") return (result.reason as Error).message;
          reports.push(result.value);
        }
        const verdict = judgeHealth(reports, live);
        if (verdict.primariesToNudge.length > 0) await this.#nudge(verdict.primariesToNudge, reports);
        return verdict.problem;
      },
      30,
    );
  }

  logFile(port: number): string {
    this.#node(port);
    return join(this.#nodeDirs.get(port)!, NODE_FILES.log);
  }

  async killNode(port: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (signal === "SIGSTOP" || signal === "SIGCONT")
      throw new TypeError("use pauseNode()/resumeNode() to pause a node");
    const node = this.#node(port);
    const pid = this.#runningPid(node);
    signalProcess(pid, signal);
    // A paused process acts on no signal but SIGKILL until it runs again.
    if (signal !== "SIGKILL") signalProcess(pid, "SIGCONT");
    if (!(await waitForExit(pid, 10_000)))
      throw new Error(`node ${port} (pid ${pid}) did not exit after ${signal}`);
    node.pid = undefined;
    this.#paused.delete(port);
    this.#admin.drop(port);
    this.#callerConnections.drop(port);
    this.#saveState();
  }

  async restartNode(port: number): Promise<void> {
    const node = this.#node(port);
    if (node.pid !== undefined && isProcessAlive(node.pid)) throw new Error(`node ${port} is still running`);
    const dir = this.#nodeDirs.get(port)!;
    const { pid } = await this.#launch(dir, port);
    node.pid = pid;
    this.#starting.delete(pid);
    this.#saveState();
    await this.#waitForMember(port, this.#state.startTimeoutMs);
  }

  pauseNode(port: number): void {
    signalProcess(this.#runningPid(this.#node(port)), "SIGSTOP");
    this.#paused.add(port);
  }

  resumeNode(port: number): void {
    signalProcess(this.#runningPid(this.#node(port)), "SIGCONT");
    this.#paused.delete(port);
  }

  async failover(replicaPort: number, mode?: "FORCE" | "TAKEOVER"): Promise<void> {
    const deadlineAt = Date.now() + this.#state.startTimeoutMs;
    const id = await this.#myId(replicaPort);
    await this.#admin.call(replicaPort, mode ? ["CLUSTER", "FAILOVER", mode] : ["CLUSTER", "FAILOVER"]);
    await pollUntil(
      `${formatAddress(this.host, replicaPort)} to be primary for every node`,
      deadlineAt - Date.now(),
      async () => {
        for (const port of this.livePorts()) {
          const entries = await this.#clusterNodes(port).catch(() => undefined);
          const entry = entries?.find((candidate) => candidate.id === id);
          if (entry?.role !== "primary") return `${port} does not see it as primary yet`;
        }
        return undefined;
      },
    );
    await this.waitForHealthy(Math.max(1, deadlineAt - Date.now()));
    await this.refresh();
  }

  async migrateSlots(fromPort: number, toPort: number, slots: readonly number[]): Promise<void> {
    if (slots.length === 0) return;
    const { source, target, otherPrimaries } = await this.#migrationEnds(fromPort, toPort, slots);
    await openSlotMigration(this.#admin, source, target, slots);
    await moveSlotKeys(this.#admin, fromPort, toPort, slots);
    await assignSlots(this.#admin, slots, target, fromPort, otherPrimaries);
    await this.waitForHealthy();
    await this.refresh();
  }

  async beginSlotMigration(
    fromPort: number,
    toPort: number,
    slot: number,
    keysToMove?: number,
  ): Promise<void> {
    const { source, target } = await this.#migrationEnds(fromPort, toPort, [slot]);
    await openSlotMigration(this.#admin, source, target, [slot]);
    const count =
      keysToMove ??
      Math.ceil(Number(await this.#admin.call(fromPort, ["CLUSTER", "COUNTKEYSINSLOT", slot])) / 2);
    if (count > 0) await moveSlotKeys(this.#admin, fromPort, toPort, [slot], count);
  }

  async finishMigration(fromPort: number, toPort: number, slot: number): Promise<void> {
    const target = { port: toPort, id: await this.#myId(toPort) };
    await this.refresh();
    const otherPrimaries = this.#livePrimaryPorts().filter((port) => port !== fromPort && port !== toPort);
    await moveSlotKeys(this.#admin, fromPort, toPort, [slot]);
    await assignSlots(this.#admin, [slot], target, fromPort, otherPrimaries);
    await this.waitForHealthy();
    await this.refresh();
  }

  async addNode(options: { replicaOf?: number } = {}): Promise<DevNode> {
    const deadlineAt = Date.now() + this.#state.startTimeoutMs;
    const primaryId = options.replicaOf === undefined ? undefined : await this.#myId(options.replicaOf);
    const introducer = this.livePorts()[0];
    if (introducer === undefined)
      throw new Error("no node of the cluster is running to introduce the new one");
    const dir = this.#newNodeDir(this.#nextNodeNumber());
    const { port } = await this.#launchNewNode(dir);
    const node = this.#node(port);
    node.id = await this.#myId(port);
    await this.#admin.call(introducer, ["CLUSTER", "MEET", this.host, port]);
    if (primaryId !== undefined) await this.#replicate(port, primaryId, deadlineAt);
    await this.waitForHealthy(Math.max(1, deadlineAt - Date.now()));
    await this.refresh();
    return this.nodes.find((candidate) => candidate.port === port)!;
  }

  async removeNode(port: number): Promise<void> {
    await this.refresh();
    const node = this.#node(port);
    if (node.role === "primary" && node.slots.length > 0) {
      throw new Error(`node ${port} still serves slots; migrate them away (migrateSlots) before removing it`);
    }
    const id = node.id || (await this.#myId(port));
    const others = this.livePorts().filter((other) => other !== port);
    // FORGET bans the id for 60 s on each node, so gossip from a node that has not
    // forgotten it yet cannot bring it back in the meantime.
    const replies = await Promise.all(
      others.map((other) => this.#admin.pipeline(other, [["CLUSTER", "FORGET", id]])),
    );
    replies.forEach(([reply], index) => {
      if (reply instanceof ReplyError) {
        throw new Error(`CLUSTER FORGET of node ${port} on ${others[index]} failed: ${reply.message}`, {
          cause: reply,
        });
      }
    });
    if (node.pid !== undefined) await terminateProcesses([node.pid], STOP_GRACE_MS);
    this.#admin.drop(port);
    this.#callerConnections.drop(port);
    this.#nodes = this.#nodes.filter((candidate) => candidate !== node);
    releaseNodePort(port);
    this.#saveState();
    await rm(this.#nodeDirs.get(port)!, { recursive: true, force: true });
    this.#nodeDirs.delete(port);
    await this.waitForHealthy();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#admin.closeAll();
    this.#callerConnections.closeAll();
    const pids = new Set([...this.#pids(), ...this.#starting]);
    if (existsSync(this.stateFile)) {
      try {
        for (const node of readStateFile(this.stateFile).nodes) if (node.pid !== null) pids.add(node.pid);
      } catch {
        // Unreadable: the PIDs in memory are what we have.
      }
    }
    const ours = [...pids].filter((pid) => isRedisServerProcess(pid, this.#state.redisServer));
    await terminateProcesses(ours, STOP_GRACE_MS);
    for (const node of this.#nodes) {
      node.pid = undefined;
      releaseNodePort(node.port);
    }
    if (this.#guarded) unguard(this.stateFile);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Starts a node on a fresh port (or `fixedPort`) and adds it to the cluster's list (role unknown yet). */
  async #launchNewNode(dir: string, fixedPort?: number): Promise<DevNode> {
    if (fixedPort !== undefined) markNodePortUsed(fixedPort);
    const { port, pid } = await this.#launch(dir, fixedPort);
    const node = this.#newNode(port, pid);
    this.#nodes.push(node);
    this.#nodeDirs.set(port, dir);
    this.#starting.delete(pid);
    this.#saveState();
    return node;
  }

  #newNode(port: number, pid: number | undefined): DevNode {
    return {
      id: "",
      host: this.host,
      port,
      address: formatAddress(this.host, port),
      announcedAddress: this.#announcedAddress(port),
      role: "primary",
      primaryId: undefined,
      slots: [],
      pid,
    };
  }

  /** What MOVED and CLUSTER SHARDS call the node at `port`. */
  #announcedAddress(port: number): string {
    const announce = this.#state.announce;
    const announcedPort = port + this.#portOffset;
    switch (announce?.preferredEndpoint) {
      case "unknown-endpoint":
        return `:${announcedPort}`;
      case "hostname": {
        const hostname = this.#hostnames.get(port);
        // A node without a hostname is announced as "?" (unknown) in this mode.
        return formatAddress(hostname ?? "?", announcedPort);
      }
      default:
        return formatAddress(announce?.ip ?? this.host, announcedPort);
    }
  }

  /** The config of the node at `port`: everything the cluster's options say. */
  #nodeConfig(dir: string, port: number): NodeConfig {
    const { tls, acl, announce } = this.#state;
    let hostname = this.#hostnames.get(port);
    if (announce?.hostnames && hostname === undefined) {
      if (this.#hostnameOf === undefined) {
        throw new Error(
          "this cluster's nodes announce hostnames chosen by a function, which an attached handle " +
            "does not have: add nodes from the handle that started the cluster",
        );
      }
      hostname = this.#hostnameOf(port);
      this.#hostnames.set(port, hostname);
    }
    return {
      host: this.host,
      port,
      dir,
      nodeTimeoutMs: this.#state.nodeTimeoutMs,
      extraConfig: this.#state.extraConfig,
      tls: tls ? { ...nodeTlsFiles(this.dir), mutual: tls.mutual } : undefined,
      acl: acl ? aclConfig(acl) : undefined,
      announce: announce
        ? {
            ip: announce.ip,
            port: announce.portOffset === undefined ? undefined : port + announce.portOffset,
            hostname,
            preferredEndpoint: announce.preferredEndpoint,
          }
        : undefined,
    };
  }

  /**
   * Writes the config and starts redis-server until it serves. With no fixed port, a port
   * taken by someone else between our check and the bind is replaced by a new one.
   */
  async #launch(dir: string, fixedPort: number | undefined): Promise<{ port: number; pid: number }> {
    for (let attempt = 1; ; attempt++) {
      const port = fixedPort ?? (await reserveNodePort(this.host));
      writeFileSync(join(dir, NODE_FILES.config), renderNodeConfig(this.#nodeConfig(dir, port)));
      const logOffsets = [logSize(dir, NODE_FILES.log), logSize(dir, NODE_FILES.output)] as const;
      const { pid } = await spawnRedisServer({
        redisServer: this.#state.redisServer,
        configPath: join(dir, NODE_FILES.config),
        cwd: dir,
        outputPath: join(dir, NODE_FILES.output),
        detached: this.#spawnDetached,
      });
      this.#starting.add(pid);
      const outcome = await this.#waitUntilServing(port, pid, dir, logOffsets);
      if (outcome === "serving") return { port, pid };
      this.#starting.delete(pid);
      if (fixedPort === undefined) releaseNodePort(port);
      if (fixedPort !== undefined || attempt >= PORT_ATTEMPTS) {
        throw new Error(
          `cannot start a node on port ${port}: the port (or its bus port ${port + 10_000}) is in use`,
        );
      }
    }
  }

  /**
   * Polls until our process answers on `port`. "port-taken" when it died of EADDRINUSE, or
   * when the server answering there is not ours (another program had the port).
   */
  async #waitUntilServing(
    port: number,
    pid: number,
    dir: string,
    logOffsets: readonly [number, number],
  ): Promise<"serving" | "port-taken"> {
    let outcome: "serving" | "port-taken" = "serving";
    await pollUntil(
      `redis-server (pid ${pid}) to serve on port ${port}`,
      this.#state.startTimeoutMs,
      async () => {
        if (!isProcessAlive(pid)) {
          // Only what this start wrote: a restarted node's log holds its earlier lives too.
          const log =
            tail(join(dir, NODE_FILES.log), logOffsets[0]) +
            tail(join(dir, NODE_FILES.output), logOffsets[1]);
          if (/Address already in use|EADDRINUSE/i.test(log)) {
            outcome = "port-taken";
            return undefined;
          }
          throw new Error(`redis-server on port ${port} exited during start-up:\n${log.trim()}`);
        }
        let info: RespValue;
        try {
          info = await this.#admin.call(port, ["INFO", "server"], { timeoutMs: REPORT_TIMEOUT_MS });
        } catch (error) {
          // Refused while it starts; or whatever holds the port answered something else, in
          // which case our process exits (EADDRINUSE) and the next poll sees it.
          return `no answer yet (${(error as Error).message})`;
        }
        if (Number(parseInfo(text(info)).get("process_id")) !== pid) {
          // Someone else serves this port; ours will fail to bind and exit.
          this.#admin.drop(port);
          signalProcess(pid, "SIGKILL");
          await waitForExit(pid, 10_000);
          outcome = "port-taken";
        }
        return undefined;
      },
    );
    return outcome;
  }

  /** Waits until the replica knows its primary (REPLICATE refuses an unknown node), then REPLICATEs. */
  async #replicate(port: number, primaryId: string, deadlineAt: number): Promise<void> {
    await pollUntil(
      `node ${port} to learn about its primary`,
      Math.max(1, deadlineAt - Date.now()),
      async () => {
        const entry = (await this.#clusterNodes(port)).find((candidate) => candidate.id === primaryId);
        if (!entry || entry.flags.includes("handshake") || entry.flags.includes("noaddr"))
          return "not yet known";
        return undefined;
      },
    );
    await this.#admin.call(port, ["CLUSTER", "REPLICATE", primaryId]);
  }

  /** Waits until the node and every live node see each other as working members. */
  async #waitForMember(port: number, timeoutMs: number): Promise<void> {
    const id = await this.#myId(port);
    await pollUntil(`node ${port} to rejoin the cluster`, timeoutMs, async () => {
      const live = this.livePorts();
      for (const observer of live) {
        const entries = await this.#clusterNodes(observer).catch(() => undefined);
        if (!entries) return `${observer} does not answer`;
        const wanted = observer === port ? live.filter((other) => other !== port) : [port];
        for (const other of wanted) {
          const entry = entries.find(
            (candidate) => candidate.port === other && (other !== port || candidate.id === id),
          );
          if (!entry) return `${observer} does not know ${other}`;
          const bad = entry.flags.filter((flag) => ["fail", "fail?", "handshake", "noaddr"].includes(flag));
          if (bad.length > 0) return `${observer} flags ${other} as ${bad.join(",")}`;
        }
      }
      return undefined;
    });
  }

  async #report(port: number): Promise<NodeReport> {
    const replies = await this.#admin.pipeline(port, REPORT_COMMANDS, { timeoutMs: REPORT_TIMEOUT_MS });
    const error = replies.find((reply) => reply instanceof ReplyError);
    if (error) throw new Error(`${port}: ${(error as ReplyError).message}`);
    return shiftReportPorts(parseNodeReport(port, replies), -this.#portOffset);
  }

  /**
   * A write (SET then DEL of one key) on each primary whose replicas Redis 7.0 still hides
   * from CLUSTER SLOTS: they appear once their replication offset is non-zero.
   */
  async #nudge(primaryPorts: readonly number[], reports: readonly NodeReport[]): Promise<void> {
    const now = Date.now();
    await Promise.all(
      primaryPorts.map(async (port) => {
        if (now - (this.#nudgedAt.get(port) ?? 0) < NUDGE_INTERVAL_MS) return;
        const slot = reports[0]?.nodes.find((entry) => entry.port === port)?.slots[0]?.[0];
        if (slot === undefined) return;
        this.#nudgedAt.set(port, now);
        const key = this.#keyInSlot(slot);
        // Best effort: a failure here shows up as a problem in the next poll anyway.
        await this.#admin
          .pipeline(port, [
            ["SET", key, "1"],
            ["DEL", key],
          ])
          .catch(() => undefined);
      }),
    );
  }

  /** A key of our own that hashes to `slot` (found by trying hash tags). */
  #keyInSlot(slot: number): string {
    let key = this.#keyBySlot.get(slot);
    for (let tag = 0; key === undefined; tag++) {
      const candidate = `rediscluster:dev:nudge:{${tag}}`;
      const candidateSlot = keySlot(candidate);
      if (!this.#keyBySlot.has(candidateSlot)) this.#keyBySlot.set(candidateSlot, candidate);
      if (candidateSlot === slot) key = candidate;
    }
    return key;
  }

  async #migrationEnds(fromPort: number, toPort: number, slots: readonly number[]) {
    if (fromPort === toPort) throw new Error("source and target of a migration are the same node");
    await this.refresh();
    const from = this.#node(fromPort);
    const to = this.#node(toPort);
    if (from.role !== "primary" || to.role !== "primary") {
      throw new Error(`slots move between primaries (${fromPort} is a ${from.role}, ${toPort} a ${to.role})`);
    }
    const notOwned = slots.filter((slot) => !from.slots.some(([start, end]) => slot >= start && slot <= end));
    if (notOwned.length > 0) {
      throw new Error(`node ${fromPort} does not own slot(s) ${notOwned.slice(0, 10).join(", ")}`);
    }
    return {
      source: { port: fromPort, id: from.id },
      target: { port: toPort, id: to.id },
      otherPrimaries: this.#livePrimaryPorts().filter((port) => port !== fromPort && port !== toPort),
    };
  }

  #livePrimaryPorts(): number[] {
    const live = new Set(this.livePorts());
    return this.#nodes
      .filter((node) => node.role === "primary" && live.has(node.port))
      .map((node) => node.port);
  }

  #applyView(entries: readonly ClusterNodesEntry[]): void {
    for (const node of this.#nodes) {
      const entry = entries.find((candidate) => candidate.port === node.port);
      if (!entry) continue;
      node.id = entry.id;
      node.role = entry.role;
      node.primaryId = entry.primaryId;
      node.slots = entry.slots;
    }
  }

  async #clusterNodes(port: number): Promise<ClusterNodesEntry[]> {
    const reply = await this.#admin.call(port, ["CLUSTER", "NODES"], { timeoutMs: REPORT_TIMEOUT_MS });
    // Nodes name each other by their announced ports; everything here goes by real ports.
    return parseClusterNodes(text(reply)).map((entry) => ({ ...entry, port: entry.port - this.#portOffset }));
  }

  async #myId(port: number): Promise<string> {
    const node = this.#node(port);
    if (!node.id) node.id = text(await this.#admin.call(port, ["CLUSTER", "MYID"]));
    return node.id;
  }

  async #expectOk(port: number, commands: readonly AdminCommand[]): Promise<void> {
    const replies = await this.#admin.pipeline(port, commands);
    replies.forEach((reply, index) => {
      if (reply !== "OK") {
        const what = commands[index]!.slice(0, 2).join(" ");
        const detail = reply instanceof ReplyError ? reply.message : String(reply);
        throw new Error(`${what} on node ${port} failed: ${detail}`);
      }
    });
  }

  #node(port: number): DevNode {
    const node = this.#nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node on port ${port} in the dev cluster in ${this.dir}`);
    return node;
  }

  #runningPid(node: DevNode): number {
    if (node.pid === undefined || !isProcessAlive(node.pid))
      throw new Error(`node ${node.port} is not running`);
    return node.pid;
  }

  *#pids(): Iterable<number> {
    for (const node of this.#nodes) if (node.pid !== undefined) yield node.pid;
  }

  #newNodeDir(number: number): string {
    const dir = join(this.dir, `node-${number}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  #nextNodeNumber(): number {
    const numbers = readdirSync(this.dir)
      .map((name) => /^node-(\d+)$/.exec(name)?.[1])
      .filter((digits) => digits !== undefined)
      .map(Number);
    return Math.max(0, ...numbers) + 1;
  }

  #saveState(): void {
    writeStateFile(this.stateFile, {
      ...this.#state,
      nodes: this.#nodes.map((node) => ({
        port: node.port,
        pid: node.pid ?? null,
        dir: this.#nodeDirs.get(node.port)!,
        ...(this.#hostnames.has(node.port) ? { hostname: this.#hostnames.get(node.port)! } : {}),
      })),
    });
  }
}

/**
 * The `user` lines: the admin user first (everything; replicas log in to their primary as
 * it), the default user off unless listed or kept, then the caller's users.
 */
function aclConfig(acl: NonNullable<DevClusterState["acl"]>): NonNullable<NodeConfig["acl"]> {
  const users: DevAclUser[] = [{ name: ADMIN_USER, password: acl.adminPassword, rules: ALL_PERMISSIONS }];
  if (acl.disableDefault && !acl.users.some((user) => user.name === "default"))
    users.push({ name: "default", rules: "off" });
  users.push(...acl.users);
  return { users, replicationUser: { name: ADMIN_USER, password: acl.adminPassword } };
}

/** The `index`-th of `count` equal shares of the slots, as redis-cli splits them. */
function slotShare(index: number, count: number): [number, number] {
  const perNode = SLOT_COUNT / count;
  return [Math.round(index * perNode), Math.round((index + 1) * perNode) - 1];
}

function positiveInteger(value: number, name: string, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum)
    throw new RangeError(`${name} must be an integer ≥ ${minimum}`);
  return value;
}

function text(reply: RespValue): string {
  if (typeof reply === "string") return reply;
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  throw new Error(`expected a text reply, got ${typeof reply}`);
}

/** The last lines written to a log file after byte `fromByte`, for error messages. */
function tail(path: string, fromByte: number): string {
  try {
    return readFileSync(path).subarray(fromByte).toString("utf8").split("\n").slice(-12).join("\n");
  } catch {
    return "";
  }
}

function logSize(dir: string, name: string): number {
  try {
    return statSync(join(dir, name)).size;
  } catch {
    return 0;
  }
}
