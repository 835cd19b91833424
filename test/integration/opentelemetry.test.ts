/**
 * examples/opentelemetry.mjs's wiring on the shared real cluster, with OpenTelemetry's SDK
 * (devDependencies) and an in-memory exporter: one CLIENT span per command, pipeline and
 * transaction, following the database semantic conventions, children of the caller's span
 * (a pipeline's commands of the pipeline's), naming the node that answered, with the error
 * code of a failed command, and never a key or a value.
 */
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: the example is plain JavaScript, without type declarations
import { instrumentRedisCluster } from "../../examples/opentelemetry.mjs";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { ReplyError } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";

const SECRET_KEY = "otel-key-4b7d";
const SECRET_VALUE = "otel-value-e21c";

let dev: DevCluster;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("rediscluster-test");
let stop: () => void;

beforeAll(async () => {
  dev = await sharedDevCluster();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  stop = instrumentRedisCluster(tracer);
});
afterAll(async () => {
  stop();
  context.disable();
  await provider.shutdown();
});
afterEach(() => exporter.reset());
const clients = useClients();

function ownerOf(slot: number): DevNode {
  const owner = dev.nodes.find(
    (node) => node.role === "primary" && node.slots.some(([start, end]) => slot >= start && slot <= end),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

/** The spans recorded so far whose name is `name`. */
function named(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name);
}

describe("examples/opentelemetry.mjs", () => {
  it("a span per command, child of the caller's span, with the DB semantic conventions' attributes", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    exporter.reset(); // the topology discovery's spans (CLUSTER SHARDS) are not this test's
    await tracer.startActiveSpan("request", async (request) => {
      expect(await client.set(SECRET_KEY, SECRET_VALUE)).toBe("OK");
      expect(await client.get(SECRET_KEY)).toBe(SECRET_VALUE);
      request.end();
    });
    await client.del(SECRET_KEY);
    const [request] = named("request");
    const owner = ownerOf(keySlot(SECRET_KEY));
    for (const name of ["SET", "GET"]) {
      const [span] = named(name);
      expect(span, `a ${name} span`).toBeDefined();
      expect(span!.kind).toBe(SpanKind.CLIENT);
      expect(parentOf(span!)).toBe(idOf(request!));
      expect(span!.attributes).toEqual({
        "db.system.name": "redis",
        "db.operation.name": name,
        "db.namespace": "0",
        "server.address": owner.host,
        "server.port": owner.port,
        "rediscluster.slot": keySlot(SECRET_KEY),
        "rediscluster.attempts": 1,
        "rediscluster.redirections": 0,
      });
      expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    }
    const everything = JSON.stringify(
      exporter.getFinishedSpans().map((span) => [span.name, span.attributes]),
    );
    expect(everything.includes(SECRET_KEY)).toBe(false);
    expect(everything.includes(SECRET_VALUE)).toBe(false);
  });

  it("a failed command's span: status ERROR, error.type and db.response.status_code the server's code", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.set(SECRET_KEY, SECRET_VALUE);
    const failure = await client.hget(SECRET_KEY, "field").catch((caught: unknown) => caught);
    await client.del(SECRET_KEY);
    expect(failure).toBeInstanceOf(ReplyError);
    const [span] = named("HGET");
    expect(span!.status).toMatchObject({ code: SpanStatusCode.ERROR });
    expect(span!.attributes).toMatchObject({
      "error.type": "WRONGTYPE",
      "db.response.status_code": "WRONGTYPE",
    });
  });

  it("a pipeline's span has its commands as children, each on its own node; a transaction is one MULTI span", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const keys = [0, 6000, 12000].map((slot) => keyInSlot(slot, "otel-pipe"));
    const tagged = keyInSlot(42, "otel-tx");
    await tracer.startActiveSpan("request", async (request) => {
      await client.pipeline().incr(keys[0]!).incr(keys[1]!).incr(keys[2]!).exec();
      await client.multi().incr(tagged).expire(tagged, 60).exec();
      request.end();
    });
    await client.del(...keys, tagged);
    const [request] = named("request");
    const [pipeline] = named("PIPELINE");
    expect(parentOf(pipeline!)).toBe(idOf(request!));
    expect(pipeline!.attributes).toMatchObject({
      "db.system.name": "redis",
      "db.operation.name": "PIPELINE",
      "db.operation.batch.size": 3,
    });
    const incrs = named("INCR");
    expect(incrs).toHaveLength(3);
    expect(incrs.map(parentOf)).toEqual([idOf(pipeline!), idOf(pipeline!), idOf(pipeline!)]);
    expect(incrs.map((span) => span.attributes["server.port"]).sort()).toEqual(
      keys.map((key) => ownerOf(keySlot(key)).port).sort(),
    );
    const [multi] = named("MULTI");
    expect(parentOf(multi!)).toBe(idOf(request!));
    expect(multi!.attributes).toMatchObject({
      "db.operation.name": "MULTI",
      "db.operation.batch.size": 2,
      "server.port": ownerOf(42).port,
      "rediscluster.slot": 42,
    });
    expect(named("EXPIRE")).toEqual([]); // inside the transaction, not spans of their own
  });

  it("unsubscribes: no span once the returned function ran", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const tracerOnly = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const undo = instrumentRedisCluster(tracerOnly.getTracer("second"));
    await client.get("otel-once");
    expect(named("GET")).toHaveLength(2); // both subscribers
    undo();
    exporter.reset();
    await client.get("otel-once");
    expect(named("GET")).toHaveLength(1); // only the file's own
    await tracerOnly.shutdown();
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
