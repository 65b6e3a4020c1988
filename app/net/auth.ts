// Joining a cluster: a peer presents the cluster key and receives a session token, which every
// later call carries. Nothing else is served to a peer that has not joined.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";

export function loadOrCreateClusterKey(dataDir: string): Buffer {
    const file = path.join(dataDir, "cluster-key");
    if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, "utf8").trim(), "hex");
    const key = crypto.randomBytes(32);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, key.toString("hex"), { mode: 0o600 });
    return key;
}

export function parseClusterKey(text: string): Buffer {
    if (!/^[0-9a-fA-F]{16,128}$/.test(text)) throw new Error("a cluster key is 16 to 128 hexadecimal characters");
    return Buffer.from(text, "hex");
}

export class Sessions {
    private readonly tokens = new Map<string, string>();
    constructor(private readonly clusterKey: Buffer) {}

    join(presented: Buffer, peerName: string): string | null {
        const a = crypto.createHash("sha256").update(presented).digest();
        const b = crypto.createHash("sha256").update(this.clusterKey).digest();
        if (!crypto.timingSafeEqual(a, b)) return null;
        const token = crypto.randomBytes(24).toString("base64url");
        this.tokens.set(token, peerName || "unnamed peer");
        return token;
    }

    /** The joined peer's name, or null. */
    check(metadata: grpc.Metadata): string | null {
        const v = metadata.get("authorization")[0];
        if (typeof v !== "string" || !v.startsWith("Bearer ")) return null;
        return this.tokens.get(v.slice(7)) ?? null;
    }
}

export function bearer(token: string): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${token}`);
    return m;
}
