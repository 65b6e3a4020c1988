// `hearth node --web`: this machine's node with the app's UI served to a browser (for headless
// machines, and wherever the desktop app cannot run). The node's life (create, join, leave) is
// the UI's: UiService, served over WebUi's WebSocket.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UiService, type UiServiceOptions } from "./ui-api/ui-service.ts";
import { WebUi } from "./ui-api/web-ui.ts";

export const DEFAULT_WEB_PORT = 7421;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface WebNodeOptions {
    dataDir: string;
    name: string;
    host: string;
    port: number;
    webPort: number;
    webHost: string;
    discovery: boolean;
    measureSpeed: boolean;
    node: UiServiceOptions["node"];
    /** the longest reply, in tokens (UiServiceOptions.maxReplyTokens) */
    maxReplyTokens?: number;
    /** serve the OpenAI-compatible API too (UiServiceOptions.api) */
    api?: UiServiceOptions["api"];
}

/** The newest modification time under `dir` (recursively), skipping `skip`. */
function newest(dir: string, skip: string): number {
    let t = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (full === skip) continue;
        t = Math.max(t, entry.isDirectory() ? newest(full, skip) : fs.statSync(full).mtimeMs);
    }
    return t;
}

/** The built renderer: built now when missing or older than its sources (esbuild, well under a second). */
export async function ensureRendererBuilt(): Promise<string> {
    const dist = path.join(root, "renderer", "dist");
    const index = path.join(dist, "index.html");
    const sources = path.join(root, "renderer");
    const stale = !fs.existsSync(index) || (fs.existsSync(sources) && newest(sources, dist) > fs.statSync(index).mtimeMs);
    if (stale) {
        const build = path.join(root, "scripts", "build-renderer.mjs");
        const { buildRenderer } = await import(pathToFileURL(build).href) as { buildRenderer: (o?: { outDir?: string }) => Promise<void> };
        await buildRenderer({ outDir: dist });
    }
    return dist;
}

export async function runWebNode(o: WebNodeOptions): Promise<void> {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const rendererDir = await ensureRendererBuilt();
    const service = await UiService.start({
        dataDir: o.dataDir, shell: "web", name: o.name, host: o.host, port: o.port, discovery: o.discovery, measureSpeed: o.measureSpeed,
        ...(o.node != null ? { node: o.node } : {}), ...(o.maxReplyTokens != null ? { maxReplyTokens: o.maxReplyTokens } : {}), ...(o.api != null ? { api: o.api } : {}), log
    });
    let ui: WebUi;
    try {
        ui = await WebUi.start({ api: service, rendererDir, host: o.webHost, port: o.webPort, log });
    } catch (e) {
        await service.dispose();
        throw e;
    }
    const app = service.runningNode;
    if (app != null) console.log(`hearth node '${o.name}' listening on ${app.clusterRuntime.address.replace(/:\d+$/, "")}:${app.port}`);
    console.log(`hearth web UI: open ${ui.url}`);
    const api = service.apiUrl;
    if (api != null) console.log(`hearth OpenAI-compatible API on ${api}`);
    if (ui.token != null) console.log("(the address carries this machine's login token: share it only with people who may use this node)");
    await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
    });
    await ui.dispose();
    await service.dispose();
}
