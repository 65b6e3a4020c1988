// Joining a cluster: a peer presents the cluster key and receives a session token, which every
// later call carries. Nothing else is served to a peer that has not joined.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { writeFileAtomicSync } from "../util/atomic-file.ts";

/** The shortest cluster key accepted, in bytes. */
export const MIN_CLUSTER_KEY_BYTES = 16;

export class ClusterKeyError extends Error {
    constructor(message: string) { super(message); this.name = "ClusterKeyError"; }
}

export function parseClusterKey(text: string): Buffer {
    const t = text.trim();
    if (!/^[0-9a-fA-F]+$/.test(t) || t.length % 2 !== 0 || t.length < 2 * MIN_CLUSTER_KEY_BYTES || t.length > 256)
        throw new ClusterKeyError(`a cluster key is ${2 * MIN_CLUSTER_KEY_BYTES} to 256 hexadecimal characters`);
    return Buffer.from(t, "hex");
}

/**
 * The cluster key in `<dataDir>/cluster-key`, made on first use (written atomically, 0600). A file
 * that is empty, short or not hex refuses to start: it never means "no key".
 */
export function loadOrCreateClusterKey(dataDir: string): { key: Buffer; created: boolean } {
    const file = path.join(dataDir, "cluster-key");
    if (fs.existsSync(file)) {
        const text = fs.readFileSync(file, "utf8");
        try {
            return { key: parseClusterKey(text), created: false };
        } catch (e) {
            throw new ClusterKeyError(`${file} does not hold a valid cluster key (${(e as Error).message}); ` +
                "copy the key from a machine of your cluster into it, or delete the file to make a new cluster");
        }
    }
    const key = crypto.randomBytes(32);
    writeFileAtomicSync(file, key.toString("hex"), 0o600);
    return { key, created: true };
}

export class Sessions {
    private readonly tokens = new Map<string, string>();
    constructor(private readonly clusterKey: Buffer) {
        if (clusterKey.length < MIN_CLUSTER_KEY_BYTES) throw new ClusterKeyError(`the cluster key is ${clusterKey.length} bytes; at least ${MIN_CLUSTER_KEY_BYTES} are needed`);
    }

    join(presented: Buffer, peerName: string): string | null {
        const a = crypto.createHash("sha256").update(presented).digest();
        const b = crypto.createHash("sha256").update(this.clusterKey).digest();
        if (presented.length < MIN_CLUSTER_KEY_BYTES || !crypto.timingSafeEqual(a, b)) return null;
        const token = crypto.randomBytes(24).toString("base64url");
        this.tokens.set(token, peerName || "unnamed peer");
        return token;
    }

    /** The joined peer's session, or null. */
    check(metadata: grpc.Metadata): { token: string; peer: string } | null {
        const v = metadata.get("authorization")[0];
        if (typeof v !== "string" || !v.startsWith("Bearer ")) return null;
        const token = v.slice(7);
        const peer = this.tokens.get(token);
        return peer == null ? null : { token, peer };
    }
}

export function bearer(token: string): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${token}`);
    return m;
}
