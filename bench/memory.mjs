// @ts-check
/**
 * W6, the parent's side: forks memory-child.mjs once per client (a fresh process each, so
 * that no client pays for another's heap), runs the reshard steps a child asks for, and
 * collects what the child measured.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./memory-child.mjs", import.meta.url));

/**
 * @typedef {object} MemoryChildConfig
 * @property {string} clientId
 * @property {string[]} seeds
 * @property {number} gets measured GETs
 * @property {number} warmupGets GETs before the "after warm-up" reading
 * @property {number} inFlight
 * @property {boolean} reshard ask the parent for two reshard steps during the GETs
 */

/**
 * @typedef {object} MemorySnapshot
 * @property {number} heapUsedBytes after two full GCs
 * @property {number} heapTotalBytes
 * @property {number} rssBytes
 * @property {number} externalBytes
 */

/**
 * @typedef {object} MemoryResult
 * @property {number} gets
 * @property {number} opsPerSecond
 * @property {number} errors GETs that rejected
 * @property {number} wrongReplies GETs that resolved with something other than the value
 * @property {string | undefined} firstError
 * @property {number} reshardSteps reshard steps asked for (0 or 2)
 * @property {string | undefined} reshardError
 * @property {MemorySnapshot} baseline before the client module was loaded
 * @property {MemorySnapshot} [afterConnect] the client connected, its topology loaded, nothing
 *   sent yet (the baseline issue 18's "RSS growth over 1M GETs" is measured from)
 * @property {MemorySnapshot} afterWarmup
 * @property {MemorySnapshot} end after every GET and every reshard step
 * @property {number} maxRssBytes peak RSS of the child
 * @property {Record<string, number>} clientStats the client's own counters, if it has any
 */

/**
 * @typedef {{ type: "resharded", step: number } | { type: "reshard-failed", step: number, error: string }} ParentMessage
 * @typedef {{ type: "reshard", step: number } | { type: "result", result: MemoryResult }} ChildMessage
 */

/**
 * Runs one child to completion.
 *
 * @param {MemoryChildConfig} config
 * @param {((step: number) => Promise<void>) | undefined} reshard runs reshard step 1 or 2
 * @param {number} timeoutMs the child is killed (by its PID) past this
 * @returns {Promise<MemoryResult>}
 */
export function measureMemory(config, reshard, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [JSON.stringify(config)], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    /** @type {MemoryResult | undefined} */
    let result;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`W6 ${config.clientId}: no result within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("message", (/** @type {ChildMessage} */ message) => {
      if (message.type === "result") {
        result = message.result;
        return;
      }
      const step = message.step;
      /** @param {ParentMessage} reply */
      const answer = (reply) => {
        if (child.connected) child.send(reply);
      };
      if (reshard === undefined) {
        answer({ type: "reshard-failed", step, error: "no cluster to reshard" });
        return;
      }
      reshard(step).then(
        () => answer({ type: "resharded", step }),
        (/** @type {unknown} */ error) =>
          answer({
            type: "reshard-failed",
            step,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else reject(new Error(`W6 ${config.clientId}: the child exited (${signal ?? code}) without a result`));
    });
  });
}
