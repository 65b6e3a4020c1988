// The cluster's own certificate authority, made locally by the first node ("Create cluster"):
// a self-signed ECDSA P-256 CA whose cluster id is derived from its key. It signs the certificate
// of every node that joins. Kept in `<dataDir>/cluster/`: `ca.key.pem` (0600) and `ca.pem`.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { CLUSTER_URI_PREFIX, NODE_URI_PREFIX, certificateInfo, clusterIdOfKey } from "./certificate-info.ts";
import { ClusterFileError } from "./errors.ts";
import { isNodeId } from "./identity.ts";
import { loadX509Library } from "./x509-library.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** How far back a new certificate's validity starts, so that a peer whose clock is a little behind accepts it. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

export interface ClusterAuthority {
    readonly clusterId: string;
    /** The CA certificate (PEM): what every member trusts. */
    readonly certificatePem: string;
    readonly privateKey: crypto.KeyObject;
}

export interface CreateClusterOptions {
    /** The data dir the CA is kept in (under `cluster/`). */
    dataDir: string;
    /** The cluster's display name, the CA's common name. Defaults to "Hearth cluster". */
    name?: string;
    /** How long the CA is valid. Defaults to 3650 days. */
    validDays?: number;
    /** The clock. Defaults to the system clock. */
    now?: () => Date;
}

export interface NodeCertificateRequest {
    nodeId: string;
    /** The node's display name, its certificate's common name. */
    name: string;
    /** The node's public key (SPKI PEM or a KeyObject). */
    publicKey: string | crypto.KeyObject;
    /** How long the certificate is valid. Defaults to 825 days. */
    validDays?: number;
    /** The clock. Defaults to the system clock. */
    now?: () => Date;
}

export function clusterAuthorityFiles(dataDir: string): { key: string; certificate: string } {
    const dir = path.join(dataDir, "cluster");
    return { key: path.join(dir, "ca.key.pem"), certificate: path.join(dir, "ca.pem") };
}

async function signingKey(privateKey: crypto.KeyObject): Promise<CryptoKey> {
    const der = privateKey.export({ type: "pkcs8", format: "der" });
    return crypto.webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]) as Promise<CryptoKey>;
}

function spkiDer(publicKey: crypto.KeyObject): Uint8Array<ArrayBuffer> { return new Uint8Array(publicKey.export({ type: "spki", format: "der" })); }

/**
 * Makes a new cluster: its CA key and self-signed certificate, written to the data dir. Refuses
 * when the data dir already holds a cluster CA (it would orphan every member's certificate).
 */
export async function createCluster(options: CreateClusterOptions): Promise<ClusterAuthority> {
    const files = clusterAuthorityFiles(options.dataDir);
    if (fs.existsSync(files.key) || fs.existsSync(files.certificate))
        throw new ClusterFileError(`${path.dirname(files.key)} already holds a cluster CA; ` +
            "use it (this node already created a cluster), or move that folder away first to create another cluster");
    const x509 = await loadX509Library();
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const clusterId = clusterIdOfKey(publicKey);
    const now = (options.now ?? (() => new Date()))();
    const subject = new x509.Name([{ CN: [options.name ?? "Hearth cluster"] }, { O: [`hearth-cluster-${clusterId}`] }]);
    const certificate = await x509.X509CertificateGenerator.create({
        serialNumber: crypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
        subject, issuer: subject,
        notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
        notAfter: new Date(now.getTime() + (options.validDays ?? 3650) * DAY_MS),
        publicKey: spkiDer(publicKey),
        signingKey: await signingKey(privateKey),
        signingAlgorithm: SIGNING,
        extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(spkiDer(publicKey)),
            new x509.SubjectAlternativeNameExtension([{ type: "url", value: `${CLUSTER_URI_PREFIX}${clusterId}` }])
        ]
    });
    const certificatePem = certificate.toString("pem") + "\n";
    writeFileAtomicSync(files.key, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), 0o600);
    writeFileAtomicSync(files.certificate, certificatePem, 0o644);
    return { clusterId, certificatePem, privateKey };
}

/** The cluster CA kept in `dataDir`, or null when this node has not created a cluster. */
export function loadClusterAuthority(dataDir: string): ClusterAuthority | null {
    const files = clusterAuthorityFiles(dataDir);
    const hasKey = fs.existsSync(files.key), hasCertificate = fs.existsSync(files.certificate);
    if (!hasKey && !hasCertificate) return null;
    const refuse = (why: string): never => {
        throw new ClusterFileError(`the cluster CA in ${path.dirname(files.key)} is not usable (${why}); ` +
            "restore the folder from a backup. Without it this node cannot invite; the members keep working");
    };
    if (!hasKey || !hasCertificate) return refuse(`${hasKey ? files.certificate : files.key} is missing`);
    let privateKey: crypto.KeyObject, certificate: crypto.X509Certificate;
    try {
        privateKey = crypto.createPrivateKey(fs.readFileSync(files.key, "utf8"));
        certificate = new crypto.X509Certificate(fs.readFileSync(files.certificate, "utf8"));
    } catch (e) {
        return refuse((e as Error).message);
    }
    const info = certificateInfo(certificate);
    if (!info.isCertificateAuthority || info.clusterId == null) return refuse("ca.pem is not a Hearth cluster CA certificate");
    if (!certificate.checkPrivateKey(privateKey)) return refuse("ca.key.pem is not the key of ca.pem");
    if (clusterIdOfKey(certificate.publicKey) !== info.clusterId) return refuse("the CA's cluster id does not match its key");
    return { clusterId: info.clusterId, certificatePem: certificate.toString(), privateKey };
}

/**
 * Signs a node certificate: common name = the node's name; subject alternative names
 * `hearth:node:<nodeId>` and `hearth:cluster:<clusterId>` (no IP or DNS names: peers are checked
 * by CA and node id, not by address); usable for TLS server and client authentication. Returns PEM.
 */
export async function issueNodeCertificate(ca: ClusterAuthority, request: NodeCertificateRequest): Promise<string> {
    if (!isNodeId(request.nodeId)) throw new Error(`'${request.nodeId}' is not a node id (32 hexadecimal characters)`);
    const publicKey = typeof request.publicKey === "string" ? crypto.createPublicKey(request.publicKey) : request.publicKey;
    if (publicKey.asymmetricKeyType !== "ec" || publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")
        throw new Error("a node key must be an ECDSA P-256 key");
    const x509 = await loadX509Library();
    const caCertificate = new x509.X509Certificate(ca.certificatePem);
    const now = (request.now ?? (() => new Date()))();
    const certificate = await x509.X509CertificateGenerator.create({
        serialNumber: crypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
        subject: new x509.Name([{ CN: [request.name.slice(0, 64) || "unnamed node"] }]),
        issuer: caCertificate.subjectName,
        notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
        notAfter: new Date(now.getTime() + (request.validDays ?? 825) * DAY_MS),
        publicKey: spkiDer(publicKey),
        signingKey: await signingKey(ca.privateKey),
        signingAlgorithm: SIGNING,
        extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
            await x509.SubjectKeyIdentifierExtension.create(spkiDer(publicKey)),
            await x509.AuthorityKeyIdentifierExtension.create(spkiDer(crypto.createPublicKey(ca.privateKey))),
            new x509.SubjectAlternativeNameExtension([
                { type: "url", value: `${NODE_URI_PREFIX}${request.nodeId}` },
                { type: "url", value: `${CLUSTER_URI_PREFIX}${ca.clusterId}` }
            ])
        ]
    });
    return certificate.toString("pem") + "\n";
}
