// @ts-check
/** Summaries of samples: medians across rounds, percentiles of latencies. */

/**
 * @typedef {object} Summary
 * @property {number} median
 * @property {number} min
 * @property {number} max
 * @property {number[]} samples in the order they were taken
 */

/**
 * Median, min and max of the samples (NaN for none). The median of an even count is the
 * mean of the two middle values.
 *
 * @param {readonly number[]} samples
 * @returns {Summary}
 */
export function summarize(samples) {
  if (samples.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] };
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] ?? Number.NaN;
  const median = sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
  return {
    median,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    samples: [...samples],
  };
}

/**
 * The `fraction` percentile (0 < fraction ≤ 1) of the first `count` values, nearest rank:
 * the smallest value with at least that fraction of the values at or below it. Sorts the
 * given prefix in place.
 *
 * @param {Float64Array} values
 * @param {number} count
 * @param {number} fraction
 */
export function percentile(values, count, fraction) {
  if (count === 0) return Number.NaN;
  const sorted = values.subarray(0, count).sort();
  const rank = Math.max(1, Math.ceil(fraction * count));
  return sorted[rank - 1] ?? Number.NaN;
}

/**
 * A growable log of latencies in milliseconds, in a typed array so that recording one does
 * not allocate.
 */
export class LatencyLog {
  #values = new Float64Array(1 << 16);
  #count = 0;

  /** @param {number} milliseconds */
  record(milliseconds) {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = milliseconds;
  }

  get count() {
    return this.#count;
  }

  /** @param {number} fraction */
  percentile(fraction) {
    return percentile(this.#values, this.#count, fraction);
  }
}
