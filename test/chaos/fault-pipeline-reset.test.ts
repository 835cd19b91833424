/**
 * A connection reset in the middle of a 10,000-command pipeline's replies (the fault proxy
 * forwards part of one primary's reply stream, then sends an RST). README, "Redirections
 * and failures": a write that may have reached the server is not sent again unless it is
 * idempotent. So, for the reset node only: idempotent commands (GET, SET) are resent and
 * succeed; INCRs already written fail with `ConnectionError` and `outcomeUnknown: true`;
 * commands of the other nodes never notice. And the data agrees: each INCR that resolved
 * ran exactly once, each flagged one ran at most once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { ConnectionError } from "../../src/index.js";
import { describeError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { type ProxiedCluster, proxyCluster } from "../helpers/fault-proxy.js";

const COMMANDS = 10_000;
/** Long enough for a 10,000-command pipeline and its retries on a busy machine. */
const COMMAND_TIMEOUT_MS = 10_000;

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });
const clients = useClients();
let proxied: ProxiedCluster;

beforeAll(async () => {
  proxied = await proxyCluster(cluster());
});
afterAll(async () => {
  await proxied?.close();
});

type Kind = "incr" | "set" | "get";

describe("a reset in the middle of a pipeline's replies", () => {
  it("only that node's commands are affected: idempotent ones resent, INCRs flagged outcomeUnknown, none applied twice", async () => {
    const dev = cluster();
    const primaries = (await dev.refresh()).filter((node) => node.role === "primary");
    const victim = primaries[0]!;
    const ownerOf = (key: string) => {
      const slot = keySlot(key);
      return primaries.find((node) => node.slots.some(([start, end]) => slot >= start && slot <= end))!;
    };
    const client = clients.create({
      nodes: proxied.seeds,
      natMap: proxied.natMap,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    await client.connect();

    // Every INCR has a counter of its own, so its count says whether it ran.
    const run = `r${Date.now()}`;
    const kinds: Kind[] = [];
    const keys: string[] = [];
    const pipeline = client.pipeline();
    for (let i = 0; i < COMMANDS; i++) {
      const kind: Kind = i % 3 === 0 ? "incr" : i % 3 === 1 ? "set" : "get";
      const key = kind === "get" ? `${run}:s:${i - 1}` : `${run}:${kind === "incr" ? "c" : "s"}:${i}`;
      kinds.push(kind);
      keys.push(key);
      if (kind === "incr") pipeline.incr(key);
      else if (kind === "set") pipeline.set(key, `v${i}`);
      else pipeline.get(key);
    }
    const victimCommands = keys.filter((key) => ownerOf(key) === victim).length;
    expect(victimCommands).toBeGreaterThan(COMMANDS / 5);

    // About a third of the victim's replies get through (":1\r\n" and "+OK\r\n" are 4 and 5
    // bytes; 7 bytes on average with the GETs), then the connection is reset mid-stream.
    const proxy = proxied.proxyOf(victim.port);
    proxy.resetAfter(Math.floor((victimCommands * 7) / 3) + 1, "toClient");
    let results: unknown[];
    try {
      results = await pipeline.exec();
    } finally {
      proxy.heal();
    }
    expect(proxy.counters.resets).toBe(1);

    const onVictim = (i: number) => ownerOf(keys[i]!) === victim;
    const failures = results
      .map((result, i) => ({ i, result }))
      .filter(({ result }) => result instanceof Error);
    // Other nodes: nothing failed. The victim: only INCRs, and only as "may or may not have run".
    expect(failures.filter(({ i }) => !onVictim(i)).map(({ result }) => describeError(result))).toEqual([]);
    const wrong = failures.filter(
      ({ i, result }) =>
        kinds[i] !== "incr" || !(result instanceof ConnectionError) || result.outcomeUnknown !== true,
    );
    expect(wrong.map(({ i, result }) => `${kinds[i]}: ${describeError(result)}`)).toEqual([]);
    const flagged = new Set(failures.map(({ i }) => i));
    expect(flagged.size).toBeGreaterThan(0);
    // Some of the victim's commands were answered before the reset, some resent after it.
    const victimOk = results.filter((result, i) => onVictim(i) && !(result instanceof Error)).length;
    expect(victimOk).toBeGreaterThan(victimCommands / 10);
    expect(client.stats().retries).toBeGreaterThan(0);

    // Replies: each resolved INCR saw its counter go 0 → 1; SETs said OK; GETs read their SET.
    const badReplies = results
      .map((result, i) => ({ i, result }))
      .filter(({ i, result }) => !flagged.has(i) && result !== expected(kinds[i]!, i));
    expect(badReplies.slice(0, 5).map(({ i, result }) => `${kinds[i]} #${i}: ${String(result)}`)).toEqual([]);

    // The data: resolved INCRs ran exactly once, flagged ones at most once.
    const counters = keys.filter((_, i) => kinds[i] === "incr");
    const counts = await client.mget(...counters);
    const byKey = new Map(counters.map((key, n) => [key, counts[n]]));
    const overcounted = keys
      .map((key, i) => ({ key, i }))
      .filter(({ i }) => kinds[i] === "incr")
      .filter(({ key, i }) => {
        const count = byKey.get(key);
        return flagged.has(i) ? count !== null && count !== "1" : count !== "1";
      });
    expect(overcounted.map(({ key }) => `${key}=${byKey.get(key)}`)).toEqual([]);
    await client.del(...keys);
  });
});

function expected(kind: Kind, i: number): unknown {
  if (kind === "incr") return 1;
  if (kind === "set") return "OK";
  return `v${i - 1}`;
}
