// The engine's streams as the UI holds them: one zustand store with each stream's state, folded
// from the API's messages (the state first, then events, through the contract's applyUiEvent).
// Messages are queued and applied together once per `schedule` tick (in the browser once per
// animation frame), so a burst of chat deltas costs one store update, not one per token.
import { createStore, type StoreApi } from "zustand/vanilla";
import {
    applyUiEvent, UI_STREAMS,
    type AppState, type ChatsState, type ChatView, type DownloadView, type HearthApi, type ModelState,
    type UiStreamMessage, type UiStreamName, type UiStreamState
} from "../../app/ui-api/contract.ts";
import type { ClusterViewState } from "../../app/cluster/cluster-view-types.ts";

export interface StreamsState {
    app: AppState | null;
    /** null until the node runs (and until the stream's state arrived: see `received`) */
    cluster: ClusterViewState | null;
    model: ModelState | null;
    downloads: DownloadView[] | null;
    chats: ChatsState | null;
    /** which streams have sent their state (the cluster's state may itself be null) */
    received: Record<UiStreamName, boolean>;
}

export type StreamsStore = StoreApi<StreamsState>;

/** Runs `flush` soon: at once (tests), or on the next animation frame (the browser). */
export type Scheduler = (flush: () => void) => void;

export const immediately: Scheduler = (flush) => flush();

export interface StreamsStoreOptions {
    /** When queued messages are applied. Defaults to at once. */
    schedule?: Scheduler;
}

export interface Streams {
    store: StreamsStore;
    /**
     * A chat this UI just created (the `chat.create` result), shown at once, before its
     * `chatCreated` event arrives; ignored when the chat is already there.
     */
    addCreatedChat(chat: ChatView): void;
    /** Applies whatever is queued now. */
    flush(): void;
    /** Unsubscribes from every stream. */
    dispose(): void;
}

const noneReceived = (): Record<UiStreamName, boolean> =>
    Object.fromEntries(UI_STREAMS.map((s) => [s, false])) as Record<UiStreamName, boolean>;

export function initialStreamsState(): StreamsState {
    return { app: null, cluster: null, model: null, downloads: null, chats: null, received: noneReceived() };
}

type Queued = { stream: UiStreamName; message: UiStreamMessage<UiStreamName> };

/** The state after one stream message (pure): a state replaces the stream's; an event is folded into it. */
export function applyStreamMessage(state: StreamsState, stream: UiStreamName, message: UiStreamMessage<UiStreamName>): StreamsState {
    if (message.kind === "state") {
        return { ...state, [stream]: message.state, received: { ...state.received, [stream]: true } };
    }
    // An event before its stream's state has nothing to apply to; the state, when it comes, has it in.
    if (!state.received[stream]) return state;
    const current = state[stream] as UiStreamState<UiStreamName>;
    if (current === null && stream !== "cluster") return state;
    return { ...state, [stream]: applyUiEvent(stream, current, message.event) };
}

export function createStreamsStore(api: HearthApi, options: StreamsStoreOptions = {}): Streams {
    const schedule = options.schedule ?? immediately;
    const store = createStore<StreamsState>()(() => initialStreamsState());
    let queue: Queued[] = [];
    let scheduled = false;
    let disposed = false;

    const flush = () => {
        scheduled = false;
        if (disposed || queue.length === 0) return;
        const batch = queue;
        queue = [];
        let next = store.getState();
        for (const { stream, message } of batch) next = applyStreamMessage(next, stream, message);
        if (next !== store.getState()) store.setState(next, true);
    };

    const enqueue = (stream: UiStreamName, message: UiStreamMessage<UiStreamName>) => {
        if (disposed) return;
        queue.push({ stream, message });
        if (!scheduled) {
            scheduled = true;
            schedule(flush);
        }
    };

    const unsubscribes = UI_STREAMS.map((stream) =>
        api.subscribe(stream, (message) => enqueue(stream, message as UiStreamMessage<UiStreamName>)));

    return {
        store,
        flush,
        addCreatedChat(chat) {
            flush();
            const state = store.getState();
            if (state.chats === null || state.chats.chats.some((c) => c.id === chat.id)) return;
            store.setState({ chats: applyUiEvent("chats", state.chats, { type: "chatCreated", chat }) });
        },
        dispose() {
            disposed = true;
            queue = [];
            for (const unsubscribe of unsubscribes) unsubscribe();
        }
    };
}
