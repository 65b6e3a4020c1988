// One cluster for the tests of a file: its CA is made on first use in a temporary founder data
// dir, and every data dir a test uses (a node's, a coordinator's) is enrolled as a member with a
// certificate of that CA and the full member list. Nodes already running hear of a new member
// the way members do: a SyncMembers call from a member (here the coordinator).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { issueNodeCertificate } from "../../app/cluster/ca.ts";
import { loadOrCreateNodeIdentity } from "../../app/cluster/identity.ts";
import { MemberList } from "../../app/cluster/member-list.ts";
import { saveMembership } from "../../app/cluster/membership.ts";
import { createNodeCluster, loadNodeCluster, memberListFile, type NodeCluster } from "../../app/cluster/node-cluster.ts";
import type * as grpc from "@grpc/grpc-js";
import { channelCredentials } from "../../app/cluster/credentials.ts";
import { NODE_CHANNEL_OPTIONS, NodeClient } from "../../app/protocol/node-client.ts";

interface TestCluster {
    founder: NodeCluster;
    founderDir: string;
    /** every member, kept in step with what has been written to each data dir */
    members: MemberList;
    /** running nodes to tell about new members */
    running: Set<string>;
    /** every data dir enrolled: their member lists are kept whole for their next start */
    enrolled: Set<string>;
    coordinator: NodeCluster | null;
}

let shared: Promise<TestCluster> | null = null;

function testCluster(): Promise<TestCluster> {
    shared ??= (async () => {
        const founderDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-test-cluster-"));
        process.once("exit", () => fs.rmSync(founderDir, { recursive: true, force: true }));
        const founder = await createNodeCluster(founderDir, { nodeName: "test-founder" });
        return { founder, founderDir, members: founder.members, running: new Set(), enrolled: new Set(), coordinator: null };
    })();
    return shared;
}

/**
 * Makes `dataDir` a member of the tests' cluster (once; later calls load it) and tells the
 * running nodes. Resolves with its cluster as `loadNodeCluster` reads it.
 */
export async function enroll(dataDir: string, name: string): Promise<NodeCluster> {
    const t = await testCluster();
    const existing = loadNodeCluster(dataDir);
    if (existing != null && existing.membership.clusterId === t.founder.membership.clusterId) return existing;
    fs.mkdirSync(dataDir, { recursive: true });
    const identity = loadOrCreateNodeIdentity(dataDir);
    const certificatePem = await issueNodeCertificate(t.founder.authority!, { nodeId: identity.nodeId, name, publicKey: identity.publicKey });
    saveMembership(dataDir, { clusterId: t.founder.membership.clusterId, caCertificatePem: t.founder.membership.caCertificatePem, certificatePem });
    t.members.add({ nodeId: identity.nodeId, name });
    fs.rmSync(memberListFile(dataDir), { force: true });
    t.enrolled.add(dataDir);
    for (const enrolled of t.enrolled) if (fs.existsSync(enrolled)) MemberList.load(memberListFile(enrolled)).merge(t.members.entries());
    t.coordinator?.members.merge(t.members.entries());
    await tellRunning(t);
    return loadNodeCluster(dataDir)!;
}

async function tellRunning(t: TestCluster, addresses: Iterable<string> = t.running): Promise<void> {
    if (t.coordinator == null) return;
    await Promise.all([...addresses].map(async (address) => {
        const client = new NodeClient(address, { cluster: t.coordinator! });
        try {
            await client.syncMembers(t.members.entries(), 5000);
        } catch {
            t.running.delete(address); // stopped
        } finally {
            client.close();
        }
    }));
}

/** The coordinator's cluster (a member with its own data dir), for connectPipeline and NodeClient. */
export async function testCoordinator(): Promise<NodeCluster> {
    const t = await testCluster();
    if (t.coordinator == null) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-test-coordinator-"));
        process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
        t.coordinator = await enroll(dir, "test-coordinator");
        t.coordinator.members.merge(t.members.entries());
    }
    return t.coordinator;
}

/**
 * Notes a started node: records where it listens (as a member's own entry would say), tells it
 * every member so far (some may have been enrolled while it started), and tells every running node.
 */
export async function noteRunning(address: string, dataDir: string): Promise<void> {
    const t = await testCluster();
    t.running.add(address);
    t.members.setAddress(loadOrCreateNodeIdentity(dataDir).nodeId, address);
    t.coordinator?.members.merge(t.members.entries());
    await tellRunning(t);
}

/** A client of a node as the coordinator (a member). */
export async function memberClient(address: string): Promise<NodeClient> {
    return new NodeClient(address, { cluster: await testCoordinator() });
}

/** The founder's data dir (it holds the CA; a node started on it can make join codes). */
export async function founderDataDir(): Promise<string> {
    return (await testCluster()).founderDir;
}

/** Credentials and channel options of a member (the coordinator), for raw gRPC clients in tests. */
export async function memberChannel(): Promise<{ credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
    const c = await testCoordinator();
    return { credentials: channelCredentials(c.identity, c.membership), options: NODE_CHANNEL_OPTIONS };
}
