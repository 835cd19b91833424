import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { sharedDevCluster } from "../helpers/cluster.js";

/** 10,000 keys of every kind: ASCII, unicode (lone surrogates too), binary, with and without tags. */
function sampleKeys(): Array<string | Buffer> {
  const tagged = (body: fc.Arbitrary<string>) =>
    fc
      .tuple(body, body, body, fc.constantFrom("{", "}", "{}", "{{", "}}"))
      .map(([a, b, c, brace]) => `${a}{${b}}${c}${brace}`);
  const text = fc.oneof(
    fc.string({ unit: "grapheme-ascii", maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    tagged(fc.string({ unit: "grapheme-ascii", maxLength: 8 })),
    tagged(fc.string({ unit: "binary", maxLength: 6 })),
  );
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array)),
    fc
      .tuple(
        fc.uint8Array({ maxLength: 6 }),
        fc.uint8Array({ maxLength: 6 }),
        fc.uint8Array({ maxLength: 6 }),
      )
      .map(([a, b, c]) => Buffer.concat([a, Buffer.from("{"), b, Buffer.from("}"), c])),
  );
  const keys = fc.sample(fc.oneof({ arbitrary: text, weight: 3 }, { arbitrary: bytes, weight: 1 }), {
    numRuns: 9_990,
    seed: 20240521,
  });
  keys.push(
    "",
    "foo",
    "{user1000}.following",
    "foo{}{bar}",
    "foo{{bar}}zap",
    "foo{bar}{zap}",
    "\ud800",
    "a{\udc00}b",
  );
  keys.push(Buffer.from([0x7b, 0xff, 0x7d]), Buffer.alloc(0));
  return keys;
}

describe("keySlot against CLUSTER KEYSLOT", () => {
  let command: (...args: Array<string | number | Buffer>) => Promise<unknown>;

  beforeAll(async () => {
    const cluster = await sharedDevCluster();
    const port = Number(cluster.seeds[0]!.split(":")[1]);
    command = (...args) => cluster.command(port, ...args);
  });

  it("agrees with the server on 10,000 keys", async () => {
    const keys = sampleKeys();
    expect(keys).toHaveLength(10_000);
    // Sent all at once: the admin connection writes each as it comes, so they pipeline.
    const slots = await Promise.all(keys.map((key) => command("CLUSTER", "KEYSLOT", key)));
    const mismatches = keys
      .map((key, i) => ({ key, ours: keySlot(key), redis: slots[i] }))
      .filter(({ ours, redis }) => ours !== redis);
    expect(mismatches).toEqual([]);
  });
});
