// Makes sure redis-server 7+ is on PATH before the tests, the demo or the benchmark run:
// they all start a local cluster from it. Silent when it is there. As root on Debian or
// Ubuntu (a fresh CI machine) it installs the distribution's package, saying what it runs;
// anywhere else it says how to install Redis and exits 1.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const MIN_MAJOR = 7;

/** The major version of the redis-server on PATH, or undefined if there is none. */
function redisServerMajor() {
  try {
    const output = execFileSync("redis-server", ["--version"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const match = /\bv=(\d+)\./.exec(output);
    return match ? { major: Number(match[1]), text: output.trim() } : undefined;
  } catch {
    return undefined;
  }
}

function run(command, args) {
  process.stderr.write(`ensure-redis: running ${[command, ...args].join(" ")}\n`);
  const result = spawnSync(command, args, {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    process.stderr.write(`ensure-redis: ${command} failed (${why})\n`);
    process.exit(1);
  }
}

const found = redisServerMajor();
if (found && found.major >= MIN_MAJOR) process.exit(0);

const reason = found
  ? `redis-server on PATH is too old (${found.text}); Redis ${MIN_MAJOR} or newer is needed`
  : "redis-server is not on PATH";
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const isDebian = existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get");

if (isRoot && isDebian && !found) {
  process.stderr.write(`ensure-redis: ${reason}; installing the redis-server package.\n`);
  run("apt-get", ["update"]);
  run("apt-get", ["install", "-y", "--no-install-recommends", "redis-server"]);
  const installed = redisServerMajor();
  if (installed && installed.major >= MIN_MAJOR) {
    process.stderr.write(`ensure-redis: installed ${installed.text}\n`);
    process.exit(0);
  }
  process.stderr.write(
    `ensure-redis: the distribution's redis-server is ${installed ? installed.text : "still missing"}; ` +
      `Redis ${MIN_MAJOR}+ is needed (Debian 12+ / Ubuntu 24.04+ ship it, or use packages.redis.io).\n`,
  );
  process.exit(1);
}

process.stderr.write(
  `ensure-redis: ${reason}.\n` +
    "Install Redis 7 or newer and run this again:\n" +
    "  Debian/Ubuntu:  sudo apt-get install -y redis-server\n" +
    "  macOS:          brew install redis\n" +
    "  other:          https://redis.io/docs/latest/operate/oss_and_stack/install/\n",
);
process.exit(1);
