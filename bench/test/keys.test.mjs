// @ts-check
import { describe, expect, it } from "vitest";
import {
  BATCH_COUNT,
  BATCH_SIZE,
  buildBenchData,
  KEY_COUNT,
  keyName,
  ORDER_LENGTH,
  VALUE_BYTES,
  valueFor,
} from "../keys.mjs";

describe("buildBenchData", () => {
  const data = buildBenchData();

  it("is the same for the same seed, and differs for another", () => {
    const again = buildBenchData();
    expect(again.order).toEqual(data.order);
    expect(again.batches).toEqual(data.batches);
    expect(buildBenchData(7).order).not.toEqual(data.order);
  });

  it("names 10,000 keys and gives each a 100-byte value that names it", () => {
    expect(data.keys).toHaveLength(KEY_COUNT);
    expect(new Set(data.keys).size).toBe(KEY_COUNT);
    expect(data.keys[42]).toBe(keyName(42));
    for (const index of [0, 9, 10, 999, 9_999]) {
      const value = data.values[index] ?? "";
      expect(Buffer.byteLength(value)).toBe(VALUE_BYTES);
      expect(value.startsWith(`${index}:`)).toBe(true);
    }
  });

  it("walks key numbers in range, and reaches most keys", () => {
    expect(data.order).toHaveLength(ORDER_LENGTH);
    expect(Math.max(...data.order)).toBeLessThan(KEY_COUNT);
    expect(new Set(data.order).size).toBeGreaterThan(KEY_COUNT * 0.99);
  });

  it("builds batches of 100 distinct keys with their values in the same order", () => {
    expect(data.batches).toHaveLength(BATCH_COUNT);
    for (const [b, batch] of data.batches.entries()) {
      expect(new Set(batch).size).toBe(BATCH_SIZE);
      expect(data.batchValues[b]).toEqual(
        batch.map((key) => valueFor(Number(key.slice("bench:key:".length)))),
      );
    }
  });
});
