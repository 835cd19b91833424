/**
 * Moving hash slots between primaries, the way `redis-cli --cluster reshard` does, but
 * pipelined: one round trip per step for hundreds of slots instead of one per slot.
 *
 *   1. target: CLUSTER SETSLOT <slot> IMPORTING <source-id>   (all slots, one pipeline)
 *   2. source: CLUSTER SETSLOT <slot> MIGRATING <target-id>   (all slots, one pipeline)
 *   3. source: CLUSTER GETKEYSINSLOT → MIGRATE ... KEYS ...   (batches, until the slots are empty)
 *   4. CLUSTER SETSLOT <slot> NODE <target-id>: on the target first (it bumps its config
 *      epoch, so its claim wins everywhere), then the source, then every other primary.
 *
 * Between 2 and 4 the slot is half-migrated: the source answers ASK for keys it no longer
 * has, which is what ASK tests want (see beginSlotMigration).
 */
import { ReplyError } from "../errors.js";
import type { RespValue } from "../resp/index.js";
import type { AdminCommand, AdminPool } from "./admin.js";

/** One side of a slot migration: a primary by port and cluster id. */
export interface MigrationEnd {
  /** The node's port. */
  port: number;
  /** The node's cluster id. */
  id: string;
}

/** Keys asked for per slot in one GETKEYSINSLOT, and moved per MIGRATE. */
const KEYS_PER_BATCH = 1_000;
/** Slots whose keys are listed in one pipeline. */
const SLOTS_PER_ROUND = 1_024;
/** MIGRATE's own timeout, and the admin timeout of a pipeline of them. */
const MIGRATE_TIMEOUT_MS = 10_000;
const PIPELINE_TIMEOUT_MS = 120_000;

/** Steps 1 and 2: the target imports, the source migrates. */
export async function openSlotMigration(
  admin: AdminPool,
  source: MigrationEnd,
  target: MigrationEnd,
  slots: readonly number[],
): Promise<void> {
  await expectOk(
    admin,
    target.port,
    slots.map((slot) => ["CLUSTER", "SETSLOT", slot, "IMPORTING", source.id]),
  );
  await expectOk(
    admin,
    source.port,
    slots.map((slot) => ["CLUSTER", "SETSLOT", slot, "MIGRATING", target.id]),
  );
}

/**
 * Step 3: moves the keys of `slots` from source to target, or at most `limitPerSlot` keys
 * of each. Returns how many keys were moved.
 */
export async function moveSlotKeys(
  admin: AdminPool,
  sourcePort: number,
  targetPort: number,
  slots: readonly number[],
  limitPerSlot = Number.POSITIVE_INFINITY,
): Promise<number> {
  let moved = 0;
  // The source connects to the target itself (over TLS on a TLS cluster, as tls-cluster says)
  // and, on an ACL cluster, must log in there as the admin user.
  const { host, auth: credentials } = admin.endpoint;
  const auth = credentials ? ["AUTH2", credentials.username, credentials.password] : [];
  const leftToMove = new Map(slots.map((slot) => [slot, limitPerSlot]));
  while (leftToMove.size > 0) {
    const round = [...leftToMove.keys()].slice(0, SLOTS_PER_ROUND);
    const listings = await admin.pipeline(
      sourcePort,
      round.map((slot) => [
        "CLUSTER",
        "GETKEYSINSLOT",
        slot,
        Math.min(KEYS_PER_BATCH, leftToMove.get(slot)!),
      ]),
      { buffers: true, timeoutMs: PIPELINE_TIMEOUT_MS },
    );
    const migrations: AdminCommand[] = [];
    round.forEach((slot, index) => {
      const keys = listings[index];
      if (keys instanceof ReplyError)
        throw withContext(keys, `CLUSTER GETKEYSINSLOT ${slot} on ${sourcePort}`);
      const list = Array.isArray(keys) ? keys : [];
      const wanted = leftToMove.get(slot)! - list.length;
      // A full batch means there may be more; anything less means the slot is done.
      if (list.length === KEYS_PER_BATCH && wanted > 0) leftToMove.set(slot, wanted);
      else leftToMove.delete(slot);
      if (list.length > 0) {
        migrations.push([
          "MIGRATE",
          host,
          targetPort,
          "",
          0,
          MIGRATE_TIMEOUT_MS,
          ...auth,
          "KEYS",
          ...(list as Buffer[]),
        ]);
        moved += list.length;
      }
    });
    const replies = await admin.pipeline(sourcePort, migrations, { timeoutMs: PIPELINE_TIMEOUT_MS });
    for (const reply of replies) {
      // NOKEY: every key of the batch expired or was deleted meanwhile; nothing to move.
      if (reply !== "OK" && reply !== "NOKEY")
        throw unexpected(reply, `MIGRATE from ${sourcePort} to ${targetPort}`);
    }
  }
  return moved;
}

/** Step 4: every primary records the target as the owner of `slots`. */
export async function assignSlots(
  admin: AdminPool,
  slots: readonly number[],
  target: MigrationEnd,
  sourcePort: number,
  otherPrimaryPorts: readonly number[],
): Promise<void> {
  const assign = slots.map((slot): AdminCommand => ["CLUSTER", "SETSLOT", slot, "NODE", target.id]);
  await expectOk(admin, target.port, assign);
  await expectOk(admin, sourcePort, assign);
  await Promise.all(otherPrimaryPorts.map((port) => expectOk(admin, port, assign)));
}

async function expectOk(admin: AdminPool, port: number, commands: readonly AdminCommand[]): Promise<void> {
  const replies = await admin.pipeline(port, commands, { timeoutMs: PIPELINE_TIMEOUT_MS });
  replies.forEach((reply, index) => {
    if (reply !== "OK") throw unexpected(reply, `${commands[index]!.slice(0, 4).join(" ")} on ${port}`);
  });
}

function unexpected(reply: RespValue | undefined, what: string): Error {
  if (reply instanceof ReplyError) return withContext(reply, what);
  return new Error(`${what}: unexpected reply ${String(reply)}`);
}

function withContext(error: ReplyError, what: string): Error {
  return new Error(`${what} failed: ${error.message}`, { cause: error });
}
