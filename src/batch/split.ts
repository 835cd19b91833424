/**
 * Multi-key commands whose keys span slots, split into one command per slot and merged
 * back, for the commands whose meaning survives the split:
 *
 * | command                 | split                     | merged reply                      |
 * | ----------------------- | ------------------------- | --------------------------------- |
 * | MGET k...               | keys grouped by slot      | values in the caller's key order  |
 * | MSET k v...             | pairs grouped by slot     | "OK" when every part succeeded    |
 * | DEL/UNLINK/EXISTS/TOUCH | keys grouped by slot      | sum of the parts' counts          |
 *
 * Keys of one slot stay in one command, in their original order, so a call whose keys all
 * share a slot is never split at all. Every other multi-key command across slots is a
 * `CrossSlotError` (MSETNX, RENAME, SINTERSTORE, ... need one slot to mean anything).
 */
import type { Command, CommandOwner } from "../command/command.js";
import { Gather, GatherPart } from "../command/gather.js";
import { keySlot } from "../command/slot.js";
import { keyBytes } from "../command/validate.js";
import { ArgumentError, PartialFailureError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";

type Merge = (parts: readonly SlotGroup[], outcomes: readonly unknown[], whole: Command) => unknown;

interface SplitRule {
  /** Arguments per key: 1 (k k k) or 2 (k v k v). */
  stride: number;
  merge: Merge;
}

/** One slot's share of a split command. */
export interface SlotGroup {
  slot: number;
  /** Positions, in the caller's key order, of this group's keys. */
  keyPositions: number[];
  args: RedisArg[];
}

const SPLIT_RULES: ReadonlyMap<string, SplitRule> = new Map([
  ["mget", { stride: 1, merge: mergeValuesInOrder }],
  ["mset", { stride: 2, merge: mergeAllOk }],
  ["del", { stride: 1, merge: mergeSum }],
  ["unlink", { stride: 1, merge: mergeSum }],
  ["exists", { stride: 1, merge: mergeSum }],
  ["touch", { stride: 1, merge: mergeSum }],
]);

/**
 * Arguments per key of a command that may be split across slots (1 for `k k k`, 2 for
 * `k v k v`), or `undefined` when its keys must share a slot.
 */
export function splitStride(name: string): number | undefined {
  return SPLIT_RULES.get(name)?.stride;
}

/**
 * Hashes each key of a splittable command once (keys at `args[0..]`, `stride` arguments per
 * key): the slot they all share, or — when they span slots — their groups, one per slot,
 * keys in their original order within each.
 */
export function slotOrGroups(args: readonly RedisArg[], stride: number): number | SlotGroup[] {
  const first = keySlot(keyBytes(args[0]!));
  let at = stride;
  while (at < args.length && keySlot(keyBytes(args[at]!)) === first) at += stride;
  if (at >= args.length) return first;
  // Keys before `at` share `first`; from `at` on, each key is hashed once more only here.
  const head: SlotGroup = { slot: first, keyPositions: [], args: [] };
  for (let k = 0; k < at; k += stride) {
    head.keyPositions.push(k / stride);
    for (let i = 0; i < stride; i++) head.args.push(args[k + i]!);
  }
  const bySlot = new Map<number, SlotGroup>([[first, head]]);
  const groups = [head];
  for (let position = at / stride; at < args.length; at += stride, position++) {
    const slot = keySlot(keyBytes(args[at]!));
    let group = bySlot.get(slot);
    if (group === undefined) {
      group = { slot, keyPositions: [], args: [] };
      bySlot.set(slot, group);
      groups.push(group);
    }
    group.keyPositions.push(position);
    for (let i = 0; i < stride; i++) group.args.push(args[at + i]!);
  }
  return groups;
}

/**
 * The per-slot parts of `whole` (from `slotOrGroups`), each to be dispatched; `whole`
 * completes with the merged reply once every part has settled, and is never sent itself.
 * Returns no parts when `whole` was settled at once (a value missing from a pair).
 */
export function splitBySlot(whole: Command, groups: readonly SlotGroup[], owner: CommandOwner): Command[] {
  const info = whole.info!;
  const rule = SPLIT_RULES.get(info.name)!;
  if (whole.args.length % rule.stride !== 0) {
    // Split as is, one part would lack a value; unsplit, the server would refuse it whole.
    whole.completeError(new ArgumentError("expects key value pairs; a value is missing", whole.displayName));
    return [];
  }
  const gather = new Gather(groups.length, (outcomes) => {
    try {
      whole.complete(rule.merge(groups, outcomes, whole));
    } catch (error) {
      whole.completeError(error as Error);
    }
  });
  const remainingMs = Math.max(1, whole.deadlineAt - performance.now());
  const parts: Command[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    const part = new GatherPart(
      gather,
      i,
      owner,
      whole.name,
      group.args,
      info,
      whole.wantsBuffers,
      remainingMs,
    );
    part.slot = group.slot;
    part.replicaReadable = whole.replicaReadable;
    parts.push(part);
  }
  return parts;
}

function firstError(outcomes: readonly unknown[]): Error | undefined {
  return outcomes.find((outcome): outcome is Error => outcome instanceof Error);
}

function mergeValuesInOrder(groups: readonly SlotGroup[], outcomes: readonly unknown[]): unknown {
  const error = firstError(outcomes);
  if (error) throw error;
  const values: unknown[] = [];
  groups.forEach((group, g) => {
    const reply = outcomes[g] as unknown[];
    group.keyPositions.forEach((position, k) => {
      values[position] = reply[k];
    });
  });
  return values;
}

function mergeSum(_groups: readonly SlotGroup[], outcomes: readonly unknown[]): unknown {
  const error = firstError(outcomes);
  if (error) throw error;
  let sum = 0;
  for (const count of outcomes) sum += Number(count); // a bigint from a hostile server must not throw
  return sum;
}

/** MSET: all parts "OK" → "OK"; otherwise say exactly which keys were set and which not. */
function mergeAllOk(groups: readonly SlotGroup[], outcomes: readonly unknown[], whole: Command): unknown {
  const error = firstError(outcomes);
  if (error === undefined) return "OK";
  const written: RedisArg[] = [];
  const failed: RedisArg[] = [];
  groups.forEach((group, g) => {
    const target = outcomes[g] instanceof Error ? failed : written;
    for (let i = 0; i < group.args.length; i += 2) target.push(group.args[i]!);
  });
  throw new PartialFailureError(
    `${whole.displayName} set ${written.length} of ${written.length + failed.length} keys; ` +
      `${failed.length} failed (their keys are in .failed, the set ones in .succeeded)`,
    whole.displayName,
    written,
    failed,
    error,
  );
}
