// The node, in an Electron utility process (bundled to main/dist/worker.js, ESM): the engine's
// UiService, served to each window over the MessagePort main hands it. llama.cpp may abort this
// whole process on an internal assert; main sees the exit and starts a new one, the window stays.
//
// Control (process.parentPort): main sends "connect" (with a port), "disconnect", "shutdown";
// this process answers "ready" once the service runs, "fatal" when it cannot start, "stopped"
// after a shutdown.
import type { MessageEvent, MessagePortMain } from "electron";
import { UiService } from "../app/ui-api/ui-service.ts";
import { openBridgeConnection, type BridgeConnection } from "./worker-bridge.ts";
import { isToWorker, parseWorkerArgv, type FromWorker } from "./worker-protocol.ts";

const log = (line: string): void => { process.stderr.write(`${line}\n`); };

const parentPort = (process as { parentPort?: Electron.ParentPort }).parentPort;
if (parentPort == null) {
    log("hearth: main/dist/worker.js runs only as Electron's utility process (utilityProcess.fork)");
    process.exit(2);
}
const post = (message: FromWorker): void => parentPort.postMessage(message);

// A node in setup has no server yet; the process must not end because its event loop is empty.
const keepAlive = setInterval(() => {}, 1 << 30);

const connections = new Map<number, { conn: BridgeConnection; port: MessagePortMain }>();
const early: Array<{ connectionId: number; port: MessagePortMain }> = [];
let service: UiService | null = null;
let stopping = false;

function connect(connectionId: number, port: MessagePortMain, api: UiService): void {
    connections.get(connectionId)?.conn.close();
    const conn = openBridgeConnection({
        api,
        send: (text) => port.postMessage(text),
        onClose: () => {
            if (connections.get(connectionId)?.conn === conn) connections.delete(connectionId);
            try { port.close(); } catch { /* already closed */ }
        },
        log
    });
    connections.set(connectionId, { conn, port });
    port.on("message", (e: MessageEvent) => conn.receive(e.data));
    port.on("close", () => conn.close());
    port.start();
}

/** Tells main why, then exits (a moment later, so that the message leaves first). */
function fatal(message: string): void {
    stopping = true;
    post({ type: "fatal", message });
    setTimeout(() => process.exit(1), 200);
}

let starting: Promise<UiService | null> = Promise.resolve(null);

async function start(): Promise<void> {
    let args: ReturnType<typeof parseWorkerArgv>;
    try {
        args = parseWorkerArgv(process.argv, process.env);
    } catch (e) {
        fatal((e as Error).message);
        return;
    }
    const pending = UiService.start({
        dataDir: args.dataDir,
        shell: "desktop",
        ...(args.name != null ? { name: args.name } : {}),
        ...(args.port != null ? { port: args.port } : {}),
        ...(args.host != null ? { host: args.host } : {}),
        ...(args.discovery != null ? { discovery: args.discovery } : {}),
        ...(args.measureSpeed != null ? { measureSpeed: args.measureSpeed } : {}),
        ...(args.memoryLimitBytes != null ? { node: { memoryLimitBytes: args.memoryLimitBytes } } : {}),
        ...(args.maxReplyTokens != null ? { maxReplyTokens: args.maxReplyTokens } : {}),
        log
    });
    starting = pending.catch(() => null);
    let started: UiService;
    try {
        started = await pending;
    } catch (e) {
        const message = (e as Error)?.message ?? String(e);
        log(`hearth: the node could not start: ${(e as Error)?.stack ?? message}`);
        fatal(message);
        return;
    }
    service = started;
    if (stopping) return;
    for (const c of early.splice(0)) connect(c.connectionId, c.port, started);
    post({ type: "ready" });
}

async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    for (const { conn } of [...connections.values()]) conn.close();
    connections.clear();
    for (const { port } of early.splice(0)) port.close();
    try {
        const s = service ?? (await starting);
        await s?.dispose();
    } catch (e) {
        log(`hearth: the node did not stop cleanly: ${(e as Error).stack ?? String(e)}`);
    }
    clearInterval(keepAlive);
    post({ type: "stopped" });
    process.exit(0);
}

parentPort.on("message", (e: MessageEvent) => {
    const message: unknown = e.data;
    if (!isToWorker(message)) {
        log("hearth: the node's worker dropped a message it does not know");
        return;
    }
    switch (message.type) {
        case "connect": {
            const port = e.ports[0];
            if (port == null) return;
            if (stopping) { port.close(); return; }
            if (service != null) connect(message.connectionId, port, service);
            else early.push({ connectionId: message.connectionId, port });
            return;
        }
        case "disconnect": {
            connections.get(message.connectionId)?.conn.close();
            const i = early.findIndex((c) => c.connectionId === message.connectionId);
            if (i >= 0) early.splice(i, 1)[0]!.port.close();
            return;
        }
        case "shutdown":
            void shutdown();
            return;
    }
});

void start();
