/**
 * Decoder throughput: our RespDecoder against redis-parser (the parser ioredis uses), on the
 * same realistic reply stream cut into 64 KiB chunks as socket reads would be. Plus a small
 * command-encoding comparison. Run: `npx tsx bench/decode.ts` (under 10 s; `ROUNDS=15` for
 * steadier medians on a busy machine).
 *
 * Rounds are interleaved (every contender once per round, in rotating order) so that
 * machine noise hits all of them alike; medians of CPU time are reported.
 *
 * In Buffer mode the two do different work: redis-parser hands out views of the socket
 * chunk (one kept value pins all 64 KiB of it), ours are private copies. The extra
 * "redis-parser (Buffers, copied)" line is what redis-parser costs once made as safe.
 */
import { createRequire } from "node:module";
import { RespDecoder } from "../src/resp/decoder.js";
import { CommandWriter } from "../src/resp/encoder.js";
import type { RedisArg } from "../src/resp/types.js";

const require = createRequire(import.meta.url);
// redis-parser ships CommonJS without types; this is the slice of its API used here.
const RedisParser = require("redis-parser") as new (options: {
  returnReply: (reply: unknown) => void;
  returnError: (error: unknown) => void;
  returnFatalError?: (error: unknown) => void;
  returnBuffers?: boolean;
}) => { execute(chunk: Buffer): void };

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const CHUNK_BYTES = 64 * 1024;
const STREAM_REPLIES = 100_000;
const WARM_UP_RUNS = 3;

/** A deterministic generator, so that every run decodes the same stream. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

/**
 * The mix of a cache-like workload: small bulk strings (GET), integers (INCR, DEL), +OK (SET),
 * arrays of 10 bulk strings (MGET, LRANGE), nulls (misses) and now and then a 4 KiB value.
 */
function buildStream(): Buffer {
  const next = random(42);
  const text = (length: number): string => {
    let s = "";
    while (s.length < length) s += next().toString(36).slice(2);
    return s.slice(0, length);
  };
  // Written straight into one Buffer: a heap full of garbage from building the stream
  // would tax whichever contender runs when the collector comes to clean it up.
  const stream = Buffer.allocUnsafe(32 * 1024 * 1024);
  let length = 0;
  const append = (piece: string): void => {
    length += stream.write(piece, length, "latin1");
  };
  for (let i = 0; i < STREAM_REPLIES; i++) {
    const pick = next();
    if (pick < 0.4) append(bulk(text(10 + Math.floor(next() * 91))));
    else if (pick < 0.6) append(`:${Math.floor(next() * 1_000_000)}\r\n`);
    else if (pick < 0.8) append("+OK\r\n");
    else if (pick < 0.95) {
      append("*10\r\n");
      for (let k = 0; k < 10; k++) append(bulk(text(10 + Math.floor(next() * 91))));
    } else if (pick < 0.99) append("$-1\r\n");
    else append(bulk(text(4096)));
  }
  return stream.subarray(0, length);
}

function chunksOf(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += CHUNK_BYTES) {
    chunks.push(Buffer.from(stream.subarray(at, at + CHUNK_BYTES)));
  }
  return chunks;
}

type Run = (chunks: Buffer[]) => number;

const contenders: Array<[string, Run]> = [
  [
    "RespDecoder (strings)",
    (chunks) => {
      let replies = 0;
      const decoder = new RespDecoder({
        wantsBuffers: () => false,
        onReply: () => {
          replies++;
        },
        onPush: () => {},
      });
      for (const chunk of chunks) decoder.feed(chunk);
      return replies;
    },
  ],
  [
    "redis-parser (strings)",
    (chunks) => {
      let replies = 0;
      const parser = new RedisParser({
        returnReply: () => {
          replies++;
        },
        returnError: () => {
          replies++;
        },
      });
      for (const chunk of chunks) parser.execute(chunk);
      return replies;
    },
  ],
  [
    "RespDecoder (Buffers)",
    (chunks) => {
      let replies = 0;
      const decoder = new RespDecoder({
        wantsBuffers: () => true,
        onReply: () => {
          replies++;
        },
        onPush: () => {},
      });
      for (const chunk of chunks) decoder.feed(chunk);
      return replies;
    },
  ],
  [
    "redis-parser (Buffers)",
    (chunks) => {
      let replies = 0;
      const parser = new RedisParser({
        returnBuffers: true,
        returnReply: () => {
          replies++;
        },
        returnError: () => {
          replies++;
        },
      });
      for (const chunk of chunks) parser.execute(chunk);
      return replies;
    },
  ],
  [
    // redis-parser's Buffers are views of the socket chunk (each one pins the whole 64 KiB);
    // this is what it costs to make them safe to keep, as ours are.
    "redis-parser (Buffers, copied)",
    (chunks) => {
      let replies = 0;
      const parser = new RedisParser({
        returnBuffers: true,
        returnReply: (reply) => {
          copyBuffers(reply);
          replies++;
        },
        returnError: () => {
          replies++;
        },
      });
      for (const chunk of chunks) parser.execute(chunk);
      return replies;
    },
  ],
];

