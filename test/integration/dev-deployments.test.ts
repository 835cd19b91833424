/**
 * The dev cluster's deployment options themselves (src/dev): a mutual-TLS + ACL cluster
 * replicates, fails over and restarts nodes with its TLS and ACL intact, also from a handle
 * attached through the state file; the default user is really off; options that cannot work
 * are refused before anything starts.
 */
import { connect } from "node:tls";
import { describe, expect, it } from "vitest";
import { attachDevCluster, type DevCluster, startDevCluster } from "../../src/dev/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";

/** A password that redis.conf must quote: a space, quotes and a backslash. */
const PASSWORD = 'p w "q" \\ end';

const cluster = withDevCluster({
  primaries: 1,
  replicasPerPrimary: 1,
  tls: { mutual: true },
  acl: { users: [{ name: "app", password: PASSWORD, rules: "on ~* &* +@all" }] },
});
const clients = useClients();

/** Sends one inline command over a fresh TLS connection with no AUTH; resolves with the first reply line. */
function unauthenticated(dev: DevCluster, port: number, command: string): Promise<string> {
  const tls = dev.tls!;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: dev.host, port, ca: tls.ca, cert: tls.cert, key: tls.key }, () => {
      socket.write(`${command}\r\n`);
    });
    socket.once("data", (data) => {
      resolve(String(data).split("\r\n")[0]!);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

describe("a mutual-TLS, ACL dev cluster", () => {
  it("runs TLS only, with the default user off; its admin connections log in as the admin user", async () => {
    const dev = cluster();
    const [primary, replica] = dev.nodes;
    expect(await dev.command(primary!.port, "CONFIG", "GET", "tls-auth-clients")).toEqual([
      "tls-auth-clients",
      "yes",
    ]);
    expect(await dev.command(primary!.port, "ACL", "WHOAMI")).toBe("rediscluster-dev-admin");
    expect(await unauthenticated(dev, primary!.port, "PING")).toMatch(/^-NOAUTH/);
    // Replication over TLS, as the admin user (masteruser / masterauth).
    expect(String(await dev.command(replica!.port, "INFO", "replication"))).toContain(
      "master_link_status:up",
    );
  });

  it("lets a user whose password needs quoting in redis.conf log in", async () => {
    const dev = cluster();
    const tls = dev.tls!;
    const client = clients.create({
      nodes: dev.seeds,
      username: "app",
      password: PASSWORD,
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
    });
    await client.connect();
    for (const node of client.nodes("all")) expect(await node.call("ACL", "WHOAMI")).toBe("app");
  });

  it("fails over and restarts nodes from an attached handle, keeping TLS and ACL", async () => {
    const dev = cluster();
    const attached = await attachDevCluster(dev.stateFile);
    expect(attached.tls?.ca).toBe(dev.tls!.ca);
    const replica = attached.nodes.find((node) => node.role === "replica")!;
    const primary = attached.nodes.find((node) => node.role === "primary")!;
    await attached.failover(replica.port);
    expect(attached.nodes.find((node) => node.port === replica.port)?.role).toBe("primary");
    await attached.killNode(primary.port);
    await attached.restartNode(primary.port);
    await attached.waitForHealthy();
    const restarted = (await attached.refresh()).find((node) => node.port === primary.port)!;
    expect(restarted.role).toBe("replica");
    expect(String(await attached.command(primary.port, "INFO", "replication"))).toContain(
      "master_link_status:up",
    );
    expect(await unauthenticated(attached, primary.port, "PING")).toMatch(/^-NOAUTH/);
    await dev.refresh();
  });
});

describe("deployment options that cannot work", () => {
  it("are refused before any node starts", async () => {
    await expect(
      startDevCluster({ replicasPerPrimary: 1, announce: { portOffset: 30_000 } }),
    ).rejects.toThrow(/portOffset needs replicasPerPrimary: 0/);
    await expect(startDevCluster({ host: "0.0.0.0" as "::1" })).rejects.toThrow(/host must be/);
    await expect(startDevCluster({ acl: { users: [{ name: "has space" }] } })).rejects.toThrow(/not allowed/);
    await expect(
      startDevCluster({ announce: { preferredEndpoint: "dns" as "hostname" }, replicasPerPrimary: 0 }),
    ).rejects.toThrow(/preferredEndpoint/);
  });
});
