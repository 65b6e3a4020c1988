// A node's stable identity: a random node id made once, and an ECDSA P-256 key pair, kept in
// `<dataDir>/node-identity.json` (written atomically, mode 0600) and loaded on every later start.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { ClusterFileError } from "./errors.ts";

/** A node id: 128 random bits as 32 lowercase hexadecimal characters. */
export const NODE_ID_PATTERN = /^[0-9a-f]{32}$/;

const FORMAT = "hearth-node-identity-1";

export interface NodeIdentity {
    /** The node id, also written into the node's certificate as `hearth:node:<nodeId>`. */
    readonly nodeId: string;
    readonly privateKey: crypto.KeyObject;
    readonly publicKey: crypto.KeyObject;
    /** The private key, PKCS#8 PEM (what TLS is given). */
    readonly privateKeyPem: string;
    /** The public key, SPKI PEM (what the inviter signs). */
    readonly publicKeyPem: string;
    /** The file it is kept in. */
    readonly file: string;
    /** Whether this call made it (first start). */
    readonly created: boolean;
}

export function isNodeId(text: string): boolean { return NODE_ID_PATTERN.test(text); }

/** The identity file's path in a data dir. */
export function nodeIdentityFile(dataDir: string): string { return path.join(dataDir, "node-identity.json"); }

/**
 * This node's identity from `dataDir`, made on the first start. A file that cannot be read as an
 * identity refuses to start: it never silently becomes a new identity, which would drop the node
 * out of its cluster.
 */
export function loadOrCreateNodeIdentity(dataDir: string): NodeIdentity {
    const file = nodeIdentityFile(dataDir);
    if (fs.existsSync(file)) return readNodeIdentity(file);
    const nodeId = crypto.randomBytes(16).toString("hex");
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    writeFileAtomicSync(file, JSON.stringify({ format: FORMAT, nodeId, privateKey: privateKeyPem }, null, 2) + "\n", 0o600);
    return identityOf(nodeId, privateKey, file, true);
}

function readNodeIdentity(file: string): NodeIdentity {
    const refuse = (why: string): never => {
        throw new ClusterFileError(`${file} is not a usable node identity (${why}). ` +
            "Restore it from a backup; or delete it to start as a new node, which then has to join its cluster again");
    };
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        return refuse(`not JSON: ${(e as Error).message}`);
    }
    const record = parsed as { format?: unknown; nodeId?: unknown; privateKey?: unknown } | null;
    if (record == null || typeof record !== "object" || record.format !== FORMAT) return refuse(`its format is not ${FORMAT}`);
    if (typeof record.nodeId !== "string" || !isNodeId(record.nodeId)) return refuse("its node id is not 32 hexadecimal characters");
    if (typeof record.privateKey !== "string") return refuse("it holds no private key");
    let privateKey: crypto.KeyObject;
    try {
        privateKey = crypto.createPrivateKey(record.privateKey);
    } catch (e) {
        return refuse(`its private key cannot be read: ${(e as Error).message}`);
    }
    if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") return refuse("its key is not an ECDSA P-256 key");
    return identityOf(record.nodeId, privateKey, file, false);
}

function identityOf(nodeId: string, privateKey: crypto.KeyObject, file: string, created: boolean): NodeIdentity {
    const publicKey = crypto.createPublicKey(privateKey);
    return {
        nodeId, privateKey, publicKey, file, created,
        privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString()
    };
}
