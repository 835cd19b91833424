// OpenTelemetry spans for rediscluster, from its diagnostics_channel channels: no code in
// the client, no monkey-patching. Run it: `npm run build && node examples/opentelemetry.mjs
// [host:port,...]` (without seeds it starts a throwaway local cluster) prints the spans.
//
// `instrumentRedisCluster(tracer)` is the part to copy: it needs only `@opentelemetry/api`
// (the example's devDependency; the client itself depends on nothing) and follows the
// database semantic conventions:
//
//   span                     kind    attributes
//   GET, SET, CLUSTER SHARDS CLIENT  db.system.name "redis", db.operation.name, db.namespace "0",
//                                    server.address, server.port (the node that answered),
//                                    rediscluster.slot / .attempts / .redirections,
//                                    error.type + db.response.status_code (the error's code)
//   PIPELINE, MULTI          CLIENT  the same, and db.operation.batch.size; a pipeline's
//                                    commands are its children (each on its own node)
//   rediscluster.connect     CLIENT  server.address, server.port (with { connections: true })
//
// A command's span is a child of whatever span is active where it was called (with a context
// manager, e.g. AsyncLocalStorageContextManager). Argument values and replies are never
// published by the client, so never recorded here either.
import { channel, tracingChannel } from "node:diagnostics_channel";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

/** The channel names rediscluster publishes on (also exported by the package as CHANNELS). */
const CHANNEL_NAMES = {
  command: "rediscluster:command",
  batch: "rediscluster:batch",
  connect: "rediscluster:connect",
  topology: "rediscluster:topology",
};

/**
 * Subscribes `tracer` to rediscluster's tracing channels. Returns the function that
 * unsubscribes it.
 *
 * @param {import("@opentelemetry/api").Tracer} tracer
 * @param {{ connections?: boolean }} [options] `connections`: a span per socket opened
 * @returns {() => void}
 */
export function instrumentRedisCluster(tracer, options = {}) {
  /** The span of each published context (commands, batches, connects). */
  const spans = new WeakMap();
  const undo = [];

  /** Subscribes handlers to one tracing channel; records how to undo it. */
  const follow = (name, handlers) => {
    const traced = tracingChannel(name);
    traced.subscribe(handlers);
    undo.push(() => traced.unsubscribe(handlers));
  };

  const startSpan = (name, ctx, parentContext, attributes) => {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parentContext);
    spans.set(ctx, span);
  };

  /** Sets the attributes known only once the command settled, then ends the span. */
  const endSpan = (ctx) => {
    const span = spans.get(ctx);
    if (span === undefined) return;
    spans.delete(ctx);
    span.setAttributes(nodeAttributes(ctx));
    if (ctx.error !== undefined) {
      const code = errorCode(ctx.error);
      span.setAttribute("error.type", code);
      if (ctx.error.name === "ReplyError") span.setAttribute("db.response.status_code", code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error.message });
    }
    span.end();
  };

  const settled = { asyncEnd: endSpan, end() {}, asyncStart() {}, error() {} };

  follow(CHANNEL_NAMES.command, {
    start(ctx) {
      // A pipeline's command is a child of the pipeline; any other of the caller's span.
      const batchSpan = ctx.batch === undefined ? undefined : spans.get(ctx.batch);
      const parent = batchSpan === undefined ? context.active() : trace.setSpan(context.active(), batchSpan);
      startSpan(ctx.command, ctx, parent, {
        "db.system.name": "redis",
        "db.operation.name": ctx.command,
        "db.namespace": String(ctx.database),
        ...(ctx.batchSize === undefined ? {} : { "db.operation.batch.size": ctx.batchSize }),
      });
    },
    ...settled,
  });

  follow(CHANNEL_NAMES.batch, {
    start(ctx) {
      startSpan(ctx.batchMode, ctx, context.active(), {
        "db.system.name": "redis",
        "db.operation.name": ctx.batchMode,
        "db.namespace": String(ctx.database),
        "db.operation.batch.size": ctx.batchSize,
      });
    },
    ...settled,
  });

  if (options.connections) {
    follow(CHANNEL_NAMES.connect, {
      start(ctx) {
        startSpan("rediscluster.connect", ctx, context.active(), {
          "db.system.name": "redis",
          "server.address": ctx.serverAddress,
          "server.port": ctx.serverPort,
        });
      },
      ...settled,
    });
  }

  return () => {
    for (const step of undo.splice(0)) step();
  };
}

/** server.address/port and the client's own counters, where the context has them. */
function nodeAttributes(ctx) {
  const attributes = {};
  if (ctx.serverAddress !== undefined) attributes["server.address"] = ctx.serverAddress;
  if (ctx.serverPort !== undefined) attributes["server.port"] = ctx.serverPort;
  if (ctx.slot !== undefined) attributes["rediscluster.slot"] = ctx.slot;
  if (ctx.attempts !== undefined) attributes["rediscluster.attempts"] = ctx.attempts;
  if (ctx.redirections !== undefined) attributes["rediscluster.redirections"] = ctx.redirections;
  return attributes;
}

/** A ReplyError's code is the server's (WRONGTYPE, NOSCRIPT...); the client's are RC_*. */
function errorCode(error) {
  return typeof error.code === "string" && error.code !== "" ? error.code : error.name;
}

// ── run as a script: spans of a few commands, printed ─────────────────────────────────────
if (import.meta.url === `file://${process.argv[1]}`) {
  const { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } = await import(
    "@opentelemetry/sdk-trace-base"
  );
  const { AsyncLocalStorageContextManager } = await import("@opentelemetry/context-async-hooks");
  const { RedisCluster } = await import("../dist/esm/index.js");
  const { startDevCluster } = await import("../dist/esm/dev/index.js");

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
  });
  const tracer = provider.getTracer("rediscluster-example");
  const stop = instrumentRedisCluster(tracer);
  channel(CHANNEL_NAMES.topology).subscribe((message) =>
    console.log(`topology: ${message.shards} shards, ${message.nodes} nodes`),
  );

  const seeds = process.argv[2]?.split(",");
  const dev =
    seeds === undefined ? await startDevCluster({ primaries: 3, replicasPerPrimary: 0 }) : undefined;
  const cluster = new RedisCluster({ nodes: seeds ?? dev.seeds });
  try {
    await tracer.startActiveSpan("checkout", async (request) => {
      await cluster.set("cart:{42}", "3 items");
      await cluster.get("cart:{42}");
      await cluster.pipeline().incr("views:a").incr("views:b").incr("views:c").exec();
      await cluster.multi().incr("cart:{42}:n").expire("cart:{42}:n", 60).exec();
      await cluster.hget("cart:{42}", "x").catch(() => {}); // WRONGTYPE: a span with an error
      await cluster.del("cart:{42}", "cart:{42}:n", "views:a", "views:b", "views:c");
      request.end();
    });
  } finally {
    stop();
    await cluster.close();
    await dev?.stop();
    await provider.shutdown();
  }
}
