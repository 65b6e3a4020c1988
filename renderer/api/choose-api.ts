// Which HearthApi the page talks through: Electron's preload (`window.hearth`) when it is there,
// else the WebSocket client to the node that served the page (the web UI), with the login token.
import type { HearthApi } from "../../app/ui-api/contract.ts";
import type { HearthShell } from "../state/actions.ts";
import { bridgeUrl, takeLoginToken, type HistoryLike, type LocationLike, type StorageLike } from "./token.ts";
import { createWsClient, type WebSocketConstructor, type WsClient } from "./ws-client.ts";

/** What this file reads of `window`. */
export interface HearthWindow {
    hearth?: HearthApi;
    hearthShell?: HearthShell;
    location: LocationLike;
    sessionStorage?: StorageLike;
    history?: HistoryLike;
    WebSocket?: WebSocketConstructor;
}

export interface ChosenApi {
    api: HearthApi;
    /** the WebSocket client, when that is the API (it has a connection that can drop) */
    ws: WsClient | null;
    shell: HearthShell | null;
}

export function chooseApi(win: HearthWindow): ChosenApi {
    const shell = win.hearthShell && typeof win.hearthShell.pickModelFile === "function" ? win.hearthShell : null;
    if (win.hearth && typeof win.hearth.invoke === "function" && typeof win.hearth.subscribe === "function") {
        return { api: win.hearth, ws: null, shell };
    }
    let storage: StorageLike | null = null;
    try { storage = win.sessionStorage ?? null; } catch { storage = null; } // a sandboxed page may refuse storage
    const token = takeLoginToken(win.location, storage, win.history ?? null);
    const ws = createWsClient({ url: bridgeUrl(win.location, token), WebSocket: win.WebSocket });
    return { api: ws, ws, shell };
}
