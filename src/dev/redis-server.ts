/**
 * Finding the redis-server executable and checking that it is recent enough: the dev
 * cluster uses commands that appeared in Redis 7.0 (CLUSTER ADDSLOTSRANGE, CLUSTER SHARDS).
 */
import { execFile } from "node:child_process";

/** The oldest major version the dev cluster works with. */
export const MIN_REDIS_MAJOR = 7;

/** A redis-server binary found and checked to be recent enough. */
export interface RedisServerBinary {
  /** What to spawn: the path or command name that was checked. */
  path: string;
  /** e.g. `"7.0.15"`. */
  version: string;
  /** The major version (at least `MIN_REDIS_MAJOR`). */
  major: number;
}

/** How to get a suitable redis-server, for error messages. */
export const INSTALL_HINT =
  "Install Redis 7 or newer: `apt-get install -y redis-server` on Debian/Ubuntu (as root), " +
  "`brew install redis` on macOS; or give the path of a redis-server binary " +
  "(the `redisServer` option, or `--redis-server` on the command line).";

/**
 * Runs `<path> --version` and parses it. Throws an Error that says how to install Redis when
 * the binary is missing, does not run, or is older than {@link MIN_REDIS_MAJOR}.
 *
 * @example
 * const { version } = await findRedisServer(); // "7.0.15"
 */
export function findRedisServer(path = "redis-server"): Promise<RedisServerBinary> {
  return new Promise((resolve, reject) => {
    execFile(path, ["--version"], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
        reject(
          new Error(
            `${missing ? `redis-server not found (${path})` : `could not run ${path} --version (${error.message})`}. ${INSTALL_HINT}`,
            { cause: error },
          ),
        );
        return;
      }
      const parsed = parseRedisVersion(stdout);
      if (!parsed) {
        reject(
          new Error(`${path} --version printed no version we understand: ${stdout.trim()}. ${INSTALL_HINT}`),
        );
        return;
      }
      if (parsed.major < MIN_REDIS_MAJOR) {
        reject(
          new Error(
            `${path} is Redis ${parsed.version}; the dev cluster needs ${MIN_REDIS_MAJOR}.0 or newer. ${INSTALL_HINT}`,
          ),
        );
        return;
      }
      resolve({ path, ...parsed });
    });
  });
}

/**
 * Reads the version out of `redis-server --version` (`Redis server v=7.0.15 sha=...`;
 * Valkey prints `Valkey server v=8.0.1 ...`).
 */
export function parseRedisVersion(text: string): { version: string; major: number } | undefined {
  const match = /\bv=(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!match) return undefined;
  return { version: `${match[1]}.${match[2]}.${match[3]}`, major: Number(match[1]) };
}
