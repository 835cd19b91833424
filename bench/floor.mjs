// @ts-check
/**
 * The Node floor: W1 and W3 (GETs, 1 and 1,024 in flight) with no client at all, only what
 * any Node cluster client must do for a GET — the key's slot (`cluster-key-slot`), one
 * `net` socket per primary, the GETs of a tick written as one string, the bulk replies parsed
 * by hand, a promise per GET. Nothing else: no timeouts, no reconnects, no retries beyond
 * following MOVED.
 *
 * Why it is in the bench: the C ceiling says what the servers can do, not what Node can.
 * W1 ÷ floor and W3 ÷ floor are what the client costs over Node's own event loop and
 * sockets; floor ÷ ceiling is what Node costs over C. And redis-benchmark's `-c 1` (W1's
 * ceiling) is one connection to one primary, so all its GETs go to the same server process,
 * while W1's walk visits every primary: switching between server processes on two shared
 * cores costs latency by itself, and the floor, walking W1's keys, pays it too.
 */
import { connect as netConnect } from "node:net";
import { parseAddress, slotOf } from "./clients.mjs";

/** A reply longer than this ends the connection: the floor only reads 100-byte values. */
const MAX_REPLY_BYTES = 1 << 20;
const CR = 0x0d;
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * One GET waiting for its reply on one socket.
 *
 * @typedef {object} PendingGet
 * @property {string} key
 * @property {(value: unknown) => void} resolve
 * @property {(error: Error) => void} reject
 */

/** A socket to one node, its replies parsed in order (RESP2 bulk strings and lines only). */
class FloorConnection {
  /** @type {PendingGet[]} */
  #waiting = [];
  /** @type {Buffer | undefined} the bytes of a reply that has not fully arrived */
  #partial;
  /** @type {import("node:net").Socket} */
  #socket;
  /** @type {(pending: PendingGet, slot: number, address: string) => void} */
  #onMoved;
  /** GETs of this tick not yet handed to the socket. */
  #unwritten = "";
  #flush = () => {
    this.#socket.write(this.#unwritten);
    this.#unwritten = "";
  };

  /**
   * @param {string} address
   * @param {(pending: PendingGet, slot: number, address: string) => void} onMoved
   */
  constructor(address, onMoved) {
    this.#onMoved = onMoved;
    // Reads land in one buffer shared by every socket (as in rediscluster), not in a fresh
    // 64 KiB buffer per read, which Node's 'data' events would allocate.
    this.#socket = netConnect({
      ...parseAddress(address),
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes) => {
          this.#onData(READ_BUFFER.subarray(0, bytes));
          return true;
        },
      },
    });
    this.#socket.on("error", (error) => this.#failAll(error));
    this.#socket.on("close", () => this.#failAll(new Error(`the connection to ${address} closed`)));
  }

  /** @param {PendingGet} pending */
  send(pending) {
    this.#waiting.push(pending);
    const length = Buffer.byteLength(pending.key);
    // The GETs of one tick go out in one write (W3: the replies of one read trigger many).
    if (this.#unwritten === "") process.nextTick(this.#flush);
    this.#unwritten += `*2\r\n$3\r\nGET\r\n$${length}\r\n${pending.key}\r\n`;
  }

  close() {
    this.#socket.destroy();
  }

  /** @param {Buffer} chunk */
  #onData(chunk) {
    let data = this.#partial === undefined ? chunk : Buffer.concat([this.#partial, chunk]);
    this.#partial = undefined;
    while (data.length > 0) {
      const consumed = this.#parseOne(data);
      if (consumed === 0) break;
      data = data.subarray(consumed);
    }
    if (data.length > MAX_REPLY_BYTES) {
      this.#socket.destroy(new Error(`a reply over ${MAX_REPLY_BYTES} bytes`));
    } else if (data.length > 0) {
      // The rest of a reply that has not fully arrived outlives the shared read buffer.
      this.#partial = Buffer.from(data);
    }
  }

  /**
   * Settles the first waiting GET from the front of `data`.
   *
   * @param {Buffer} data
   * @returns {number} bytes consumed, 0 while the reply is incomplete
   */
  #parseOne(data) {
    const lineEnd = data.indexOf(CR);
    if (lineEnd < 0 || lineEnd + 1 >= data.length) return 0;
    const type = String.fromCharCode(/** @type {number} */ (data[0]));
    const pending = this.#waiting.shift();
    if (pending === undefined) {
      this.#socket.destroy(new Error("a reply nobody asked for"));
      return data.length;
    }
    if (type === "$") {
      const length = Number(data.toString("latin1", 1, lineEnd));
      if (length < 0) {
        pending.resolve(null);
        return lineEnd + 2;
      }
      const end = lineEnd + 2 + length;
      if (data.length < end + 2) {
        this.#waiting.unshift(pending);
        return 0;
      }
      pending.resolve(data.toString("utf8", lineEnd + 2, end));
      return end + 2;
    }
    const line = data.toString("utf8", 1, lineEnd);
    if (type === "-" && line.startsWith("MOVED ")) {
      const [, slot, address] = line.split(" ");
      this.#onMoved(pending, Number(slot), address ?? "");
    } else if (type === "-") {
      pending.reject(new Error(line));
    } else if (type === "+" || type === ":") {
      pending.resolve(line);
    } else {
      pending.reject(new Error(`a ${type} reply, which the floor does not read`));
      this.#socket.destroy();
      return data.length;
    }
    return lineEnd + 2;
  }

  /** @param {Error} error */
  #failAll(error) {
    for (const pending of this.#waiting.splice(0)) pending.reject(error);
  }
}

/** Only GETs (W1, W3) run on the floor. */
const notMeasured = () => Promise.reject(new Error("the Node floor runs W1 and W3 (GET) only"));

/**
 * The floor as the bench drives a client (`runOnce`): `get` only (W1 and W3). The slot
 * table starts empty (every key to the first seed) and is filled by the MOVED replies of the
 * reply check and the warm-up, before anything is timed.
 *
 * @type {Pick<import("./clients.mjs").ClientSpec, "label" | "connect">}
 */
export const NODE_FLOOR = {
  label: "raw Node socket",
  async connect(seeds) {
    /** @type {Map<string, FloorConnection>} */
    const connections = new Map();
    /** @type {(FloorConnection | undefined)[]} */
    const bySlot = [];
    /** @param {string} address */
    const connectionTo = (address) => {
      let connection = connections.get(address);
      if (connection === undefined) {
        connection = new FloorConnection(address, (pending, slot, target) => {
          const owner = connectionTo(target);
          bySlot[slot] = owner;
          owner.send(pending);
        });
        connections.set(address, connection);
      }
      return connection;
    };
    const first = connectionTo(/** @type {string} */ (seeds[0]));
    return {
      get: (key) =>
        new Promise((resolve, reject) => {
          (bySlot[slotOf(key)] ?? first).send({ key, resolve, reject });
        }),
      set: notMeasured,
      pipelineGet: notMeasured,
      mget: notMeasured,
      spublish: notMeasured,
      transaction: notMeasured,
      script: notMeasured,
      async close() {
        for (const connection of connections.values()) connection.close();
      },
      stats: () => ({}),
    };
  },
};
