// @ts-check
/**
 * The soak's verdict: does memory or the file-descriptor count say "leak"?
 *
 * Heap (the JS heap plus external memory: a leak of Buffers shows only in the latter): a
 * least-squares line through the samples taken after the warm-up (a leak is
 * a steady climb; garbage collection makes single samples jump both ways, which a fit over
 * many samples averages out). The run fails when the slope is above a threshold in MB per
 * minute. File descriptors: the count after closing the clients may not exceed the count
 * before creating them by more than a small slack (a socket still closing, say).
 */

/**
 * @typedef {object} Fit
 * @property {number} slope y per x unit
 * @property {number} intercept
 * @property {number} r2 share of the variance the line explains (0..1; 0 for a flat line)
 */

/**
 * Least-squares line through points.
 *
 * @param {ReadonlyArray<readonly [number, number]>} points
 * @returns {Fit}
 */
export function linearFit(points) {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: points[0]?.[1] ?? 0, r2: 0 };
  let sumX = 0;
  let sumY = 0;
  for (const [x, y] of points) {
    sumX += x;
    sumY += y;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
    syy += (y - meanY) ** 2;
  }
  if (sxx === 0) return { slope: 0, intercept: meanY, r2: 0 };
  const slope = sxy / sxx;
  return { slope, intercept: meanY - slope * meanX, r2: syy === 0 ? 0 : (sxy * sxy) / (sxx * syy) };
}

/**
 * @typedef {object} MemorySample
 * @property {number} atMs since the start of the run
 * @property {number} heapUsed bytes, after a forced GC when available
 * @property {number} [external] bytes of Buffers and other memory outside the JS heap
 * @property {number} rss bytes
 *
 * @typedef {object} LeakLimits
 * @property {number} warmupMs samples before this are left out of the fit
 * @property {number} heapSlopeMbPerMin the most the heap may climb
 * @property {number} fdSlack descriptors that may stay open after close
 *
 * @typedef {object} LeakVerdict
 * @property {boolean} leak
 * @property {string[]} reasons why it is a leak (empty when it is not)
 * @property {number} heapSlopeMbPerMin
 * @property {number} rssSlopeMbPerMin reported, not judged (the allocator keeps pages)
 * @property {number} samplesFitted
 */

const MB = 1024 * 1024;

/**
 * @param {readonly MemorySample[]} samples
 * @param {{ before: number, after: number }} fds
 * @param {LeakLimits} limits
 * @returns {LeakVerdict}
 */
export function judgeLeak(samples, fds, limits) {
  const fitted = samples.filter((sample) => sample.atMs >= limits.warmupMs);
  const perMinute = (/** @type {(s: MemorySample) => number} */ pick) =>
    linearFit(fitted.map((sample) => [sample.atMs / 60_000, pick(sample) / MB])).slope;
  const heapSlopeMbPerMin = perMinute((sample) => sample.heapUsed + (sample.external ?? 0));
  const rssSlopeMbPerMin = perMinute((sample) => sample.rss);
  const reasons = [];
  if (fitted.length < 3)
    reasons.push(`only ${fitted.length} samples after the warm-up: cannot judge the heap`);
  else if (heapSlopeMbPerMin > limits.heapSlopeMbPerMin)
    reasons.push(
      `heap grows by ${heapSlopeMbPerMin.toFixed(2)} MB/min after the warm-up (limit ${limits.heapSlopeMbPerMin})`,
    );
  if (fds.after > fds.before + limits.fdSlack)
    reasons.push(
      `${fds.after - fds.before} more file descriptors open after close (limit ${limits.fdSlack})`,
    );
  return {
    leak: reasons.length > 0,
    reasons,
    heapSlopeMbPerMin,
    rssSlopeMbPerMin,
    samplesFitted: fitted.length,
  };
}
