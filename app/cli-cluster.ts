// The cluster commands of `hearth`: invite, join, leave, remove, peers; and how `hearth node`
// gets its cluster (the one in its data dir, a new one, or one joined with a code).
import os from "node:os";
import { parseArgs } from "node:util";
import { localNodeClient } from "./cluster/local-node.ts";
import { forgetNodeCluster, loadNodeCluster, type NodeCluster } from "./cluster/node-cluster.ts";
import { formatPeersTable, type ClusterViewState } from "./cluster/cluster-view.ts";
import { joinCluster } from "./cluster/join-cluster.ts";
import { NodeClient, grpcMessage } from "./protocol/node-client.ts";
import { defaultDataDir } from "./model/stage-cache.ts";

export class ClusterUsageError extends Error {}


/** This machine's cluster, or an error saying how to get one. */
export function requireCluster(dataDir: string): NodeCluster {
    const cluster = loadNodeCluster(dataDir);
    if (cluster == null)
        throw new Error(`this machine (data dir ${dataDir}) is in no cluster: start 'hearth node' to create one, or join one with 'hearth join CODE' (make the code with 'hearth invite' on a member)`);
    return cluster;
}

/** A client of this machine's running node, or an error saying to start it (`otherwise`: what else the user can do). */
export function requireLocalNode(dataDir: string, cluster: NodeCluster, otherwise = "and try again"): NodeClient {
    const client = localNodeClient(dataDir, cluster);
    if (client == null) throw new Error(`no Hearth node runs with data dir ${dataDir}: start it with 'hearth node' (in another terminal, or as the desktop app) ${otherwise}`);
    return client;
}

/** Nodes of any cluster that discovery hears within `ms`, as host:port, with their names. */
export async function cmdInvite(argv: string[]): Promise<void> {
    const { values } = parseArgs({ args: argv, options: { "data-dir": { type: "string" }, json: { type: "boolean", default: false } } });
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const cluster = requireCluster(dataDir);
    const client = requireLocalNode(dataDir, cluster);
    try {
        const invite = await client.createInvite();
        const minutes = Math.round((invite.expiresAtMs - Date.now()) / 60000);
        if (values.json) {
            process.stdout.write(JSON.stringify({ code: invite.code, expiresAtMs: invite.expiresAtMs, address: invite.joinAddress, inviter: invite.inviterName }) + "\n");
            return;
        }
        process.stdout.write(`join code: ${invite.code}\n` +
            `valid for ${minutes} minutes, for one machine${invite.inviterName !== "" ? `, made by '${invite.inviterName}'` : ""}. On the new machine run:\n` +
            `  hearth join ${invite.code} --peer ${invite.joinAddress}\n` +
            "(or leave out --peer on the same network: the machine is found by itself)\n");
    } catch (e) {
        throw new Error(grpcMessage(e));
    } finally {
        client.close();
    }
}

export async function cmdJoin(argv: string[]): Promise<void> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
        "data-dir": { type: "string" }, peer: { type: "string" }, name: { type: "string" }, interface: { type: "string" }
    } });
    if (positionals.length !== 1) throw new ClusterUsageError("join needs the code shown by 'hearth invite': hearth join CODE [--peer HOST:PORT]");
    await joinCluster({
        dataDir: values["data-dir"] ?? defaultDataDir(), code: positionals[0]!, name: values.name ?? os.hostname(),
        ...(values.peer != null ? { peer: values.peer } : {}), ...(values.interface != null ? { interfaceAddress: values.interface } : {}),
        log: (line) => process.stderr.write(`${line}\n`)
    });
    process.stdout.write("this machine is now a member; start it with 'hearth node'\n");
}

/** Tells the members (the running local node first, which passes it on) that `nodeId` is removed. */
async function removeEverywhere(dataDir: string, cluster: NodeCluster, nodeId: string): Promise<number> {
    let told = 0;
    const local = localNodeClient(dataDir, cluster);
    if (local != null) {
        try {
            await local.removeMember(nodeId, 5000);
            told++;
        } catch (e) {
            process.stderr.write(`the local node did not take the removal (${grpcMessage(e)}); telling the others directly\n`);
        } finally {
            local.close();
        }
    }
    cluster.members.revoke(nodeId);
    await Promise.all(cluster.members.list().filter((m) => m.nodeId !== cluster.identity.nodeId && m.address != null).map(async (m) => {
        const client = new NodeClient(m.address!, { cluster, expectedNodeId: m.nodeId });
        try {
            await client.removeMember(nodeId, 5000);
            told++;
        } catch {
            // Already told by the local node, or off now: the members pass it on when they sync.
        } finally {
            client.close();
        }
    }));
    return told;
}

export async function cmdLeave(argv: string[]): Promise<void> {
    const { values } = parseArgs({ args: argv, options: { "data-dir": { type: "string" } } });
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const cluster = loadNodeCluster(dataDir);
    if (cluster == null) { process.stdout.write("this machine is in no cluster\n"); return; }
    const told = await removeEverywhere(dataDir, cluster, cluster.identity.nodeId);
    const hadCa = cluster.authority != null;
    forgetNodeCluster(dataDir);
    process.stdout.write(`left the cluster (${told} member${told === 1 ? "" : "s"} told; the others refuse this machine once they hear it from them)\n`);
    if (hadCa) process.stdout.write("this machine had created the cluster: no one can add machines to it any more; the members keep working together\n");
}

export async function cmdRemove(argv: string[]): Promise<void> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { "data-dir": { type: "string" } } });
    if (positionals.length !== 1) throw new ClusterUsageError("remove needs the name or node id of a member: hearth remove NAME");
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const cluster = requireCluster(dataDir);
    const wanted = positionals[0]!;
    const matches = cluster.members.list().filter((m) => m.name === wanted || m.nodeId === wanted || (wanted.length >= 6 && m.nodeId.startsWith(wanted)));
    if (matches.length === 0) throw new Error(`no member is called '${wanted}': see the members with 'hearth peers'`);
    if (matches.length > 1) throw new Error(`${matches.length} members are called '${wanted}': give the node id instead (see 'hearth peers --json')`);
    const target = matches[0]!;
    if (target.nodeId === cluster.identity.nodeId) throw new Error("that is this machine: use 'hearth leave'");
    const told = await removeEverywhere(dataDir, cluster, target.nodeId);
    process.stdout.write(`removed '${target.name}' from the cluster (${told} member${told === 1 ? "" : "s"} told); it is refused from now on\n`);
}

export async function cmdPeers(argv: string[]): Promise<void> {
    const { values } = parseArgs({ args: argv, options: { "data-dir": { type: "string" }, json: { type: "boolean", default: false }, add: { type: "string" } } });
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const cluster = requireCluster(dataDir);
    const client = requireLocalNode(dataDir, cluster);
    try {
        const view = await new Promise<ClusterViewState>((resolve, reject) =>
            client.raw.getPeers({ addAddress: values.add ?? "" }, { deadline: Date.now() + 15000 }, (e, r) => (e ? reject(e) : resolve(JSON.parse(r!.viewJson) as ClusterViewState))));
        if (values.json) process.stdout.write(JSON.stringify(view, null, 2) + "\n");
        else process.stdout.write(formatPeersTable(view) + "\n");
    } catch (e) {
        throw new Error(grpcMessage(e));
    } finally {
        client.close();
    }
}
