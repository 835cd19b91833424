/**
 * The `rediscluster` CLI (src/dev/cli.ts): `slots`, `call`, `bench`, `dev status` against
 * real clusters, its exit codes, and that it prints no stack trace unless asked.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { formatReply, main } from "../../src/dev/cli.js";
import { registerDevCluster, unregisterDevCluster } from "../../src/dev/registry.js";
import type { DevCluster } from "../../src/dev/types.js";
import { sharedDevCluster, withDevCluster } from "../helpers/cluster.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "rediscluster-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(
    argv,
    { out: (text) => (out += text), err: (text) => (err += text) },
    { packageRoot: repoRoot },
  );
  return { code, out, err };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface SlotMapJson {
  shards: Array<{ primary: { address: string }; replicas: unknown[]; ranges: number[][]; slots: number }>;
  servedSlots: number;
  migrations: Array<{ slot: number; direction: string; node: string; peer: string }>;
}

describe("rediscluster slots", () => {
  it("prints every primary with its ranges, its replicas, and no migration", async () => {
    const cluster = await sharedDevCluster();
    const seeds = cluster.seeds.join(",");
    const text = await run("slots", "--seeds", seeds);
    expect(text.err).toBe("");
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/3 primaries, 3 replicas, 16384\/16384 slots served/);
    for (const node of cluster.nodes) expect(text.out).toContain(node.address);
    expect(text.out).toContain("No slot is being migrated.");

    const json = JSON.parse((await run("slots", "--seeds", seeds, "--json")).out) as SlotMapJson;
    expect(json.servedSlots).toBe(16384);
    expect(json.shards.map((shard) => shard.slots).reduce((a, b) => a + b)).toBe(16384);
    expect(json.shards.every((shard) => shard.replicas.length === 1)).toBe(true);
    expect(json.migrations).toEqual([]);

    // Without --seeds: the dev cluster registered under --name.
    const name = `cli-slots-${process.pid}`;
    registerDevCluster(name, cluster.stateFile);
    try {
      const named = JSON.parse((await run("slots", "--name", name, "--json")).out) as SlotMapJson;
      expect(named.servedSlots).toBe(16384);
    } finally {
      unregisterDevCluster(name);
    }
    const unnamed = await run("slots", "--name", `${name}-none`);
    expect(unnamed.code).toBe(2);
    expect(unnamed.err).toMatch(/no --seeds, and no dev cluster named/);
  });

  it("shows a slot being migrated, as text, JSON and in the SVG picture", async () => {
    const cluster = await sharedDevCluster();
    const primaries = cluster.nodes.filter((node) => node.role === "primary");
    const [owner, target] = primaries as [(typeof primaries)[0], (typeof primaries)[0]];
    const slot = owner.slots[0]![0] + 7;
    const svgFile = join(scratch, "slots.svg");
    try {
      await cluster.command(target.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", owner.id);
      await cluster.command(owner.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target.id);
      const json = JSON.parse(
        (await run("slots", "--seeds", cluster.seeds[1]!, "--json", "--svg", svgFile)).out,
      ) as SlotMapJson;
      expect(json.migrations).toEqual([
        { slot, direction: "importing", node: target.address, peer: owner.address },
        { slot, direction: "migrating", node: owner.address, peer: target.address },
      ]);
      const text = await run("slots", "--seeds", cluster.seeds[0]!);
      expect(text.out).toContain(`slot ${slot}: migrating from ${owner.address} to ${target.address}`);
      expect(text.out).toContain(`slot ${slot}: importing into ${target.address} from ${owner.address}`);
      const svg = readFileSync(svgFile, "utf8");
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg).toContain(`class="migration" data-slot="${slot}" data-direction="migrating"`);
      for (const node of primaries) expect(svg).toContain(`class="range" data-node="${node.address}"`);
      expect(svg.match(/class="range"/g)?.length).toBe(
        json.shards.reduce((sum, s) => sum + s.ranges.length, 0),
      );
    } finally {
      await cluster.command(owner.port, "CLUSTER", "SETSLOT", slot, "STABLE");
      await cluster.command(target.port, "CLUSTER", "SETSLOT", slot, "STABLE");
    }
    expect(JSON.parse((await run("slots", "--seeds", cluster.seeds[0]!, "--json")).out).migrations).toEqual(
      [],
    );
  });
});

describe("rediscluster call", () => {
  it("sends one command routed by its key and prints the reply like redis-cli", async () => {
    const seeds = (await sharedDevCluster()).seeds.join(",");
    const key = `cli:${process.pid}`;
    expect(await run("call", "--seeds", seeds, "SET", key, "-1")).toEqual({ code: 0, out: "OK\n", err: "" });
    expect((await run("call", "--seeds", seeds, "GET", key)).out).toBe('"-1"\n');
    expect((await run("call", "--seeds", seeds, "INCR", key)).out).toBe("(integer) 0\n");
    expect((await run("call", "--seeds", seeds, "GET", `${key}:missing`)).out).toBe("(nil)\n");
    await run("call", "--seeds", seeds, "RPUSH", `${key}:list`, "a", "b");
    expect((await run("call", "--seeds", seeds, "LRANGE", `${key}:list`, "0", "-1")).out).toBe(
      '1) "a"\n2) "b"\n',
    );
    expect((await run("call", "--seeds", seeds, "--json", "LRANGE", `${key}:list`, "0", "-1")).out).toBe(
      '["a","b"]\n',
    );
    expect((await run("call", "--seeds", seeds, "CLUSTER", "INFO")).out).toMatch(/^cluster_state:ok\n/);
    await run("call", "--seeds", seeds, "DEL", key, `${key}:list`);
  });

  it("formats nested replies with aligned numbering", () => {
    expect(formatReply([["a", 1], [], null, "OK"])).toBe(
      ['1) 1) "a"', "   2) (integer) 1", "2) (empty array)", "3) (nil)", "4) OK", ""].join("\n"),
    );
    expect(formatReply({ f: "v", n: 1.5 })).toBe('1# "f" => "v"\n2# "n" => (double) 1.5\n');
  });

  it("exits 1 on a server error, 2 on a wrong command line, 3 when nothing answers", async () => {
    const seeds = (await sharedDevCluster()).seeds.join(",");
    const key = `cli:${process.pid}:type`;
    await run("call", "--seeds", seeds, "SET", key, "text");
    const wrongType = await run("call", "--seeds", seeds, "LPUSH", key, "x");
    expect(wrongType.code).toBe(1);
    expect(wrongType.err).toMatch(/^\(error\) WRONGTYPE/);
    await run("call", "--seeds", seeds, "DEL", key);

    expect((await run("call", "--seeds", seeds)).code).toBe(2);
    expect((await run("call", "--frobnicate", "GET", "k")).code).toBe(2);
    expect((await run("slots", "--seeds", "not-an-address")).code).toBe(2);
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run("dev", "start", "--shards", "zero")).code).toBe(2);

    const unreachable = await run("call", "--seeds", `127.0.0.1:${await closedPort()}`, "PING");
    expect(unreachable.code).toBe(3);
    expect(unreachable.err).toMatch(/^rediscluster: cannot connect to 127\.0\.0\.1:\d+/);
    expect(unreachable.err).not.toMatch(/\n\s+at /);
    expect((await run("slots", "--seeds", `127.0.0.1:${await closedPort()}`)).code).toBe(3);
  });
});

describe("rediscluster help, version, bench", () => {
  it("has --help on every command, with the exit codes", async () => {
    for (const argv of [
      ["--help"],
      ["slots", "--help"],
      ["call", "--help"],
      ["bench", "--help"],
      ["dev", "--help"],
    ]) {
      const help = await run(...argv);
      expect(help.code, argv.join(" ")).toBe(0);
      expect(help.out, argv.join(" ")).toMatch(/^Usage: rediscluster/);
      expect(help.out, argv.join(" ")).toContain("3  cannot connect");
    }
    expect((await run("dev", "--help")).out).toContain("--shards <n>");
    const nothing = await run();
    expect(nothing.code).toBe(2);
    expect(nothing.err).toMatch(/^Usage: rediscluster <command>/);
  });

  it("prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      version: string;
    };
    expect(await run("--version")).toEqual({ code: 0, out: `${version}\n`, err: "" });
  });

  it("says the benchmark needs the repository when run from an installed package", async () => {
    let err = "";
    const code = await main(
      ["bench"],
      { out: () => undefined, err: (text) => (err += text) },
      { packageRoot: scratch },
    );
    expect(code).toBe(1);
    expect(err).toMatch(/not part of the installed package/);
  });

  it("as a process: exit codes reach the shell, and a stack trace only with --debug", async () => {
    const port = await closedPort();
    const runProcess = async (...argv: string[]) => {
      const script = `import { main } from ${JSON.stringify(join(repoRoot, "src", "dev", "cli.ts"))};
        process.exitCode = await main(process.argv.slice(1));`;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script, ...argv],
        {
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      const [code] = (await once(child, "exit")) as [number];
      return { code, stderr };
    };
    const plain = await runProcess("call", "--seeds", `127.0.0.1:${port}`, "PING");
    expect(plain.code).toBe(3);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await runProcess("call", "--debug", "--seeds", `127.0.0.1:${port}`, "PING");
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
    expect((await runProcess("dev", "frobnicate")).code).toBe(2);
  });
});

describe("rediscluster dev status with a paused node", () => {
  const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });

  it("answers within its probe bounds, and shows the node as paused", { timeout: 120_000 }, async () => {
    const dev: DevCluster = cluster();
    const name = `cli-paused-${process.pid}`;
    registerDevCluster(name, dev.stateFile);
    // The first node: the one every probe used to ask first (and wait 60 s for).
    const paused = dev.nodes[0]!;
    dev.pauseNode(paused.port);
    try {
      const startedAt = Date.now();
      const status = await run("dev", "status", "--name", name);
      const elapsedMs = Date.now() - startedAt;
      expect(status.code).toBe(1);
      expect(status.out).toMatch(new RegExp(`${paused.address} +primary +\\d+ +\\S+ +paused`));
      for (const node of dev.nodes.slice(1)) expect(status.out).toContain(node.address);
      // Each probe is bounded by 2 s (a few run one after the other); before, one took 60 s.
      expect(elapsedMs).toBeLessThan(30_000);
    } finally {
      dev.resumeNode(paused.port);
      unregisterDevCluster(name);
    }
  });
});
