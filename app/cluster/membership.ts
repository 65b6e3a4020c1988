// What makes this node a member of a cluster: the cluster CA's certificate and this node's own
// certificate, kept in `<dataDir>/membership.json` (atomically; public data, but 0600 all the same).
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { verifyNodeCertificate } from "./certificate-info.ts";
import { ClusterFileError } from "./errors.ts";
import type { NodeIdentity } from "./identity.ts";

export interface ClusterMembership {
    clusterId: string;
    caCertificatePem: string;
    /** This node's certificate, signed by the CA. */
    certificatePem: string;
}

const FORMAT = "hearth-membership-1";

export function membershipFile(dataDir: string): string { return path.join(dataDir, "membership.json"); }

export function saveMembership(dataDir: string, membership: ClusterMembership): void {
    const { clusterId, caCertificatePem, certificatePem } = membership;
    writeFileAtomicSync(membershipFile(dataDir), JSON.stringify({ format: FORMAT, clusterId, caCertificatePem, certificatePem }, null, 2) + "\n", 0o600);
}

/** This node's membership, or null when it has not joined (or created) a cluster. Checked against `identity`. */
export function loadMembership(dataDir: string, identity: NodeIdentity, now: Date = new Date()): ClusterMembership | null {
    const file = membershipFile(dataDir);
    if (!fs.existsSync(file)) return null;
    const refuse = (why: string): never => {
        throw new ClusterFileError(`${file} is not a usable cluster membership (${why}); delete it and join the cluster again with a new code`);
    };
    let record: { format?: unknown; clusterId?: unknown; caCertificatePem?: unknown; certificatePem?: unknown };
    try {
        record = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        return refuse((e as Error).message);
    }
    if (record?.format !== FORMAT || typeof record.caCertificatePem !== "string" || typeof record.certificatePem !== "string") return refuse(`its format is not ${FORMAT}`);
    let info: ReturnType<typeof verifyNodeCertificate>;
    try {
        info = verifyNodeCertificate(record.certificatePem, record.caCertificatePem, now);
    } catch (e) {
        return refuse((e as Error).message);
    }
    if (info.nodeId !== identity.nodeId || !new crypto.X509Certificate(record.certificatePem).checkPrivateKey(identity.privateKey))
        return refuse("its certificate is not this node's");
    return { clusterId: info.clusterId, caCertificatePem: record.caCertificatePem, certificatePem: record.certificatePem };
}
