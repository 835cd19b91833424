/**
 * redis-server processes, handled by PID only: a cluster started by the CLI is stopped by
 * another process that never held a ChildProcess object, so every operation here works
 * from a number.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { delay } from "./poll.js";

/** A redis-server process started by the dev cluster. */
export interface SpawnedServer {
  /** Its OS process id. */
  pid: number;
}

/**
 * Starts `redisServer configPath` in `cwd`. Its stdout/stderr go to `outputPath` (Redis
 * writes its own log to the `logfile` of the config; this file catches what it prints
 * before that, e.g. a config error). With `detached`, the process gets its own session
 * and outlives this one (the CLI); otherwise it stays in our process group, so Ctrl-C in a
 * terminal reaches it too. Either way it does not keep our event loop alive.
 */
export async function spawnRedisServer(options: {
  redisServer: string;
  configPath: string;
  cwd: string;
  outputPath: string;
  detached: boolean;
}): Promise<SpawnedServer> {
  const outputFd = openSync(options.outputPath, "a");
  try {
    const child = spawn(options.redisServer, [options.configPath], {
      cwd: options.cwd,
      detached: options.detached,
      stdio: ["ignore", outputFd, outputFd],
    });
    const pid = child.pid;
    if (pid === undefined) {
      // spawn() reports ENOENT and friends asynchronously, through 'error'.
      const error = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new Error(`could not start ${options.redisServer}: ${error.message}`, { cause: error });
    }
    child.on("error", () => {
      // Signalling an exited child can emit 'error'; the PID-based code owns the outcome.
    });
    child.unref();
    return { pid };
  } finally {
    closeSync(outputFd);
  }
}

/**
 * True while the process exists and is not a zombie. A zombie counts as gone: when no
 * one reaps it (PID 1 of some containers does not), kill(pid, 0) keeps succeeding forever.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const state = procState(pid);
  // A zombie whose other threads are still exiting (redis-server has background threads)
  // still holds its sockets: its ports are not free yet.
  if (state === "Z") return liveThreads(pid) > 1;
  return state !== "X";
}

/** Threads of a process per /proc/<pid>/status (0 when unreadable). */
function liveThreads(pid: number): number {
  try {
    const match = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * True when the process is stopped (SIGSTOP): it holds its ports but answers nothing.
 * Only Linux can tell (from /proc); elsewhere this says false.
 */
export function isProcessStopped(pid: number): boolean {
  const state = procState(pid);
  return state === "T" || state === "t";
}

/**
 * True when `pid` looks like a redis-server we may signal: guards against a PID that was
 * reused by another program after our node died (a stale state file). Where /proc does
 * not exist (macOS), trusts the PID.
 */
export function isRedisServerProcess(pid: number, redisServer: string): boolean {
  if (!isProcessAlive(pid)) return false;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return process.platform !== "linux";
  }
  // Redis rewrites its title to "<argv0> 127.0.0.1:<port> [cluster]".
  return commandLine.includes(basename(redisServer)) || commandLine.includes("redis-server");
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Resolves once the process has exited (polled: the PID may not be our child). */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadlineAt = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadlineAt) return false;
    await delay(10);
  }
  return true;
}

/**
 * Stops processes: SIGTERM (plus SIGCONT, as a paused process acts on nothing), then
 * SIGKILL for any still running after `graceMs`, then waits until all have exited.
 */
export async function terminateProcesses(pids: readonly number[], graceMs: number): Promise<void> {
  for (const pid of pids) {
    signalProcess(pid, "SIGTERM");
    signalProcess(pid, "SIGCONT");
  }
  const exited = await Promise.all(pids.map((pid) => waitForExit(pid, graceMs)));
  const stubborn = pids.filter((_, index) => !exited[index]);
  for (const pid of stubborn) signalProcess(pid, "SIGKILL");
  const killed = await Promise.all(stubborn.map((pid) => waitForExit(pid, 10_000)));
  const left = stubborn.filter((_, index) => !killed[index]);
  if (left.length > 0) throw new Error(`processes ${left.join(", ")} did not exit after SIGKILL`);
}

/** The one-letter state in /proc/<pid>/stat (`R`, `S`, `T`, `Z`, ...), if readable. */
function procState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // "pid (comm) S ...": comm may contain spaces and parentheses, so look after the last ')'.
  const close = stat.lastIndexOf(")");
  return close === -1 ? undefined : stat.charAt(close + 2);
}
