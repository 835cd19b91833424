/**
 * Keys in chosen slots: one hash tag per slot, found once per worker (a few hundred
 * thousand CRC16s, ~50 ms), so that a test can put keys exactly where it wants them.
 */
import { keySlot, SLOT_COUNT } from "../../src/command/slot.js";

let tags: string[] | undefined;

/** A short hash tag per slot: `{tagOf(slot)}` hashes to `slot`. */
export function tagOf(slot: number): string {
  tags ??= findTags();
  return tags[slot]!;
}

function findTags(): string[] {
  const found: string[] = new Array(SLOT_COUNT);
  let count = 0;
  for (let n = 0; count < SLOT_COUNT; n++) {
    const tag = `t${n}`;
    const slot = keySlot(tag);
    if (found[slot] === undefined) {
      found[slot] = tag;
      count++;
    }
  }
  return found;
}

/**
 * A key in `slot`, distinct per `suffix`.
 *
 * @example
 * keyInSlot(42, "a"); // "{t…}:a", and keySlot of it is 42
 */
export function keyInSlot(slot: number, suffix: string | number): string {
  return `{${tagOf(slot)}}:${suffix}`;
}

/** Every slot of inclusive ranges such as a DevNode's `slots`. */
export function slotsOfRanges(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const slots: number[] = [];
  for (const [start, end] of ranges) for (let slot = start; slot <= end; slot++) slots.push(slot);
  return slots;
}
