// @ts-check
import { describe, expect, it } from "vitest";
import { parseBenchmarkCsv } from "../ceiling.mjs";

/** What redis-benchmark 7.0 prints with --cluster --csv (cluster lines first). */
const OUTPUT = [
  "Cluster has 3 master nodes:",
  "",
  "Master 0: 43e6780c1fbf8174ad387c163a141bd6b32a70c1 127.0.0.1:13537",
  "Master 1: 669e67d5856c133f905c0848e7cd302f2ffc9cd4 127.0.0.1:13538",
  "Master 2: 6694620de283e473f164545ac5d15bbe6b75542f 127.0.0.1:13539",
  "",
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
  '"SET","198019.80","2.270","0.120","1.847","5.207","9.967","19.391"',
  '"GET","393700.78","1.282","0.056","1.151","2.823","3.767","13.775"',
  "",
].join("\n");

describe("parseBenchmarkCsv", () => {
  it("reads every test line by its header's columns", () => {
    expect(parseBenchmarkCsv(OUTPUT)).toEqual([
      { test: "SET", opsPerSecond: 198019.8, p50Ms: 1.847, p99Ms: 9.967 },
      { test: "GET", opsPerSecond: 393700.78, p50Ms: 1.151, p99Ms: 3.767 },
    ]);
  });

  it("reads CRLF output", () => {
    expect(parseBenchmarkCsv(OUTPUT.replaceAll("\n", "\r\n"))[1]?.opsPerSecond).toBe(393700.78);
  });

  it("finds nothing without a header (an error message, an older redis-benchmark)", () => {
    expect(parseBenchmarkCsv("Could not connect to Redis at 127.0.0.1:1: Connection refused\n")).toEqual([]);
    expect(parseBenchmarkCsv("")).toEqual([]);
  });

  it("skips lines whose rate is not a number", () => {
    const output = '"test","rps"\n"GET","n/a"\n"SET","12.5"\n';
    expect(parseBenchmarkCsv(output)).toEqual([
      { test: "SET", opsPerSecond: 12.5, p50Ms: Number.NaN, p99Ms: Number.NaN },
    ]);
  });
});
