// @ts-check
/**
 * The data every workload reads: 10,000 keys spread over the slots, their 100-byte values, a
 * shuffled order of key indexes that the workers walk, and batches of 100 distinct keys for
 * the pipeline and MGET workloads. Everything is built once, up front, from a fixed seed, so
 * that every client reads the same keys in the same order and the measured loop allocates
 * no key strings of its own.
 */

export const KEY_COUNT = 10_000;
export const VALUE_BYTES = 100;
export const BATCH_SIZE = 100;

/** Length of the shuffled walk; a power of two so that workers wrap with a mask. */
export const ORDER_LENGTH = 1 << 16;
export const ORDER_MASK = ORDER_LENGTH - 1;
export const BATCH_COUNT = 1 << 10;
export const BATCH_MASK = BATCH_COUNT - 1;

const FILLER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".repeat(2);

/**
 * The value of key `index`: 100 ASCII bytes that start with the key's number, so that a
 * reply can be checked against the key it was asked for (a client that mixed up the order
 * of a pipeline or of a split MGET would be caught).
 *
 * @param {number} index
 */
export function valueFor(index) {
  const head = `${index}:`;
  return head + FILLER.slice(0, VALUE_BYTES - head.length);
}

/**
 * The name of key `index`. A plain counter without hash tags: CRC16 spreads the names
 * uniformly over the 16,384 slots, so every primary holds about a third of them.
 *
 * @param {number} index
 */
export function keyName(index) {
  return `bench:key:${index}`;
}

/**
 * The counter key of key `index`, for the transaction workload (W8): a key of its own
 * (INCR on the 100-byte values would fail), on its own slot.
 *
 * @param {number} index
 */
export function counterKeyName(index) {
  return `bench:tx:${index}`;
}

/**
 * A small deterministic generator (xorshift32): the same seed gives the same walk on every
 * machine, so that two runs read the same keys.
 *
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function seededRandom(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/**
 * @typedef {object} BenchData
 * @property {string[]} keys the key names, index = key number
 * @property {string[]} values the value of each key, index = key number
 * @property {Uint16Array} order a shuffled walk over key numbers (ORDER_LENGTH entries)
 * @property {string[][]} batches BATCH_COUNT lists of BATCH_SIZE distinct key names
 * @property {string[][]} batchValues the values of each batch's keys, in order
 * @property {string[]} counterKeys W8's counter keys, index = key number
 */

/**
 * Builds the keys, the walk and the batches.
 *
 * @param {number} [seed]
 * @returns {BenchData}
 */
export function buildBenchData(seed = 2024) {
  const next = seededRandom(seed);
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => keyName(i));
  const values = Array.from({ length: KEY_COUNT }, (_, i) => valueFor(i));
  const order = new Uint16Array(ORDER_LENGTH);
  for (let i = 0; i < ORDER_LENGTH; i++) order[i] = Math.floor(next() * KEY_COUNT);
  const batches = [];
  const batchValues = [];
  for (let b = 0; b < BATCH_COUNT; b++) {
    /** @type {Set<number>} */
    const picked = new Set();
    while (picked.size < BATCH_SIZE) picked.add(Math.floor(next() * KEY_COUNT));
    batches.push([...picked].map((index) => keys[index] ?? ""));
    batchValues.push([...picked].map((index) => values[index] ?? ""));
  }
  const counterKeys = Array.from({ length: KEY_COUNT }, (_, i) => counterKeyName(i));
  return { keys, values, order, batches, batchValues, counterKeys };
}
