/**
 * The README's code and examples/ run as written (issue 16.3): every README `ts`/`js` block
 * marked `<!-- runnable -->` on the line before its fence, and every example in examples/
 * (with `--seeds`, its non-destructive part), against the shared dev cluster. The blocks use
 * the addresses of `npx rediscluster dev start` (127.0.0.1:7000-7005); each port 700N is
 * replaced by the shared cluster's N-th seed, and the package's imports by its sources (run
 * with tsx), so no build is needed. Every other `ts`/`js` block must say why it does not run
 * (`<!-- not runnable: reason -->`): a block that needs a module (JSON.SET) or is a fragment
 * cannot slip in unmarked.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevCluster } from "../../src/dev/index.js";
import { RedisCluster } from "../../src/index.js";
import { sharedDevCluster } from "../helpers/cluster.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const RUNNABLE = "<!-- runnable -->";
const NOT_RUNNABLE = /^<!-- not runnable: .+ -->$/;

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  marker: string;
  code: string;
}

/** Every fenced `ts`/`js` block of a Markdown text, with the line before its fence. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(ts|js|typescript|javascript)\b/.exec(lines[index]!);
    if (fence === null) {
      // Skip the body of other fenced blocks (sh, ...), so their lines are not read as fences.
      if (lines[index]!.startsWith("```")) while (++index < lines.length && !lines[index]!.startsWith("```"));
      continue;
    }
    const start = index;
    while (++index < lines.length && !lines[index]!.startsWith("```"));
    blocks.push({
      line: start + 1,
      language: fence[1]!,
      marker: (lines[start - 1] ?? "").trim(),
      code: lines.slice(start + 1, index).join("\n"),
    });
  }
  return blocks;
}

/** The code with the dev-start addresses and the package's imports pointed at this run. */
function localize(code: string, seeds: readonly string[]): string {
  const ports = seeds.map((seed) => seed.slice(seed.lastIndexOf(":") + 1));
  const source = (path: string) => JSON.stringify(pathToFileURL(join(root, path)).href);
  return (
    code
      .replace(/\b700([0-5])\b/g, (match, index: string) => ports[Number(index)] ?? match)
      .replace(/from "rediscluster\/dev"/g, `from ${source("src/dev/index.ts")}`)
      .replace(/from "rediscluster"/g, `from ${source("src/index.ts")}`)
      .replace(/from "\.\.\/dist\/esm\/dev\/index\.js"/g, `from ${source("src/dev/index.ts")}`)
      .replace(/from "\.\.\/dist\/esm\/index\.js"/g, `from ${source("src/index.ts")}`)
      // An example's helpers from the repository (the demo draws its timeline with the bench's chart).
      .replace(
        /from "\.\.\/bench\/([\w-]+\.mjs)"/g,
        (_match, file: string) => `from ${source(`bench/${file}`)}`,
      )
  );
}

/** Runs a file with tsx (from this repository), as `node --import tsx file args`. */
function runFile(
  file: string,
  args: readonly string[] = [],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, out, err }));
  });
}

/** Every key of the cluster (the snapshot taken before the examples, to remove what they add). */
async function allKeys(client: RedisCluster): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const key of client.scanIterator({ count: 1000 })) keys.add(key);
  return keys;
}

const readme = readFileSync(join(root, "README.md"), "utf8");
const readmeBlocks = codeBlocks(readme);
// opentelemetry.mjs takes seeds as its argument and needs the OpenTelemetry SDK resolved from the
// project: test/integration/opentelemetry.test.ts runs its wiring against the cluster instead.
const OWN_TEST = new Set(["opentelemetry.mjs"]);
const examples = readdirSync(join(root, "examples")).filter(
  (name) => /\.(m?js|m?ts)$/.test(name) && !OWN_TEST.has(name),
);

describe("README code blocks and examples/", () => {
  let cluster: DevCluster;
  let client: RedisCluster;
  let keysBefore: Set<string>;
  let folder: string;

  beforeAll(async () => {
    cluster = await sharedDevCluster();
    client = new RedisCluster({ nodes: cluster.seeds });
    keysBefore = await allKeys(client);
    folder = mkdtempSync(join(tmpdir(), "rediscluster-examples-"));
  });

  afterAll(async () => {
    // Leave the shared cluster as found: the examples write keys of their own.
    try {
      const added = [...(await allKeys(client))].filter((key) => !keysBefore.has(key));
      if (added.length > 0) await client.del(...added);
    } finally {
      await client.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("marks every ts/js block of the README runnable, or says why not", () => {
    const unmarked = readmeBlocks.filter(
      (block) => block.marker !== RUNNABLE && !NOT_RUNNABLE.test(block.marker),
    );
    expect(unmarked.map((block) => `README.md:${block.line}`)).toEqual([]);
    // The first example is the one a newcomer copies: it must run.
    expect(readmeBlocks[0]?.marker).toBe(RUNNABLE);
    // A module's command cannot run against `dev start` (no modules there).
    const needsModule = readmeBlocks.filter(
      (block) => block.marker === RUNNABLE && /"(JSON|FT|TS|BF)\./.test(block.code),
    );
    expect(needsModule.map((block) => `README.md:${block.line}`)).toEqual([]);
  });

  for (const block of readmeBlocks.filter((candidate) => candidate.marker === RUNNABLE)) {
    it(`runs README.md:${block.line} as written`, { timeout: 60_000 }, async () => {
      const file = join(folder, `readme-${block.line}.mts`);
      writeFileSync(file, localize(block.code, cluster.seeds));
      const result = await runFile(file);
      expect(result.err).toBe("");
      expect(result.code).toBe(0);
    });
  }

  for (const example of examples) {
    it(`runs examples/${example} --seeds against an existing cluster`, { timeout: 120_000 }, async () => {
      const file = join(folder, example.replace(/\.js$/, ".mjs").replace(/\.ts$/, ".mts"));
      writeFileSync(file, localize(readFileSync(join(root, "examples", example), "utf8"), cluster.seeds));
      const result = await runFile(file, ["--seeds", cluster.seeds.join(",")]);
      expect(result.err).toBe("");
      expect(result.code).toBe(0);
      expect(result.out).toMatch(/done in/);
    });
  }
});
