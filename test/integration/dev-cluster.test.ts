/**
 * The dev cluster against real redis-server processes: start-up, every chaos operation
 * the other tests rely on, the CLI, the exit guard and the shared test cluster.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { main } from "../../src/dev/cli.js";
import { judgeHealth, parseClusterNodes, parseInfo, slotsToRanges } from "../../src/dev/cluster-view.js";
import {
  type DevCluster,
  type DevNode,
  findDevClusterStateFile,
  startDevCluster,
} from "../../src/dev/index.js";
import { nodePortsFree } from "../../src/dev/ports.js";
import { isProcessAlive } from "../../src/dev/process.js";
import { parseRedisVersion } from "../../src/dev/redis-server.js";
import { sharedDevCluster, withDevCluster } from "../helpers/cluster.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** One hash tag per slot, so that a test can put keys in the slots it wants. */
const tagBySlot: string[] = (() => {
  const tags: string[] = new Array(16_384);
  let found = 0;
  for (let n = 0; found < 16_384; n++) {
    const tag = `t${n}`;
    const slot = keySlot(tag);
    if (tags[slot] === undefined) {
      tags[slot] = tag;
      found++;
    }
  }
  return tags;
})();

function keyInSlot(slot: number, suffix: string | number): string {
  return `{${tagBySlot[slot]}}:${suffix}`;
}

function byRole(cluster: DevCluster, role: DevNode["role"]): DevNode[] {
  return cluster.nodes.filter((node) => node.role === role);
}

function slotCount(node: DevNode): number {
  return node.slots.reduce((sum, [start, end]) => sum + end - start + 1, 0);
}

async function clusterNodesOf(cluster: DevCluster, port: number) {
  return parseClusterNodes(String(await cluster.command(port, "CLUSTER", "NODES")));
}

