/**
 * The certificate files of a TLS dev cluster, in `<cluster dir>/tls/`: made once at start,
 * read back by whoever attaches to the cluster later.
 *
 * ```
 * tls/ca.crt ca.key           the cluster's throwaway CA (nodes and clients trust it)
 *     node.crt node.key       every node's certificate: server and client (cluster bus)
 *     client.crt client.key   a client certificate, for mutual TLS
 *     extra-<n>/...           certificates issued later for negative tests
 * ```
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type IssuedCertificate,
  issueCertificate,
  loadCertificateAuthority,
} from "./certificates.js";
import type { DevTlsMaterial } from "./types.js";

const CA_NAME = "rediscluster dev CA";
const OTHER_CA_NAME = "rediscluster dev CA (not the cluster's)";

/** Paths of the files a node's redis.conf names. */
export interface NodeTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The folder of the TLS files of the cluster in `dir`. */
export function tlsDirOf(dir: string): string {
  return join(dir, "tls");
}

/** Every address a client may use for a node: what the nodes' certificate names. */
const NODE_NAMES = ["localhost", "127.0.0.1", "::1"];

/** Makes the CA, the nodes' certificate and a client certificate. */
export function createTlsFiles(dir: string): void {
  const tlsDir = tlsDirOf(dir);
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority(CA_NAME);
  write(tlsDir, "ca", ca);
  write(
    tlsDir,
    "node",
    issueCertificate(ca, {
      commonName: "rediscluster dev node",
      altNames: NODE_NAMES,
    }),
  );
  write(tlsDir, "client", issueCertificate(ca, { commonName: "rediscluster dev client" }));
}

/** The files redis.conf points at. */
export function nodeTlsFiles(dir: string): NodeTlsFiles {
  const tlsDir = tlsDirOf(dir);
  return {
    caFile: join(tlsDir, "ca.crt"),
    certFile: join(tlsDir, "node.crt"),
    keyFile: join(tlsDir, "node.key"),
  };
}

/** The client's material: the CA and the client certificate. */
export function clientTlsMaterial(dir: string): DevTlsMaterial {
  const tlsDir = tlsDirOf(dir);
  return material(join(tlsDir, "ca.crt"), join(tlsDir, "client.crt"), join(tlsDir, "client.key"));
}

/**
 * Issues another certificate (kept under `tls/extra-<n>/`): expired, or from a CA that the
 * nodes do not know (returned as its `ca`, so that a client trusting it does not trust the
 * nodes either). It names the nodes' addresses, so a node can present it too.
 */
export function issueExtraMaterial(
  dir: string,
  options: { expired?: boolean; otherCa?: boolean },
): DevTlsMaterial {
  const tlsDir = tlsDirOf(dir);
  let ca: CertificateAuthority;
  if (options.otherCa) {
    ca = createCertificateAuthority(OTHER_CA_NAME);
  } else {
    ca = loadCertificateAuthority(
      CA_NAME,
      readFileSync(join(tlsDir, "ca.crt"), "utf8"),
      readFileSync(join(tlsDir, "ca.key"), "utf8"),
    );
  }
  let number = 1;
  while (existsSync(join(tlsDir, `extra-${number}`))) number++;
  const extraDir = join(tlsDir, `extra-${number}`);
  mkdirSync(extraDir, { mode: 0o700 });
  writeFileSync(join(extraDir, "ca.crt"), ca.cert);
  write(
    extraDir,
    "client",
    issueCertificate(ca, {
      commonName: `rediscluster dev certificate ${number}`,
      altNames: NODE_NAMES,
      expired: options.expired ?? false,
    }),
  );
  return material(join(extraDir, "ca.crt"), join(extraDir, "client.crt"), join(extraDir, "client.key"));
}

function write(dir: string, stem: string, issued: IssuedCertificate): void {
  writeFileSync(join(dir, `${stem}.crt`), issued.cert);
  writeFileSync(join(dir, `${stem}.key`), issued.key, { mode: 0o600 });
}

function material(caFile: string, certFile: string, keyFile: string): DevTlsMaterial {
  return {
    ca: readFileSync(caFile, "utf8"),
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
    caFile,
    certFile,
    keyFile,
  };
}
