/** Facade clients for the compatibility tests, closed after each test (or the file). */
import { afterAll, afterEach } from "vitest";
import { Cluster, type ClusterOptions } from "../../src/compat/ioredis/index.js";
import { sharedDevCluster } from "../helpers/cluster.js";

export interface FacadeFactory {
  /** A new ioredis-shaped client on `seeds` (the shared cluster's by default). */
  ioredis(options?: ClusterOptions, seeds?: readonly string[]): Promise<Cluster>;
  /** Registers a client made elsewhere (a library's duplicate) to be closed too. */
  track(client: Cluster): Cluster;
}

export function useFacades(scope: "each" | "all" = "each"): FacadeFactory {
  const open = new Set<Cluster>();
  const closeAll = async () => {
    const clients = [...open];
    open.clear();
    await Promise.all(
      clients.map(async (client) => {
        if (client.status === "end") return;
        await client.quit().catch(() => client.disconnect());
      }),
    );
  };
  if (scope === "each") afterEach(closeAll);
  else afterAll(closeAll);
  return {
    async ioredis(options = {}, seeds) {
      const nodes = seeds ?? (await sharedDevCluster()).seeds;
      const client = new Cluster(nodes, options);
      open.add(client);
      return client;
    },
    track(client) {
      open.add(client);
      return client;
    },
  };
}

/** A unique key tag for one test, so runs and tests never share keys. */
let counter = 0;
export function tagFor(label: string): string {
  return `{${label}:${process.pid}:${Date.now().toString(36)}:${counter++}}`;
}
