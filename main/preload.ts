// The preload (sandboxed, context-isolated; bundled to main/dist/preload.cjs so the contract's
// lists are inlined: a sandboxed preload can require only "electron"). It exposes exactly the
// contract's HearthApi as `window.hearth` and one shell call as `window.hearthShell`; no
// ipcRenderer, no port, no Node reaches the page.
//
// The bridge runs over a MessagePort main hands to this page: its other end is in the node's
// worker, so tokens stream from the worker to this page without passing through main. Main sends
// a new port whenever the node (re)starts and tells this page when the node is down.
import { contextBridge, ipcRenderer } from "electron";
import type { HearthApi, UiMethod, UiParams, UiResult, UiStreamMessage, UiStreamName } from "../app/ui-api/contract.ts";
import { BridgeClient } from "./bridge-client.ts";
import type { HearthShellApi } from "./shell-api.ts";
import { IPC, isNodeDown } from "./worker-protocol.ts";

const client = new BridgeClient({ log: (line) => console.warn(line) });
let port: MessagePort | null = null;

ipcRenderer.on(IPC.port, (event) => {
    const next = event.ports[0];
    if (next == null) return;
    if (port != null) port.close();
    port = next;
    const mine = next;
    mine.onmessage = (e: MessageEvent) => {
        if (port === mine) client.receive(e.data);
    };
    mine.start();
    client.attach((text) => mine.postMessage(text));
});

ipcRenderer.on(IPC.nodeDown, (_event, status: unknown) => {
    if (!isNodeDown(status)) return;
    if (port != null) {
        port.close();
        port = null;
    }
    client.nodeDown(status);
});

// An Error crosses the context bridge as a new Error with the same message (its name and other
// properties stay behind), so the page reads a request's failure from `message`; `code` is kept
// on this side for whoever can see it.
function bridgeError(e: unknown): Error {
    const info = e as { message?: unknown; code?: unknown } | null;
    const error = new Error(typeof info?.message === "string" ? info.message : String(e)) as Error & { code: string };
    error.name = "UiError";
    error.code = typeof info?.code === "string" ? info.code : "failed";
    return error;
}

const api: HearthApi = {
    invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>> {
        return client.invoke(method, params).catch((e: unknown) => { throw bridgeError(e); });
    },
    subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void {
        try {
            return client.subscribe(stream, listener);
        } catch (e) {
            throw bridgeError(e);
        }
    }
};

const shellApi: HearthShellApi = {
    async pickModelFile(): Promise<string | null> {
        const picked: unknown = await ipcRenderer.invoke(IPC.pickModelFile);
        return typeof picked === "string" && picked !== "" ? picked : null;
    }
};

contextBridge.exposeInMainWorld("hearth", api);
contextBridge.exposeInMainWorld("hearthShell", shellApi);

ipcRenderer.send(IPC.connect);
