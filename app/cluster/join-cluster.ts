// Joining a cluster with a code: find the machines of a cluster on the LAN (or take the member's
// address), run the join handshake through one, and keep the membership in the data dir. Used by
// `hearth node --join`, `hearth join` and the UI's Join cluster.
import os from "node:os";
import { Discovery } from "./discovery.ts";
import { formatHostPort } from "./host-port.ts";
import { JoinRefusedError } from "./errors.ts";
import { parseJoinCode } from "./join-code.ts";
import { loadOrCreateNodeIdentity } from "./identity.ts";
import { loadNodeCluster, saveJoinedCluster, type NodeCluster } from "./node-cluster.ts";
import { joinThrough } from "../protocol/admission-client.ts";
import { PROTOCOL_VERSION } from "../protocol/proto.ts";
import { HEARTH_VERSION } from "../version.ts";

/** How long a join without a member's address listens for machines of a cluster. */
const FIND_MS = 10000;

async function findClusterNodes(nodeId: string, ms: number, interfaceAddress?: string): Promise<Array<{ address: string; name: string }>> {
    const discovery = Discovery.start({
        nodeId, name: os.hostname(), port: 0, advertise: false, clusterId: null, version: HEARTH_VERSION, protocol: PROTOCOL_VERSION,
        ...(interfaceAddress != null ? { interfaceAddress } : {})
    });
    try {
        const deadline = Date.now() + ms;
        // Wait for the first one, then a moment for the others that answer with it.
        while (Date.now() < deadline && !discovery.machines.some((m) => m.clusterId != null)) await new Promise((r) => setTimeout(r, 200));
        if (discovery.machines.some((m) => m.clusterId != null)) await new Promise((r) => setTimeout(r, 1000));
        return discovery.machines.filter((m) => m.clusterId != null && m.state === "discovered" && m.addresses.length > 0)
            .map((m) => ({ address: formatHostPort({ host: m.addresses[0]!, port: m.port }), name: m.name }));
    } finally {
        await discovery.dispose();
    }
}

export interface JoinOptions {
    dataDir: string;
    code: string;
    /** host:port of the machine that showed the code; found by discovery when not given */
    peer?: string;
    /** this machine's name in the cluster */
    name: string;
    /** the LAN interface address to look for machines on */
    interfaceAddress?: string;
    log: (line: string) => void;
}

/** Joins a cluster with a code and keeps the membership in the data dir. */
export async function joinCluster(options: JoinOptions): Promise<NodeCluster> {
    parseJoinCode(options.code); // a mistyped code is refused before anything is sent
    if (loadNodeCluster(options.dataDir) != null)
        throw new Error(`this machine is already a member of a cluster: run 'hearth leave' first to join another`);
    const identity = loadOrCreateNodeIdentity(options.dataDir);
    let candidates: Array<{ address: string; name: string }>;
    if (options.peer != null) candidates = [{ address: options.peer, name: options.peer }];
    else {
        options.log(`looking for the machines of a cluster on the LAN (up to ${FIND_MS / 1000} s) …`);
        candidates = await findClusterNodes(identity.nodeId, FIND_MS, options.interfaceAddress);
        if (candidates.length === 0)
            throw new Error(`no machines found in ${FIND_MS / 1000} s: add the inviting machine by address with 'hearth join CODE --peer HOST:PORT' ` +
                "(its address is shown with its code), and check that both machines are on the same network");
    }
    let lastRefusal: Error | null = null;
    for (const candidate of candidates) {
        try {
            const { result, inviter } = await joinThrough(candidate.address, options.code, { identity, name: options.name });
            const cluster = saveJoinedCluster(options.dataDir, identity, result);
            cluster.members.setAddress(inviter.inviterNodeId, candidate.address);
            options.log(`joined the cluster through '${inviter.inviterName}' (${candidate.address}): ${result.members.length} members`);
            return cluster;
        } catch (e) {
            // A machine that did not make this code says "wrong code": try the others found.
            if (e instanceof JoinRefusedError && e.reason === "wrongCode" && candidates.length > 1) { lastRefusal = e; continue; }
            throw e;
        }
    }
    throw lastRefusal ?? new Error("no machine accepted the code");
}
