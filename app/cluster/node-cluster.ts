// Everything that makes a node a member of its cluster, as kept in its data dir: its identity
// (node-identity.json), its certificate and the cluster CA's (membership.json), the member list
// (members.json) and, on the node that created the cluster, the CA's key (cluster/). Creating,
// joining (saving a verified join) and leaving are here; the wire is elsewhere.
import fs from "node:fs";
import path from "node:path";
import { createCluster, issueNodeCertificate, loadClusterAuthority, type ClusterAuthority } from "./ca.ts";
import { ClusterFileError } from "./errors.ts";
import { loadOrCreateNodeIdentity, type NodeIdentity } from "./identity.ts";
import type { JoinResult } from "./join-protocol.ts";
import { MemberList } from "./member-list.ts";
import { loadMembership, membershipFile, saveMembership, type ClusterMembership } from "./membership.ts";

export interface NodeCluster {
    readonly identity: NodeIdentity;
    readonly membership: ClusterMembership;
    readonly members: MemberList;
    /** The cluster's CA: only on the node that created the cluster (it signs joining machines' certificates). */
    readonly authority: ClusterAuthority | null;
}

export function memberListFile(dataDir: string): string { return path.join(dataDir, "members.json"); }

/** Data dirs of Hearth 0.1 kept a shared cluster key; it no longer admits anyone. */
function refuseLegacyClusterKey(dataDir: string): void {
    const legacy = path.join(dataDir, "cluster-key");
    if (fs.existsSync(legacy))
        throw new ClusterFileError(`${legacy} is a cluster key of an older Hearth, which no longer admits machines: clusters now use certificates and join codes. ` +
            `Delete that file, then start this node with --create-cluster on one machine and join the others with a code from 'hearth invite'`);
}

/** This node's cluster as kept in `dataDir`, or null when it is in none (its identity is made if missing). */
export function loadNodeCluster(dataDir: string): NodeCluster | null {
    refuseLegacyClusterKey(dataDir);
    const identity = loadOrCreateNodeIdentity(dataDir);
    const membership = loadMembership(dataDir, identity);
    if (membership == null) return null;
    const members = MemberList.load(memberListFile(dataDir));
    const authority = loadClusterAuthority(dataDir);
    if (authority != null && authority.clusterId !== membership.clusterId)
        throw new ClusterFileError(`${path.join(dataDir, "cluster")} holds the CA of cluster ${authority.clusterId}, but this node is a member of ${membership.clusterId}; ` +
            "move one of them away (the CA folder if this node joined another cluster)");
    if (members.isRevoked(identity.nodeId))
        throw new ClusterFileError(`this node was removed from its cluster; run 'hearth leave' to forget it, then join again with a new code`);
    return { identity, membership, members, authority };
}

/** Makes a new cluster in `dataDir`: its CA, this node's certificate, a member list of this node alone. */
export async function createNodeCluster(dataDir: string, options: { nodeName: string; clusterName?: string }): Promise<NodeCluster> {
    refuseLegacyClusterKey(dataDir);
    const identity = loadOrCreateNodeIdentity(dataDir);
    if (fs.existsSync(membershipFile(dataDir)))
        throw new ClusterFileError(`this node is already a member of a cluster (${membershipFile(dataDir)}); run 'hearth leave' first to make a new one`);
    const authority = await createCluster({ dataDir, name: options.clusterName ?? `${options.nodeName}'s cluster` });
    const certificatePem = await issueNodeCertificate(authority, { nodeId: identity.nodeId, name: options.nodeName, publicKey: identity.publicKey });
    const membership: ClusterMembership = { clusterId: authority.clusterId, caCertificatePem: authority.certificatePem, certificatePem };
    saveMembership(dataDir, membership);
    fs.rmSync(memberListFile(dataDir), { force: true });
    const members = MemberList.load(memberListFile(dataDir));
    members.add({ nodeId: identity.nodeId, name: options.nodeName });
    return { identity, membership, members, authority };
}

/** Keeps a verified join (join-protocol.ts's verifyJoinAccept) in `dataDir`. */
export function saveJoinedCluster(dataDir: string, identity: NodeIdentity, result: JoinResult): NodeCluster {
    if (fs.existsSync(membershipFile(dataDir)))
        throw new ClusterFileError(`this node is already a member of a cluster (${membershipFile(dataDir)}); run 'hearth leave' first to join another`);
    const membership: ClusterMembership = { clusterId: result.clusterId, caCertificatePem: result.caCertificatePem, certificatePem: result.certificatePem };
    fs.rmSync(memberListFile(dataDir), { force: true });
    const members = MemberList.load(memberListFile(dataDir));
    // As old as can be: what the members themselves say (addresses, removals) wins at the first sync.
    members.merge(result.members.map((m) => ({ nodeId: m.nodeId, name: m.name, address: null, removed: false, changedAtMs: 0 })));
    saveMembership(dataDir, membership);
    return { identity, membership, members, authority: null };
}

/** Forgets the cluster (certificate, member list, and the CA if this node made it); the node keeps its id. */
export function forgetNodeCluster(dataDir: string): void {
    fs.rmSync(membershipFile(dataDir), { force: true });
    fs.rmSync(memberListFile(dataDir), { force: true });
    fs.rmSync(path.join(dataDir, "cluster"), { recursive: true, force: true });
}
