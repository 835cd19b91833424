// @ts-check
/** What a result came from: the machine, the runtimes and the exact client versions. */
import { execFileSync } from "node:child_process";
import { cpus, platform, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { CLIENTS, installedVersion } from "./clients.mjs";

/**
 * @typedef {object} MachineInfo
 * @property {string} cpuModel
 * @property {number} cores logical CPUs
 * @property {number} totalMemoryBytes
 * @property {string} os
 * @property {string} node
 * @property {string} redisServer the server version the measured cluster reports
 * @property {Record<string, string>} clients package → installed version
 * @property {string} commit git commit of this checkout (with "-dirty" if src/ has changes)
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** @param {string[]} args */
function git(args) {
  try {
    return execFileSync("git", args, {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * @param {string} redisServerVersion as reported by the cluster (INFO server)
 * @returns {MachineInfo}
 */
export function describeMachine(redisServerVersion) {
  const cpuList = cpus();
  /** @type {Record<string, string>} */
  const clients = {};
  for (const spec of CLIENTS) clients[spec.packageName] = installedVersion(spec.packageName);
  const commit = git(["rev-parse", "--short", "HEAD"]);
  const dirty = git(["status", "--porcelain", "--", "src"]);
  return {
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cores: cpuList.length,
    totalMemoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    redisServer: redisServerVersion,
    clients,
    commit: commit === undefined ? "unknown" : dirty ? `${commit}-dirty` : commit,
  };
}

/**
 * `redis_version` from an INFO reply.
 *
 * @param {unknown} info
 */
export function redisVersionFromInfo(info) {
  const match = /^redis_version:(\S+)/m.exec(String(info));
  return match?.[1] ?? "unknown";
}