describe("a 3 + 3 dev cluster", () => {
  const cluster = withDevCluster();

  it("starts 6 healthy nodes that cover all 16384 slots and list every replica", async () => {
    const nodes = cluster().nodes;
    expect(nodes).toHaveLength(6);
    expect(cluster().seeds).toHaveLength(6);
    const primaries = byRole(cluster(), "primary");
    const replicas = byRole(cluster(), "replica");
    expect(primaries).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(cluster().seeds.slice(0, 3).sort()).toEqual(primaries.map((node) => node.address).sort());
    expect(slotsToRanges(primaries.flatMap((node) => node.slots.flatMap(([s, e]) => range(s, e))))).toEqual([
      [0, 16383],
    ]);
    for (const replica of replicas) expect(primaries.map((node) => node.id)).toContain(replica.primaryId);
    for (const node of nodes) {
      expect(node.id).toMatch(/^[0-9a-f]{40}$/);
      expect(node.address).toBe(`127.0.0.1:${node.port}`);
      expect(isProcessAlive(node.pid!)).toBe(true);
      const info = parseInfo(String(await cluster().command(node.port, "CLUSTER", "INFO")));
      expect(info.get("cluster_state")).toBe("ok");
      expect(info.get("cluster_slots_assigned")).toBe("16384");
      expect(info.get("cluster_known_nodes")).toBe("6");
      // Every replica is listed under its primary's range, by every node.
      const slots = (await cluster().command(node.port, "CLUSTER", "SLOTS")) as Array<
        [number, number, ...unknown[][]]
      >;
      expect(slots).toHaveLength(3);
      for (const [, , ...members] of slots) expect(members).toHaveLength(2);
      const shards = (await cluster().command(node.port, "CLUSTER", "SHARDS")) as unknown[][];
      expect(shards).toHaveLength(3);
      const healths = shards.flatMap((shard) =>
        (shard[3] as unknown[][]).map((member) => member[member.indexOf("health") + 1]),
      );
      expect(healths).toEqual(new Array(6).fill("online"));
    }
    // The config asks for what the tests rely on.
    const config = (await cluster().command(
      nodes[0]!.port,
      "CONFIG",
      "GET",
      "cluster-allow-replica-migration",
    )) as string[];
    expect(config[1]).toBe("no");
    await expect(cluster().command(nodes[0]!.port, "DEBUG", "SLEEP", "0")).resolves.toBe("OK");
  });

  it("kills a node by PID and restarts it on the same port as the same node", async () => {
    const replica = byRole(cluster(), "replica")[0]!;
    const oldPid = replica.pid!;
    await cluster().killNode(replica.port);
    try {
      expect(isProcessAlive(oldPid)).toBe(false);
      expect(cluster().nodes.find((node) => node.port === replica.port)!.pid).toBeUndefined();
      await expect(cluster().command(replica.port, "PING")).rejects.toThrow();
    } finally {
      await cluster().restartNode(replica.port);
    }
    const restarted = cluster().nodes.find((node) => node.port === replica.port)!;
    expect(restarted.pid).not.toBe(oldPid);
    expect(isProcessAlive(restarted.pid!)).toBe(true);
    // nodes.conf was kept: same id, same primary.
    expect(await cluster().command(replica.port, "CLUSTER", "MYID")).toBe(replica.id);
    await cluster().waitForHealthy();
    await cluster().refresh();
    expect(cluster().nodes.find((node) => node.port === replica.port)!.primaryId).toBe(replica.primaryId);
  });

  it("says so when a node cannot get its port back, and restarts once the port is free", async () => {
    const replica = byRole(cluster(), "replica")[0]!;
    await cluster().killNode(replica.port);
    const squatter = createServer((socket) => socket.destroy());
    squatter.listen({ host: "127.0.0.1", port: replica.port });
    await once(squatter, "listening");
    try {
      await expect(cluster().restartNode(replica.port)).rejects.toThrow(
        new RegExp(`port ${replica.port}.*in use`),
      );
    } finally {
      squatter.close();
      await once(squatter, "close");
      await cluster().restartNode(replica.port);
    }
    await cluster().waitForHealthy();
  });

  it("pauses a node (it answers nothing) and resumes it", async () => {
    const replica = byRole(cluster(), "replica")[1]!;
    const socket = connect({ host: "127.0.0.1", port: replica.port });
    await once(socket, "connect");
    try {
      cluster().pauseNode(replica.port);
      const reply = once(socket, "data");
      socket.write("PING\r\n");
      const early = await Promise.race([reply.then(() => "answered"), sleep(300).then(() => "silent")]);
      expect(early).toBe("silent");
      cluster().resumeNode(replica.port);
      expect(String((await reply)[0])).toBe("+PONG\r\n");
    } finally {
      socket.destroy();
      cluster().resumeNode(replica.port);
    }
    await cluster().waitForHealthy();
  });

  it("migrates 400 slots with their keys to another primary", async () => {
    const [source, target] = byRole(cluster(), "primary") as [DevNode, DevNode];
    const [, lastOfSource] = source.slots[source.slots.length - 1]!;
    const slots = range(lastOfSource - 399, lastOfSource);
    await Promise.all(
      slots.map((slot) =>
        cluster().command(
          source.port,
          "MSET",
          keyInSlot(slot, "a"),
          `a${slot}`,
          keyInSlot(slot, "b"),
          `b${slot}`,
        ),
      ),
    );
    const startedAt = Date.now();
    await cluster().migrateSlots(source.port, target.port, slots);
    const elapsedMs = Date.now() - startedAt;
    // Several hundred slots with keys move in a few seconds (pipelined admin commands).
    expect(elapsedMs).toBeLessThan(10_000);

    const after = cluster().nodes;
    const newTarget = after.find((node) => node.port === target.port)!;
    const newSource = after.find((node) => node.port === source.port)!;
    expect(slotCount(newTarget)).toBe(slotCount(target) + 400);
    expect(slotCount(newSource)).toBe(slotCount(source) - 400);
    const values = await Promise.all(
      slots.map((slot) => cluster().command(target.port, "GET", keyInSlot(slot, "b"))),
    );
    expect(values).toEqual(slots.map((slot) => `b${slot}`));
    await expect(cluster().command(source.port, "GET", keyInSlot(slots[0]!, "a"))).rejects.toThrow(
      new RegExp(`^MOVED ${slots[0]} 127\\.0\\.0\\.1:${target.port}$`),
    );
    expect(await cluster().command(source.port, "CLUSTER", "COUNTKEYSINSLOT", slots[0]!)).toBe(0);
    // Every node, replicas included, routes the moved slots to the target.
    for (const node of after) {
      const owner = (await clusterNodesOf(cluster(), node.port)).find((entry) =>
        entry.slots.some(([start, end]) => start <= slots[0]! && slots[0]! <= end),
      );
      expect(owner?.port).toBe(target.port);
    }
  });

  it("leaves a slot half-migrated: moved keys answer ASK, and finishMigration completes it", async () => {
    const [source, target] = byRole(cluster(), "primary").slice(1) as [DevNode, DevNode];
    const slot = source.slots[0]![0];
    const keys = [0, 1, 2, 3].map((n) => keyInSlot(slot, n));
    for (const key of keys) await cluster().command(source.port, "SET", key, `v-${key}`);

    await cluster().beginSlotMigration(source.port, target.port, slot, 2);
    try {
      const asked: string[] = [];
      for (const key of keys) {
        try {
          expect(await cluster().command(source.port, "GET", key)).toBe(`v-${key}`);
        } catch (error) {
          expect((error as Error).message).toBe(`ASK ${slot} 127.0.0.1:${target.port}`);
          asked.push(key);
        }
      }
      expect(asked).toHaveLength(2);
      for (const key of asked) {
        // Without ASKING the target still redirects to the owner; with it, it serves the key.
        await expect(cluster().command(target.port, "GET", key)).rejects.toThrow(/^MOVED /);
        expect(await cluster().command(target.port, "ASKING")).toBe("OK");
        expect(await cluster().command(target.port, "GET", key)).toBe(`v-${key}`);
      }
    } finally {
      await cluster().finishMigration(source.port, target.port, slot);
    }
    for (const key of keys) expect(await cluster().command(target.port, "GET", key)).toBe(`v-${key}`);
    await expect(cluster().command(source.port, "GET", keys[0]!)).rejects.toThrow(/^MOVED /);
  });

  it("fails over: the replica becomes primary for every node, the primary its replica", async () => {
    const replica = byRole(cluster(), "replica")[2]!;
    const primary = cluster().nodes.find((node) => node.id === replica.primaryId)!;
    await cluster().failover(replica.port);
    const promoted = cluster().nodes.find((node) => node.port === replica.port)!;
    const demoted = cluster().nodes.find((node) => node.port === primary.port)!;
    expect(promoted.role).toBe("primary");
    expect(promoted.slots).toEqual(primary.slots);
    expect(demoted.role).toBe("replica");
    expect(demoted.primaryId).toBe(replica.id);
    for (const node of cluster().nodes) {
      const view = await clusterNodesOf(cluster(), node.port);
      expect(view.find((entry) => entry.id === replica.id)!.role).toBe("primary");
      expect(view.find((entry) => entry.id === primary.id)!.role).toBe("replica");
    }
    expect(cluster().seeds.slice(0, 3)).toContain(promoted.address);
  });

  it("takes over from a paused primary (FAILOVER TAKEOVER); the primary rejoins as replica once resumed", async () => {
    const primary = byRole(cluster(), "primary")[1]!;
    const replica = cluster().nodes.find((node) => node.primaryId === primary.id)!;
    cluster().pauseNode(primary.port);
    try {
      await cluster().failover(replica.port, "TAKEOVER");
      expect(cluster().nodes.find((node) => node.port === replica.port)!.role).toBe("primary");
    } finally {
      cluster().resumeNode(primary.port);
    }
    await cluster().waitForHealthy();
    await cluster().refresh();
    const resumed = cluster().nodes.find((node) => node.port === primary.port)!;
    expect(resumed.role).toBe("replica");
    expect(resumed.primaryId).toBe(replica.id);
  });

  it("after a primary is killed, waitForHealthy waits for its replica to take over", async () => {
    const primary = byRole(cluster(), "primary")[0]!;
    const replica = cluster().nodes.find((node) => node.primaryId === primary.id)!;
    await cluster().killNode(primary.port);
    try {
      await cluster().waitForHealthy();
      await cluster().refresh();
      expect(cluster().nodes.find((node) => node.port === replica.port)!.role).toBe("primary");
      expect(
        await cluster().command(replica.port, "CLUSTER", "COUNTKEYSINSLOT", primary.slots[0]![0]),
      ).toBeTypeOf("number");
    } finally {
      await cluster().restartNode(primary.port);
    }
    await cluster().waitForHealthy();
    await cluster().refresh();
    const back = cluster().nodes.find((node) => node.port === primary.port)!;
    expect(back.role).toBe("replica");
    expect(back.primaryId).toBe(replica.id);
  });

  it("adds a replica that every node lists in CLUSTER SHARDS, and removes it again", async () => {
    const primary = byRole(cluster(), "primary")[0]!;
    const added = await cluster().addNode({ replicaOf: primary.port });
    expect(added.role).toBe("replica");
    expect(added.primaryId).toBe(primary.id);
    expect(cluster().nodes).toHaveLength(7);
    for (const node of cluster().nodes) {
      const shards = (await cluster().command(node.port, "CLUSTER", "SHARDS")) as unknown[][];
      const members = shards.flatMap((shard) => shard[3] as unknown[][]);
      const listed = members.find((member) => member[member.indexOf("id") + 1] === added.id)!;
      expect(listed[listed.indexOf("health") + 1]).toBe("online");
      expect(listed[listed.indexOf("role") + 1]).toBe("replica");
    }

    await cluster().removeNode(added.port);
    expect(cluster().nodes).toHaveLength(6);
    expect(isProcessAlive(added.pid!)).toBe(false);
    for (const node of cluster().nodes) {
      expect((await clusterNodesOf(cluster(), node.port)).map((entry) => entry.id)).not.toContain(added.id);
    }
  });

  it("refuses to remove a primary that still serves slots", async () => {
    const primary = byRole(cluster(), "primary")[0]!;
    await expect(cluster().removeNode(primary.port)).rejects.toThrow(/still serves slots/);
  });

  it("stops: no process left, no folder left, and a second stop is harmless", async () => {
    const pids = cluster().nodes.map((node) => node.pid!);
    const dir = cluster().dir;
    expect(existsSync(dir)).toBe(true);
    await cluster().stop();
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await expect(cluster().stop()).resolves.toBeUndefined();
  });
});

