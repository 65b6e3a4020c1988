// Watches a running node's cluster view the way `hearth peers --json` reads it: GetPeers on the
// node named by <dataDir>/node.json, over mutual TLS with that data dir's own certificate. It runs
// where the node can be reached (inside its network namespace, for the netns tests), keeps one
// connection, asks every --interval-ms and prints a JSON line whenever what it shows changes, so a
// test can time changes to the poll interval without starting a `hearth peers` process per poll
// (each costs about a second of CPU). It waits for the node to start and follows it when it
// restarts (node.json names another pid). Stops on SIGTERM or when stdin closes.
//
//   node --import tsx test/helpers/peers-watch.ts --data-dir DIR [--interval-ms 250]
import readline from "node:readline";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { ClusterViewState, Peer } from "../../app/cluster/cluster-view.ts";
import { readLocalNodeRecord } from "../../app/cluster/local-node.ts";
import { loadNodeCluster } from "../../app/cluster/node-cluster.ts";
import { NodeClient, grpcMessage } from "../../app/protocol/node-client.ts";

export type WatchedPeer = Pick<Peer, "nodeId" | "name" | "state" | "relation" | "address" | "source">;

export interface WatchLine {
    /** Date.now() when the answer (or the failure) came */
    t: number;
    /** "ready" (once, before the first poll) or "view" */
    type: "ready" | "view";
    /** the view's peers, this machine first; empty while there is no answer */
    peers: WatchedPeer[];
    /** why there is no answer now (no node runs, the call failed), or null */
    error: string | null;
}

function main(): void {
    const { values } = parseArgs({ options: { "data-dir": { type: "string" }, "interval-ms": { type: "string", default: "250" } } });
    const dataDir = values["data-dir"];
    if (dataDir == null) throw new Error("--data-dir is required");
    const intervalMs = Number(values["interval-ms"]);
    const cluster = loadNodeCluster(dataDir);
    if (cluster == null) throw new Error(`${dataDir} is in no cluster`);
    let client: NodeClient | null = null;
    let pid: number | null = null;
    let last = "";
    let stopped = false;
    const print = (line: WatchLine) => process.stdout.write(JSON.stringify(line) + "\n");
    const show = (peers: WatchedPeer[], error: string | null) => {
        const key = JSON.stringify({ peers, error });
        if (key === last) return;
        last = key;
        print({ t: Date.now(), type: "view", peers, error });
    };
    const poll = async () => {
        const record = readLocalNodeRecord(dataDir);
        if (record?.pid !== pid) {
            client?.close();
            client = record == null ? null : new NodeClient(record.address, { cluster, expectedNodeId: cluster.identity.nodeId });
            pid = record?.pid ?? null;
        }
        if (client == null) { show([], "no node runs with this data dir"); return; }
        const c = client;
        try {
            const view = await new Promise<ClusterViewState>((resolve, reject) =>
                c.raw.getPeers({ addAddress: "" }, { deadline: Date.now() + 2000 }, (e, r) => (e ? reject(e) : resolve(JSON.parse(r!.viewJson) as ClusterViewState))));
            show(view.peers.map(({ nodeId, name, state, relation, address, source }) => ({ nodeId, name, state, relation, address, source })), null);
        } catch (e) {
            show([], grpcMessage(e));
        }
    };
    const loop = async () => {
        while (!stopped) {
            const started = Date.now();
            await poll();
            await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
        }
        client?.close();
        process.exit(0);
    };
    const stop = () => { stopped = true; };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    readline.createInterface({ input: process.stdin }).on("close", stop);
    print({ t: Date.now(), type: "ready", peers: [], error: null });
    void loop();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
