/**
 * The dev cluster's certificates (src/dev/certificates.ts writes their DER by hand): Node's
 * own X.509 parser reads them back, signatures verify, names and dates are what was asked,
 * and a TLS handshake between Node's server and client accepts them (and refuses the broken
 * ones for the right reason).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { connect, createServer } from "node:tls";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority, issueCertificate } from "../../src/dev/certificates.js";
import { renderNodeConfig } from "../../src/dev/node-config.js";

const ca = createCertificateAuthority("test CA");
const node = issueCertificate(ca, { commonName: "test node", altNames: ["localhost", "127.0.0.1", "::1"] });

describe("createCertificateAuthority / issueCertificate", () => {
  it("make a CA and a certificate it signed, with the names and dates asked for", () => {
    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(node.cert);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subject).toContain("CN=test node");
    expect(cert.issuer).toContain("CN=test CA");
    expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkIP("::1")).toBe("::1");
    expect(cert.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
    const now = Date.now();
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(now);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(now + 300 * 86_400_000);
    expect(cert.checkPrivateKey(createPrivateKey(node.key))).toBe(true);
  });

  it("make an expired certificate on request, and certificates of another CA that do not verify", () => {
    const expired = new X509Certificate(issueCertificate(ca, { commonName: "old", expired: true }).cert);
    expect(new Date(expired.validTo).getTime()).toBeLessThan(Date.now());
    const other = createCertificateAuthority("other CA");
    const foreign = new X509Certificate(issueCertificate(other, { commonName: "foreign" }).cert);
    expect(foreign.verify(new X509Certificate(ca.cert).publicKey)).toBe(false);
    expect(foreign.checkIssued(new X509Certificate(ca.cert))).toBe(false);
  });

  it("are accepted by a TLS handshake in both directions (mutual TLS)", async () => {
    const client = issueCertificate(ca, { commonName: "test client" });
    expect(await handshake({ cert: client.cert, key: client.key })).toBe("authorized");
  });

  it("are refused for the right reason: expired server certificate, unknown CA", async () => {
    const expired = issueCertificate(ca, { commonName: "old", altNames: ["127.0.0.1"], expired: true });
    expect(await handshake({ server: expired })).toBe("CERT_HAS_EXPIRED");
    const other = createCertificateAuthority("other CA");
    expect(await handshake({ trusted: other.cert })).toBe("SELF_SIGNED_CERT_IN_CHAIN");
  });
});

describe("renderNodeConfig", () => {
  const base = { host: "::1", port: 12000, dir: "/d", nodeTimeoutMs: 2000, extraConfig: [] };

  it("TLS: no plain port, TLS everywhere, client certificates as asked", () => {
    const text = renderNodeConfig({
      ...base,
      tls: { caFile: "/t/ca.crt", certFile: "/t/node.crt", keyFile: "/t/node.key", mutual: false },
    });
    expect(text).toContain("bind ::1\n");
    expect(text).toContain("port 0\ntls-port 12000\n");
    expect(text).toMatch(/tls-cluster yes\ntls-replication yes\ntls-auth-clients optional\n/);
    expect(text).not.toMatch(/^port 12000$/m);
  });

  it("ACL: each rule quoted, so a password may hold spaces and quotes; replicas log in as the admin", () => {
    const text = renderNodeConfig({
      ...base,
      acl: {
        users: [{ name: "app", password: 'a "quoted" pass\\word', rules: "on ~app:* +@read" }],
        replicationUser: { name: "admin", password: "p w" },
      },
    });
    expect(text).toContain('user "app" "on" "~app:*" "+@read" ">a \\"quoted\\" pass\\\\word"\n');
    expect(text).toContain('masteruser "admin"\nmasterauth "p w"\n');
  });

  it("announce: port (the bus port as it is), hostname, preferred endpoint; the TLS port on TLS nodes", () => {
    const plain = renderNodeConfig({
      ...base,
      announce: { ip: "::1", port: 42000, hostname: "localhost", preferredEndpoint: "hostname" },
    });
    expect(plain).toContain("cluster-announce-port 42000\ncluster-announce-bus-port 22000\n");
    expect(plain).toContain('cluster-announce-ip "::1"\n');
    expect(plain).toContain(
      'cluster-announce-hostname "localhost"\ncluster-preferred-endpoint-type hostname\n',
    );
    const tls = renderNodeConfig({
      ...base,
      tls: { caFile: "c", certFile: "n", keyFile: "k", mutual: true },
      announce: { port: 42000 },
    });
    expect(tls).toContain("cluster-announce-tls-port 42000\n");
    expect(tls).toContain("tls-auth-clients yes\n");
  });
});

/**
 * A TLS handshake on 127.0.0.1 between a server presenting `server` (default: the node
 * certificate) and requiring a client certificate, and a client trusting `trusted` (default:
 * the CA). Resolves "authorized" or the client's verification error code.
 */
function handshake(options: {
  server?: { cert: string; key: string };
  trusted?: string;
  cert?: string;
  key?: string;
}): Promise<string> {
  const identity = options.server ?? node;
  const server = createServer({
    cert: identity.cert,
    key: identity.key,
    ca: ca.cert,
    requestCert: true,
    rejectUnauthorized: false,
  });
  return new Promise<string>((resolve) => {
    server.once("secureConnection", (socket) => {
      socket.end(socket.authorized ? "authorized" : String(socket.authorizationError));
    });
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      const socket = connect({
        host: "127.0.0.1",
        port,
        ca: options.trusted ?? ca.cert,
        cert: options.cert,
        key: options.key,
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.once("data", (data) => {
        resolve(String(data));
        socket.end();
      });
    });
  }).finally(() => server.close());
}
