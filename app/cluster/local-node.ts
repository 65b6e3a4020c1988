// How the command line reaches the node running on this machine: the node writes where it listens
// to `<dataDir>/node.json` while it runs, and the command connects there over mutual TLS with the
// node's own certificate (what the data dir holds is what proves it is this machine's owner).
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic-file.ts";
import { NodeClient } from "../protocol/node-client.ts";
import type { NodeCluster } from "./node-cluster.ts";

export interface LocalNodeRecord {
    /** host:port to reach it from this machine */
    address: string;
    /** host:port the other members reach it at */
    advertised: string;
    pid: number;
    nodeId: string;
}

export function localNodeFile(dataDir: string): string { return path.join(dataDir, "node.json"); }

export function writeLocalNodeRecord(dataDir: string, record: LocalNodeRecord): void {
    writeFileAtomicSync(localNodeFile(dataDir), JSON.stringify(record) + "\n", 0o600);
}

/** Removes the record, if it is this process's own. */
export function removeLocalNodeRecord(dataDir: string, pid = process.pid): void {
    const record = readLocalNodeRecord(dataDir);
    if (record?.pid === pid) fs.rmSync(localNodeFile(dataDir), { force: true });
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The running node's record, or null (none written, or its process is gone). */
export function readLocalNodeRecord(dataDir: string): LocalNodeRecord | null {
    try {
        const record = JSON.parse(fs.readFileSync(localNodeFile(dataDir), "utf8")) as LocalNodeRecord;
        if (typeof record?.address !== "string" || !Number.isInteger(record.pid) || !alive(record.pid)) return null;
        return record;
    } catch {
        return null;
    }
}

/** A client of this machine's running node, checked to be this very node; null when none runs. */
export function localNodeClient(dataDir: string, cluster: NodeCluster): NodeClient | null {
    const record = readLocalNodeRecord(dataDir);
    if (record == null) return null;
    return new NodeClient(record.address, { cluster, expectedNodeId: cluster.identity.nodeId });
}
