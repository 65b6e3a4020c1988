// The control messages between Electron main and the node's utility process (over
// process.parentPort), and between main and the preload (over IPC). The UI contract itself never
// passes through main: each window gets its own MessagePort straight to the worker (see preload.ts).

import type { AppPhase, AppState } from "../app/ui-api/contract.ts";

/** main → worker */
export type ToWorker =
    /** a window's end of the bridge comes with this message (ports[0]) */
    | { type: "connect"; connectionId: number }
    /** forget that connection (its window reloaded or closed) */
    | { type: "disconnect"; connectionId: number }
    /** dispose the service and exit; main kills the process if it has not exited within 5 s */
    | { type: "shutdown" };

/** worker → main */
export type FromWorker =
    /** the service started: main may hand out ports */
    | { type: "ready" }
    /** the service could not start; the process exits right after */
    | { type: "fatal"; message: string }
    /** the service was disposed after "shutdown"; the process exits right after */
    | { type: "stopped" };

export function isFromWorker(value: unknown): value is FromWorker {
    if (value == null || typeof value !== "object") return false;
    const m = value as { type?: unknown; message?: unknown };
    if (m.type === "ready" || m.type === "stopped") return true;
    return m.type === "fatal" && typeof m.message === "string";
}

export function isToWorker(value: unknown): value is ToWorker {
    if (value == null || typeof value !== "object") return false;
    const m = value as { type?: unknown; connectionId?: unknown };
    if (m.type === "shutdown") return true;
    return (m.type === "connect" || m.type === "disconnect") && typeof m.connectionId === "number" && Number.isSafeInteger(m.connectionId);
}

/** IPC channels between main and the preload (the only ones the preload listens on or sends to). */
export const IPC = {
    /** preload → main (send): this page wants its port to the node */
    connect: "hearth:connect",
    /** main → preload (postMessage with one port): the page's port to the node */
    port: "hearth:port",
    /** main → preload (send): the node is down or starting (a NodeDown) */
    nodeDown: "hearth:node-down",
    /** preload → main (invoke): show the open dialog for a .gguf; resolves with the path or null */
    pickModelFile: "hearth:pick-model-file"
} as const;

/** What the preload hears while the node does not run: the app stream's phase and message, and an app state to show when it has none yet. */
export interface NodeDown {
    phase: Extract<AppPhase, "starting" | "failed">;
    message: string;
    /** true when main stopped restarting the node: invokes fail at once until it runs again */
    gaveUp: boolean;
    fallback: AppState;
}

export function isNodeDown(value: unknown): value is NodeDown {
    if (value == null || typeof value !== "object") return false;
    const m = value as Partial<NodeDown>;
    return (m.phase === "starting" || m.phase === "failed") && typeof m.message === "string" && typeof m.gaveUp === "boolean"
        && m.fallback != null && typeof m.fallback === "object";
}

// ---- the worker's command line ------------------------------------------------------------------

export interface WorkerArgs {
    dataDir: string;
    name?: string;
    port?: number;
    /** node settings from the environment, for tests and several instances on one machine:
     * $HEARTH_HOST (the address to listen on), $HEARTH_DISCOVERY=0, $HEARTH_SPEED_TEST=0, $HEARTH_MEMORY_LIMIT (bytes) */
    host?: string;
    discovery?: boolean;
    measureSpeed?: boolean;
    memoryLimitBytes?: number;
    /** $HEARTH_MAX_REPLY_TOKENS: the longest reply of the app's chat */
    maxReplyTokens?: number;
}

/** The arguments main passes to utilityProcess.fork (they arrive in the worker's process.argv). */
export function workerArgv(args: WorkerArgs): string[] {
    const argv = [`--data-dir=${args.dataDir}`];
    if (args.name != null && args.name !== "") argv.push(`--name=${args.name}`);
    if (args.port != null) argv.push(`--port=${args.port}`);
    return argv;
}

/** The worker's arguments from its argv (anything else in it is ignored), with $HEARTH_DATA_DIR when no --data-dir is given. */
export function parseWorkerArgv(argv: readonly string[], env: Record<string, string | undefined> = {}): WorkerArgs {
    const value = (flag: string): string | undefined => {
        let found: string | undefined;
        for (const a of argv) if (a.startsWith(`--${flag}=`)) found = a.slice(flag.length + 3);
        return found;
    };
    const dataDir = value("data-dir") ?? env.HEARTH_DATA_DIR;
    if (dataDir == null || dataDir === "") throw new Error("the node's worker needs --data-dir=<folder> (or $HEARTH_DATA_DIR)");
    const out: WorkerArgs = { dataDir };
    const name = value("name");
    if (name != null && name !== "") out.name = name;
    const port = value("port");
    if (port != null) {
        const n = Number(port);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be a port number (got '${port}')`);
        out.port = n;
    }
    if (env.HEARTH_HOST != null && env.HEARTH_HOST !== "") out.host = env.HEARTH_HOST;
    if (env.HEARTH_DISCOVERY === "0") out.discovery = false;
    if (env.HEARTH_SPEED_TEST === "0") out.measureSpeed = false;
    if (env.HEARTH_MEMORY_LIMIT != null && env.HEARTH_MEMORY_LIMIT !== "") {
        const n = Number(env.HEARTH_MEMORY_LIMIT);
        if (!Number.isInteger(n) || n <= 0) throw new Error(`HEARTH_MEMORY_LIMIT must be a number of bytes (got '${env.HEARTH_MEMORY_LIMIT}')`);
        out.memoryLimitBytes = n;
    }
    if (env.HEARTH_MAX_REPLY_TOKENS != null && env.HEARTH_MAX_REPLY_TOKENS !== "") {
        const n = Number(env.HEARTH_MAX_REPLY_TOKENS);
        if (!Number.isInteger(n) || n <= 0) throw new Error(`HEARTH_MAX_REPLY_TOKENS must be a whole number of tokens (got '${env.HEARTH_MAX_REPLY_TOKENS}')`);
        out.maxReplyTokens = n;
    }
    return out;
}

/** A port number from the environment ($HEARTH_PORT), or undefined when unset; a bad one is an error. */
export function portFromEnv(value: string | undefined): number | undefined {
    if (value == null || value.trim() === "") return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`HEARTH_PORT must be a port number (got '${value}')`);
    return n;
}
