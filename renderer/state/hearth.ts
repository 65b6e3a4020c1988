// Everything the UI runs on, made in one place: the streams store, the UI store and the actions
// over one HearthApi (Electron's preload or the WebSocket client), and the connection's status.
import type { HearthApi } from "../../app/ui-api/contract.ts";
import type { ConnectionInfo } from "../api/ws-client.ts";
import { createActions, type Actions, type HearthShell } from "./actions.ts";
import { createStreamsStore, type Scheduler, type Streams, type StreamsStore } from "./streams-store.ts";
import { createUiStore, type UiStore } from "./ui-store.ts";

export interface Hearth {
    api: HearthApi;
    streams: StreamsStore;
    ui: UiStore;
    actions: Actions;
    shell: HearthShell | null;
    /** try to reconnect now (the WebSocket client); null for a connection that cannot drop */
    reconnectNow: (() => void) | null;
    dispose(): void;
}

export interface HearthOptions {
    schedule?: Scheduler;
    shell?: HearthShell | null;
    /** the connection's status, when the API has one (the WebSocket client) */
    connection?: {
        onConnection(listener: (info: ConnectionInfo) => void): () => void;
        reconnectNow(): void;
    } | null;
}

export function createHearth(api: HearthApi, options: HearthOptions = {}): Hearth {
    const shell = options.shell ?? null;
    const streams: Streams = createStreamsStore(api, { schedule: options.schedule });
    const ui = createUiStore();
    const actions = createActions(api, streams, ui, shell);
    const stopConnection = options.connection?.onConnection((connection) => ui.setState({ connection })) ?? null;
    return {
        api,
        streams: streams.store,
        ui,
        actions,
        shell,
        reconnectNow: options.connection ? () => options.connection!.reconnectNow() : null,
        dispose() {
            stopConnection?.();
            streams.dispose();
        }
    };
}
