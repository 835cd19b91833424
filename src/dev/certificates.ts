/**
 * Throwaway X.509 certificates for TLS dev clusters: a CA, the nodes' certificate, a client
 * certificate, and on demand the broken ones that negative tests need (expired, or issued by
 * another CA).
 *
 * Why not the `openssl` command: it is one more program to install on a fresh machine (a
 * minimal Debian has none), it cannot back-date a certificate without a CA database
 * (`openssl ca`), and a dozen process spawns take longer than the whole of this. Node's crypto
 * makes and signs keys but has no API to *issue* a certificate, so this file writes the
 * certificate's DER itself: a v3 certificate is a short, fixed structure (RFC 5280 §4.1),
 * and only the few fields below are needed. Keys are EC P-256, signatures ECDSA with SHA-256.
 *
 * ```
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 * tbsCertificate ::= SEQUENCE {
 *   [0] version (v3 = 2), serialNumber, signature AlgorithmIdentifier, issuer Name,
 *   validity SEQUENCE { notBefore, notAfter }, subject Name, subjectPublicKeyInfo,
 *   [3] extensions (basicConstraints, keyUsage, extKeyUsage, subjectAltName, key ids) }
 * ```
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

/** A certificate and its private key, both PEM. */
export interface IssuedCertificate {
  cert: string;
  key: string;
}

/** A certificate authority that can issue more certificates. */
export interface CertificateAuthority extends IssuedCertificate {
  readonly privateKey: KeyObject;
  readonly subject: Buffer;
  readonly keyId: Buffer;
}

/** What certificate to issue. */
export interface CertificateRequest {
  /** The subject's common name. */
  commonName: string;
  /** DNS names and IP addresses the certificate is valid for (subjectAltName). */
  altNames?: readonly string[];
  /** Days valid from now (default 365). */
  days?: number;
  /** Already expired: valid from two days ago until yesterday. */
  expired?: boolean;
}

const DAY_MS = 86_400_000;
/** Certificates start an hour in the past: a clock a little behind still accepts them. */
const CLOCK_SKEW_MS = 3_600_000;

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/**
 * Makes a self-signed CA.
 *
 * @example
 * const ca = createCertificateAuthority("rediscluster dev CA");
 * const node = issueCertificate(ca, { commonName: "node", altNames: ["localhost", "127.0.0.1"] });
 */
export function createCertificateAuthority(commonName: string): CertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const subject = name(commonName);
  const keyId = keyIdentifier(publicKey);
  const extensions = [
    extension(OID.basicConstraints, true, sequence(boolean(true))),
    // keyCertSign (bit 5) and cRLSign (bit 6).
    extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
  ];
  const now = Date.now();
  const cert = signCertificate({
    issuer: subject,
    subject,
    notBefore: now - CLOCK_SKEW_MS,
    notAfter: now + 3650 * DAY_MS,
    publicKey,
    extensions,
    signingKey: privateKey,
  });
  return { cert, key: pemKey(privateKey), privateKey, subject, keyId };
}

/**
 * A CA made by {@link createCertificateAuthority}, read back from its PEM files (after
 * `attachDevCluster`), so that it can issue more certificates.
 */
export function loadCertificateAuthority(
  commonName: string,
  cert: string,
  key: string,
): CertificateAuthority {
  const privateKey = createPrivateKey(key);
  return {
    cert,
    key,
    privateKey,
    subject: name(commonName),
    keyId: keyIdentifier(createPublicKey(privateKey)),
  };
}

/**
 * Issues a certificate signed by `ca`, valid for both TLS servers and clients (a cluster node
 * presents the same certificate when it connects to another node's bus).
 */
export function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const now = Date.now();
  const [notBefore, notAfter] = request.expired
    ? [now - 2 * DAY_MS, now - DAY_MS]
    : [now - CLOCK_SKEW_MS, now + (request.days ?? 365) * DAY_MS];
  const extensions = [
    extension(OID.basicConstraints, true, sequence()),
    // digitalSignature (bit 0): what an ECDSA key does in a TLS handshake.
    extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
    extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, ca.keyId))),
  ];
  const altNames = request.altNames ?? [];
  if (altNames.length > 0) extensions.push(extension(OID.subjectAltName, false, subjectAltName(altNames)));
  const cert = signCertificate({
    issuer: ca.subject,
    subject: name(request.commonName),
    notBefore,
    notAfter,
    publicKey,
    extensions,
    signingKey: ca.privateKey,
  });
  return { cert, key: pemKey(privateKey) };
}

function signCertificate(fields: {
  issuer: Buffer;
  subject: Buffer;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  extensions: Buffer[];
  signingKey: KeyObject;
}): string {
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  // A positive serial of 16 random bytes (RFC 5280 allows up to 20 octets).
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, sequence(...fields.extensions)),
  );
  // For an EC key, crypto.sign returns the DER `ECDSA-Sig-Value` the certificate carries.
  const signature = sign("sha256", tbs, fields.signingKey);
  return pem("CERTIFICATE", sequence(tbs, algorithm, bitString(signature, 0)));
}

function subjectAltName(names: readonly string[]): Buffer {
  return sequence(
    ...names.map((altName) => {
      if (isIPv4(altName)) return tlv(0x87, Buffer.from(altName.split(".").map(Number)));
      if (isIPv6(altName)) return tlv(0x87, ipv6Bytes(altName));
      return tlv(0x82, Buffer.from(altName, "ascii"));
    }),
  );
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail] = address.split("::");
  const words = (text: string) =>
    text === "" ? [] : text.split(":").map((word) => Number.parseInt(word, 16));
  const left = words(head);
  const right = tail === undefined ? [] : words(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((word, index) => {
    bytes.writeUInt16BE(word, index * 2);
  });
  return bytes;
}

/** SHA-1 of the public key's bits: the usual key identifier (RFC 5280 §4.2.1.2, method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  // The subjectPublicKey BIT STRING is the last element: an uncompressed P-256 point (65 bytes).
  return createHash("sha1")
    .update(spki.subarray(spki.length - 65))
    .digest();
}

function name(commonName: string): Buffer {
  const attribute = (type: string, value: string) =>
    set(sequence(oid(type), tlv(0x0c, Buffer.from(value, "utf8"))));
  return sequence(attribute(OID.organization, "rediscluster dev"), attribute(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(at: number): Buffer {
  const iso = new Date(Math.floor(at / 1000) * 1000).toISOString(); // 2026-01-31T12:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z"; // 20260131120000Z
  const year = Number(iso.slice(0, 4));
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), "ascii"))
    : tlv(0x18, Buffer.from(digits, "ascii"));
}

// ── DER ─────────────────────────────────────────────────────────────────────────────────────

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function boolean(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

/** A non-negative INTEGER from its big-endian bytes (a 0 byte in front when the top bit is set). */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && bytes[start + 1]! < 0x80) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function octetString(content: Buffer): Buffer {
  return tlv(0x04, content);
}

function bitString(content: Buffer, unusedBits: number): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      base128.unshift(0x80 | (value & 0x7f));
    }
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function pemKey(privateKey: KeyObject): string {
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