describe("startDevCluster without a usable redis-server", () => {
  it("says how to install Redis when redis-server is missing", async () => {
    const promise = startDevCluster({ redisServer: join(tmpdir(), "no-such-dir", "redis-server") });
    await expect(promise).rejects.toThrow(/apt-get install -y redis-server/);
    await expect(promise).rejects.toThrow(/brew install redis/);
  });

  it("refuses Redis older than 7", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rediscluster-fake-redis-"));
    try {
      const fake = join(dir, "redis-server");
      writeFileSync(fake, "#!/bin/sh\necho 'Redis server v=6.2.14 sha=00000000:0 malloc=libc bits=64'\n");
      chmodSync(fake, 0o755);
      await expect(startDevCluster({ redisServer: fake })).rejects.toThrow(
        /Redis 6\.2\.14.*7\.0 or newer.*apt-get/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads versions the way redis-server and valkey-server print them", () => {
    expect(parseRedisVersion("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0")).toEqual({
      version: "7.0.15",
      major: 7,
    });
    expect(parseRedisVersion("Valkey server v=8.0.1 sha=00000000:0")?.major).toBe(8);
    expect(parseRedisVersion("something else")).toBeUndefined();
  });
});

describe("processes die with the process that started them", () => {
  /** Runs a script that starts a 1-node cluster, prints its PIDs and folder, then `ending`. */
  async function startInChild(ending: string) {
    const script = join(mkdtempSync(join(tmpdir(), "rediscluster-exit-")), "child.mts");
    const devModule = new URL("../../src/dev/index.ts", import.meta.url).href;
    writeFileSync(
      script,
      `import { startDevCluster } from ${JSON.stringify(devModule)};\n` +
        "const cluster = await startDevCluster({ primaries: 1, replicasPerPrimary: 0 });\n" +
        "console.log(JSON.stringify({ dir: cluster.dir, pids: cluster.nodes.map((n) => n.pid) }));\n" +
        ending,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    const started = JSON.parse(line.toString()) as { dir: string; pids: number[] };
    return {
      child,
      exited,
      started,
      cleanup: () => rmSync(join(script, ".."), { recursive: true, force: true }),
    };
  }

  it("when it calls process.exit() without stop()", async () => {
    const { exited, started, cleanup } = await startInChild("process.exit(3);\n");
    try {
      expect(started.pids).toHaveLength(1);
      const [code] = await exited;
      expect(code).toBe(3);
      for (const pid of started.pids) expect(isProcessAlive(pid)).toBe(false);
      expect(existsSync(started.dir)).toBe(false);
    } finally {
      cleanup();
    }
  });

  it("when it is terminated by SIGTERM (and it still dies of SIGTERM)", async () => {
    const { child, exited, started, cleanup } = await startInChild("setInterval(() => {}, 1000);\n");
    try {
      for (const pid of started.pids) expect(isProcessAlive(pid)).toBe(true);
      child.kill("SIGTERM");
      const [, signal] = await exited;
      expect(signal).toBe("SIGTERM");
      for (const pid of started.pids) expect(isProcessAlive(pid)).toBe(false);
      expect(existsSync(started.dir)).toBe(false);
    } finally {
      cleanup();
    }
  });
});

describe("rediscluster dev (CLI)", () => {
  const name = `test-${process.pid}`;
  const run = async (...argv: string[]) => {
    let out = "";
    let err = "";
    const code = await main(argv, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  };

  afterAll(async () => {
    await run("dev", "stop", "--name", name);
  });

  it("starts a detached cluster at --port, shows its status, refuses a second start, and stops it", async () => {
    // Not the default (7000): other runs on this machine may hold it. A random free pair of
    // consecutive ports instead, so that --port is what put the nodes there.
    const firstPort = await freeConsecutivePorts(2);
    const started = await run(
      "dev",
      "start",
      "--primaries",
      "1",
      "--replicas",
      "1",
      "--port",
      String(firstPort),
      "--name",
      name,
      "--json",
    );
    expect(started.err).toBe("");
    expect(started.code).toBe(0);
    const summary = JSON.parse(started.out) as {
      seeds: string[];
      dir: string;
      stateFile: string;
      nodes: DevNode[];
    };
    expect(summary.seeds).toEqual([`127.0.0.1:${firstPort}`, `127.0.0.1:${firstPort + 1}`]);
    expect(findDevClusterStateFile(name)).toBe(summary.stateFile);
    const pids = summary.nodes.map((node) => node.pid!);
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(true);

    const status = await run("dev", "status", "--name", name);
    expect(status.code).toBe(0);
    expect(status.out).toContain("healthy");
    for (const seed of summary.seeds) expect(status.out).toContain(seed);
    expect(status.out).toMatch(/primary +\d+ +0-16383 +online/);
    expect(status.out).toMatch(/replica +\d+ +\(replica of \d+\) +online/);
    const statusJson = JSON.parse((await run("dev", "status", "--name", name, "--json")).out) as {
      healthy: boolean;
    };
    expect(statusJson.healthy).toBe(true);

    const again = await run("dev", "start", "--name", name);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already running/);

    const stopped = await run("dev", "stop", "--name", name);
    expect(stopped.code).toBe(0);
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(summary.dir)).toBe(false);
    expect(findDevClusterStateFile(name)).toBeUndefined();
    expect((await run("dev", "status", "--name", name)).code).toBe(1);
    expect((await run("dev", "stop", "--name", name)).code).toBe(1);
  });

  it("prints help, and fails clearly on a wrong command line", async () => {
    const help = await run("dev", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: rediscluster dev <command>/);
    // A wrong command line exits 2 (src/dev/cli.ts, EXIT.usage).
    expect((await run()).code).toBe(2);
    const unknown = await run("dev", "frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command "dev frobnicate"/);
    const badNumber = await run("dev", "start", "--primaries", "zero");
    expect(badNumber.code).toBe(2);
    expect(badNumber.err).toMatch(/--primaries needs an integer/);
  });

  describe("bin/rediscluster.cjs, in a copy of the package", () => {
    // What the file does: find dist/cjs/dev/cli.js, hand its main() the command line, exit
    // with main's code; or say to build first. The repository's own dist/ may or may not
    // exist, so each state is set up in a copy of the package of its own, with a stand-in
    // for the compiled CLI (the real main() is tested above, in-process).
    let packageDir: string;
    beforeEach(() => {
      packageDir = mkdtempSync(join(tmpdir(), "rediscluster-bin-"));
      mkdirSync(join(packageDir, "bin"));
      copyFileSync(join(repoRoot, "bin", "rediscluster.cjs"), join(packageDir, "bin", "rediscluster.cjs"));
    });
    afterEach(() => {
      rmSync(packageDir, { recursive: true, force: true });
    });

    function writeBuiltCli(source: string): void {
      const cliDir = join(packageDir, "dist", "cjs", "dev");
      mkdirSync(cliDir, { recursive: true });
      writeFileSync(join(packageDir, "dist", "cjs", "package.json"), '{ "type": "commonjs" }\n');
      writeFileSync(join(cliDir, "cli.js"), source);
    }

    async function runBin(...args: string[]): Promise<{ code: number; output: string }> {
      const child = spawn(process.execPath, [join(packageDir, "bin", "rediscluster.cjs"), ...args], {
        stdio: "pipe",
      });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const [code] = (await once(child, "exit")) as [number];
      return { code, output };
    }

    it("not built: exits 1 and says to run npm run build", async () => {
      const { code, output } = await runBin("--help");
      expect(code).toBe(1);
      expect(output).toMatch(/not built yet/);
      expect(output).toMatch(/npm run build/);
    });

    it("built: hands the command line to main() and exits with the code it resolves with", async () => {
      writeBuiltCli(
        `exports.main = async (argv) => { process.stdout.write("argv=" + JSON.stringify(argv)); return argv.length; };\n`,
      );
      expect(await runBin("dev", "status", "--name", "x")).toEqual({
        code: 4,
        output: 'argv=["dev","status","--name","x"]',
      });
      expect(await runBin()).toEqual({ code: 0, output: "argv=[]" });
    });

    it("built: a main() that rejects ends in exit code 1 with the error on stderr", async () => {
      writeBuiltCli(`exports.main = async () => { throw new Error("broken on purpose"); };\n`);
      const { code, output } = await runBin("--help");
      expect(code).toBe(1);
      expect(output).toMatch(/rediscluster: broken on purpose/);
    });

    // Was a bug: any MODULE_NOT_FOUND whose message named cli.js (the require stack does) read as "not built".
    it("built, but a module it needs is missing: that error, not 'not built yet'", async () => {
      writeBuiltCli(`require("./no-such-module.js");\nexports.main = async () => 0;\n`);
      const { code, output } = await runBin("--help");
      expect(code).toBe(1);
      expect(output).toMatch(/no-such-module/);
      expect(output).not.toMatch(/not built yet/);
    });
  });
});

describe("the shared test cluster", () => {
  let cluster: DevCluster;
  beforeAll(async () => {
    cluster = await sharedDevCluster();
  });

  it("is a healthy 3 + 3 cluster, the same handle on every call", async () => {
    expect(await sharedDevCluster()).toBe(cluster);
    expect(cluster.nodes).toHaveLength(6);
    expect(byRole(cluster, "replica")).toHaveLength(3);
    await cluster.waitForHealthy(5_000);
    expect(await cluster.command(cluster.nodes[0]!.port, "PING")).toBe("PONG");
  });
});

describe("judgeHealth", () => {
  const nodesText = (lines: string[]) => lines.join("\n");
  const a = "a".repeat(40);
  const b = "b".repeat(40);
  const report = (port: number, lines: string[], state = "ok") => ({
    port,
    clusterState: state,
    nodes: parseClusterNodes(nodesText(lines)),
    slots: [{ start: 0, end: 16383, ports: [7000, 7001] }],
    shards: [
      [
        { id: a, port: 7000, role: "master", health: "online" },
        { id: b, port: 7001, role: "replica", health: "online" },
      ],
    ],
  });
  const primaryLine = (myself: boolean) =>
    `${a} 127.0.0.1:7000@17000 ${myself ? "myself," : ""}master - 0 0 1 connected 0-16383`;
  const replicaLine = (myself: boolean, flags = "") =>
    `${b} 127.0.0.1:7001@17001 ${myself ? "myself," : ""}slave${flags} ${a} 0 0 1 connected`;

  it("accepts agreeing nodes and names what is wrong otherwise", () => {
    const healthy = [
      report(7000, [primaryLine(true), replicaLine(false)]),
      report(7001, [primaryLine(false), replicaLine(true)]),
    ];
    expect(judgeHealth(healthy, [7000, 7001]).problem).toBeUndefined();
    const failing = [report(7000, [primaryLine(true), replicaLine(false, ",fail?")]), healthy[1]!];
    expect(judgeHealth(failing, [7000, 7001]).problem).toBe("7000 flags node 7001 as fail?");
    const down = [report(7000, [primaryLine(true), replicaLine(false)], "fail"), healthy[1]!];
    expect(judgeHealth(down, [7000, 7001]).problem).toBe("7000 reports cluster_state:fail");
    expect(judgeHealth([healthy[1]!], [7001]).problem).toBe(
      "slots 0-16383 belong to node 7000, which is down",
    );
    const hidden = [{ ...healthy[0]!, slots: [{ start: 0, end: 16383, ports: [7000] }] }, healthy[1]!];
    expect(judgeHealth(hidden, [7000, 7001])).toEqual({
      problem: "7000 does not list replica 7001 in CLUSTER SLOTS yet",
      primariesToNudge: [7000],
    });
  });

  it("reads open migrations out of CLUSTER NODES without counting them as owned", () => {
    const [entry] = parseClusterNodes(
      `${a} 127.0.0.1:7000@17000,host myself,master - 0 0 1 connected 0-99 100 [101->-${b}]`,
    );
    expect(entry).toMatchObject({
      port: 7000,
      myself: true,
      role: "primary",
      slots: [
        [0, 99],
        [100, 100],
      ],
    });
  });
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first of `count` consecutive free node ports (bus ports free too), from a random start. */
async function freeConsecutivePorts(count: number): Promise<number> {
  for (let tried = 0; tried < 200; tried++) {
    const first = 10_000 + Math.floor(Math.random() * 12_000);
    if (await nodePortsFree("127.0.0.1", first, count)) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