function copyBuffers(reply: unknown): unknown {
  if (Buffer.isBuffer(reply)) return Buffer.from(reply);
  if (Array.isArray(reply)) {
    for (let i = 0; i < reply.length; i++) reply[i] = copyBuffers(reply[i]);
  }
  return reply;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * CPU time of one run, in milliseconds: user + system time of this process (GC threads
 * included). On a machine shared with other work it varies far less than wall time.
 */
function timeMs(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function benchDecode(): void {
  const stream = buildStream();
  const chunks = chunksOf(stream);
  const megabytes = stream.length / 1e6;
  console.log(
    `decode: ${STREAM_REPLIES} replies, ${megabytes.toFixed(1)} MB in ${chunks.length} chunks of 64 KiB; ` +
      `${ROUNDS} interleaved rounds, medians of CPU time`,
  );
  // Warm-up (the JIT needs a few runs of each), and a check that all see the same replies.
  for (let warmUp = 0; warmUp < WARM_UP_RUNS; warmUp++) {
    for (const [name, run] of contenders) {
      const replies = run(chunks);
      if (replies !== STREAM_REPLIES) throw new Error(`${name} decoded ${replies} replies`);
    }
  }
  const timings = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const [name, run] = contenders[(round + k) % contenders.length]!;
      timings.get(name)!.push(timeMs(() => run(chunks)));
    }
  }
  const medians = new Map([...timings].map(([name, ms]) => [name, median(ms)]));
  // Ratios are medians of per-round ratios: the two runs compared are close in time, so a
  // neighbour's load on this shared machine affects both alike.
  const speedup = (ours: string, theirs: string): string => {
    const oursMs = timings.get(ours)!;
    const theirsMs = timings.get(theirs)!;
    return `x${median(oursMs.map((ms, round) => theirsMs[round]! / ms)).toFixed(2)} vs ${theirs}`;
  };
  for (const [name] of contenders) {
    const ms = medians.get(name)!;
    let ratios = "";
    if (name === "RespDecoder (strings)") ratios = speedup(name, "redis-parser (strings)");
    if (name === "RespDecoder (Buffers)") {
      ratios = `${speedup(name, "redis-parser (Buffers)")}, ${speedup(name, "redis-parser (Buffers, copied)")}`;
    }
    console.log(
      `  ${name.padEnd(30)} ${(megabytes / (ms / 1000)).toFixed(0).padStart(5)} MB/s ` +
        `${((STREAM_REPLIES / ms) * 1000).toFixed(0).padStart(9)} replies/s ` +
        `${ms.toFixed(1).padStart(7)} ms  ${ratios}`,
    );
  }
}

/** What ioredis does per command (Command#toWritable): one string, UTF-8-encoded on write. */
function ioredisStyle(name: string, args: readonly string[]): string {
  let result = `*${args.length + 1}\r\n$${Buffer.byteLength(name)}\r\n${name}\r\n`;
  for (const arg of args) result += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return result;
}

/** The naive way: one Buffer per piece, joined. */
function concatStyle(name: string, args: readonly string[]): Buffer {
  const pieces: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n`)];
  for (const arg of [name, ...args]) {
    const bytes = Buffer.from(arg);
    pieces.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(pieces);
}

function benchEncode(): void {
  const batches = 2_000;
  const perBatch = 100;
  const commands: Array<[string, string[]]> = [];
  for (let i = 0; i < perBatch; i++) {
    commands.push(
      i % 2 === 0
        ? ["SET", [`user:{${i}}:name`, `value-${i}-${"x".repeat(i % 60)}`]]
        : ["GET", [`user:{${i}}:name`]],
    );
  }
  const total = batches * perBatch;
  const ways: Array<[string, () => void]> = [
    [
      "CommandWriter",
      () => {
        const writer = new CommandWriter();
        for (let b = 0; b < batches; b++) {
          for (const [name, args] of commands) writer.write(name, args as RedisArg[]);
          writer.take();
        }
      },
    ],
    [
      "ioredis-style string",
      () => {
        for (let b = 0; b < batches; b++) {
          let batch = "";
          for (const [name, args] of commands) batch += ioredisStyle(name, args);
          Buffer.from(batch, "utf8"); // what socket.write(string) has to do
        }
      },
    ],
    [
      "Buffer.concat per arg",
      () => {
        for (let b = 0; b < batches; b++) {
          const batch: Buffer[] = [];
          for (const [name, args] of commands) batch.push(concatStyle(name, args));
          Buffer.concat(batch);
        }
      },
    ],
  ];
  for (const [, run] of ways) run();
  const timings = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < ways.length; k++) {
      const [name, run] = ways[(round + k) % ways.length]!;
      timings.get(name)!.push(timeMs(run));
    }
  }
  console.log(`encode: ${total} commands (SET/GET, batches of ${perBatch}), medians`);
  const ours = median(timings.get("CommandWriter")!);
  for (const [name] of ways) {
    const ms = median(timings.get(name)!);
    console.log(
      `  ${name.padEnd(30)} ${((total / ms) * 1000).toFixed(0).padStart(9)} commands/s  ${ms.toFixed(1).padStart(7)} ms` +
        (name === "CommandWriter" ? "" : `  (CommandWriter x${(ms / ours).toFixed(2)})`),
    );
  }
}

benchDecode();
benchEncode();
