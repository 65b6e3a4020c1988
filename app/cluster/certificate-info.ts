// What a Hearth certificate says: the node id and cluster id in its subject alternative names
// (`hearth:node:<id>`, `hearth:cluster:<id>`), its name, whether it is the cluster CA, and its
// validity. Parsed with node:crypto's X509Certificate.
import crypto from "node:crypto";
import { isNodeId } from "./identity.ts";

export const NODE_URI_PREFIX = "hearth:node:";
export const CLUSTER_URI_PREFIX = "hearth:cluster:";

/** A cluster id: the first 128 bits of the SHA-256 of the CA's public key, as 32 hex characters. */
export const CLUSTER_ID_PATTERN = /^[0-9a-f]{32}$/;

export interface CertificateInfo {
    /** The node id of a node certificate; null for the CA or a certificate without exactly one. */
    readonly nodeId: string | null;
    /** The cluster id it names; null when it names none or several. */
    readonly clusterId: string | null;
    /** The subject's common name (a node's or cluster's display name). */
    readonly name: string;
    readonly isCertificateAuthority: boolean;
    readonly notBefore: Date;
    readonly notAfter: Date;
    /** SHA-256 fingerprint of the certificate, colon-separated hex as node:crypto writes it. */
    readonly fingerprint256: string;
    readonly serialNumber: string;
}

/** The URIs of a certificate's subject alternative names that start with `prefix`, unquoted ones only. */
function urisWithPrefix(certificate: crypto.X509Certificate, prefix: string): string[] {
    // node:crypto writes SANs as "URI:a, URI:b" and quotes (JSON) any value holding a comma or a
    // quote, so an unquoted entry of our strict shape cannot be smuggled inside another one.
    const entries = (certificate.subjectAltName ?? "").split(", ");
    return entries.filter((e) => e.startsWith(`URI:${prefix}`)).map((e) => e.slice(4 + prefix.length));
}

function soleMatch(values: string[], valid: (v: string) => boolean): string | null {
    return values.length === 1 && valid(values[0]!) ? values[0]! : null;
}

/** The common name of a subject as node:crypto writes it ("CN=name\nO=…"). */
function commonName(subject: string): string {
    const line = subject.split("\n").find((l) => l.startsWith("CN="));
    return line == null ? "" : line.slice(3);
}

/** Parses a certificate (PEM or DER, or node:crypto's own object). Throws on what is not one. */
export function certificateInfo(certificate: string | Buffer | crypto.X509Certificate): CertificateInfo {
    const x = certificate instanceof crypto.X509Certificate ? certificate : new crypto.X509Certificate(certificate);
    return {
        nodeId: soleMatch(urisWithPrefix(x, NODE_URI_PREFIX), isNodeId),
        clusterId: soleMatch(urisWithPrefix(x, CLUSTER_URI_PREFIX), (v) => CLUSTER_ID_PATTERN.test(v)),
        name: commonName(x.subject),
        isCertificateAuthority: x.ca,
        notBefore: new Date(x.validFrom),
        notAfter: new Date(x.validTo),
        fingerprint256: x.fingerprint256,
        serialNumber: x.serialNumber
    };
}

/** The cluster id of a CA public key: the first 16 bytes of SHA-256 over its SPKI DER, in hex. */
export function clusterIdOfKey(publicKey: crypto.KeyObject): string {
    return crypto.createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 32);
}

/**
 * Checks that `certificatePem` is a node certificate of the cluster whose CA is `caCertificatePem`:
 * signed by it, naming its cluster id and one node id, not a CA, valid at `now`. Returns what it
 * says, or throws an Error that says what is wrong.
 */
export function verifyNodeCertificate(certificatePem: string, caCertificatePem: string, now: Date = new Date()): CertificateInfo & { nodeId: string; clusterId: string } {
    const ca = new crypto.X509Certificate(caCertificatePem);
    const caInfo = certificateInfo(ca);
    if (!caInfo.isCertificateAuthority || caInfo.clusterId == null || !ca.verify(ca.publicKey))
        throw new Error("the cluster certificate is not a self-signed Hearth cluster CA");
    if (clusterIdOfKey(ca.publicKey) !== caInfo.clusterId) throw new Error("the cluster certificate's cluster id does not match its key");
    if (now < caInfo.notBefore || now > caInfo.notAfter)
        throw new Error(`the cluster certificate is valid from ${caInfo.notBefore.toISOString()} to ${caInfo.notAfter.toISOString()}, not now (${now.toISOString()}); check this machine's clock`);
    const x = new crypto.X509Certificate(certificatePem);
    const info = certificateInfo(x);
    if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) throw new Error("the node certificate is not signed by this cluster's CA");
    if (info.isCertificateAuthority) throw new Error("the node certificate is a CA certificate");
    if (info.nodeId == null) throw new Error("the node certificate names no node id");
    if (info.clusterId !== caInfo.clusterId) throw new Error(`the node certificate names cluster ${info.clusterId ?? "none"}, not ${caInfo.clusterId}`);
    if (now < info.notBefore || now > info.notAfter)
        throw new Error(`the node certificate is valid from ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()}, not now (${now.toISOString()}); check this machine's clock`);
    return { ...info, nodeId: info.nodeId, clusterId: info.clusterId };
}
