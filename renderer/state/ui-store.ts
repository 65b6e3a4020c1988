// The UI's own state: which pane shows, the chat picked, drafts, the invite on screen, the
// catalogue fetched, and how each request the user started stands (busy, or the error it ended with).
import { createStore, type StoreApi } from "zustand/vanilla";
import type { CatalogueEntry, InviteView } from "../../app/ui-api/contract.ts";
import type { ConnectionInfo } from "../api/ws-client.ts";

export type Pane = "chat" | "cluster" | "model" | "placement";

/** Every request the UI makes, by what the user did. */
export type ActionKey =
    | "create" | "join" | "invite" | "leave" | "remove" | "addPeer" | "api"
    | "open" | "testModel" | "download" | "cancelDownload" | "catalogue"
    | "chatCreate" | "send" | "stop" | "deleteChat" | "renameChat";

export interface UiState {
    pane: Pane;
    /** the chat the user picked; null: the newest */
    activeChatId: string | null;
    /** drafts by chat id ("" for a chat not made yet) */
    drafts: Record<string, string>;
    busy: Partial<Record<ActionKey, boolean>>;
    errors: Partial<Record<ActionKey, string>>;
    invite: InviteView | null;
    catalogue: CatalogueEntry[] | null;
    /** how the API's connection stands (always open for Electron's preload) */
    connection: ConnectionInfo;
    /** after a failure, the user went back to the setup screen */
    setupAfterFailure: boolean;
}

export type UiStore = StoreApi<UiState>;

export function createUiStore(initial: Partial<UiState> = {}): UiStore {
    return createStore<UiState>()(() => ({
        pane: "chat",
        activeChatId: null,
        drafts: {},
        busy: {},
        errors: {},
        invite: null,
        catalogue: null,
        connection: { status: "open", failedAttempts: 0, nextAttemptAtMs: null },
        setupAfterFailure: false,
        ...initial
    }));
}
