// A peer for the discovery tests: runs one Discovery and prints a JSON line on start and on every
// change (not on a mere "seen"). Reads commands from stdin: "cluster ID" / "cluster -" (none).
// Stops (with goodbye packets) on SIGTERM or when stdin closes.
//
//   node --import tsx test/helpers/discovery-peer.ts --node-id ID --name NAME --port 7420 \
//        [--cluster ID] [--interface 10.253.77.11] [--lost-after-ms 10000] [--browse-interval-ms 3000]
import readline from "node:readline";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Discovery } from "../../app/cluster/discovery.ts";
import type { DiscoveredMachine } from "../../app/cluster/discovery-state.ts";

export interface PeerLine {
    /** Date.now() when printed */
    t: number;
    /** "ready", "state", or the event's type */
    type: string;
    nodeId: string;
    /** the event's machine (or lost node id), when it has one */
    subject?: string;
    machines: Array<Pick<DiscoveredMachine, "nodeId" | "name" | "addresses" | "port" | "clusterId" | "relation" | "state" | "source">>;
    problem: string | null;
}

function main(): void {
    const { values } = parseArgs({
        options: {
            "node-id": { type: "string" }, name: { type: "string" }, port: { type: "string", default: "7420" },
            cluster: { type: "string" }, interface: { type: "string" },
            "lost-after-ms": { type: "string" }, "browse-interval-ms": { type: "string" }
        }
    });
    const nodeId = values["node-id"];
    if (!nodeId) throw new Error("--node-id is required");
    const discovery = Discovery.start({
        nodeId, name: values.name ?? nodeId, port: Number(values.port), clusterId: values.cluster || null,
        version: "test", protocol: 2, interfaceAddress: values.interface,
        lostAfterMs: values["lost-after-ms"] ? Number(values["lost-after-ms"]) : undefined,
        browseIntervalMs: values["browse-interval-ms"] ? Number(values["browse-interval-ms"]) : undefined
    });
    const print = (type: string, subject?: string) => {
        const state = discovery.events.state;
        const line: PeerLine = {
            t: Date.now(), type, nodeId, subject, problem: state.problem,
            machines: state.machines.map(({ nodeId, name, addresses, port, clusterId, relation, state, source }) => ({ nodeId, name, addresses, port, clusterId, relation, state, source }))
        };
        process.stdout.write(JSON.stringify(line) + "\n");
    };
    discovery.events.subscribe((message) => {
        if (message.type === "seen") return;
        const subject = message.type === "lost" ? message.nodeId : "machine" in message ? message.machine.nodeId : undefined;
        print(message.type, subject);
    });
    print("ready");
    let stopping = false;
    const stop = () => {
        if (stopping) return;
        stopping = true;
        void discovery.dispose().then(() => process.exit(0));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    const input = readline.createInterface({ input: process.stdin });
    input.on("line", (text) => {
        const [command, argument] = text.trim().split(/\s+/);
        if (command === "cluster") discovery.setClusterId(argument && argument !== "-" ? argument : null);
    });
    input.on("close", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
