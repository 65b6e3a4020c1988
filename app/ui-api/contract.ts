// The one contract between the engine and the UI: requests (a method, its params, its result) and
// streams (a state, then events that change it, folded by the pure `applyUiEvent`). The Electron
// preload exposes exactly these methods and streams (UI_METHODS, UI_STREAMS) to the renderer over
// IPC; the web UI gets the same over a WebSocket (web-ui.ts); the engine implements it once
// (ui-service.ts). Every type here is plain JSON. Nothing in this file does I/O.
import type { ClusterModel, ClusterViewState } from "../cluster/cluster-view-types.ts";

// ---- what the streams carry ----------------------------------------------------------------

/** Where this machine's node stands. */
export type AppPhase =
    /** no cluster yet: the user creates one or joins one */
    | "setup"
    /** the node is starting (or joining) */
    | "starting"
    | "running"
    /** the node failed to start, or stopped; `message` says why and what to do */
    | "failed";

export interface AppState {
    phase: AppPhase;
    version: string;
    /** this machine's name in the cluster */
    nodeName: string;
    /** null until the node has an identity */
    nodeId: string | null;
    clusterId: string | null;
    /** host:port where other members reach this node; null unless running */
    address: string | null;
    /** what went wrong, or what is happening ("joining through 192.168.1.20:7420…"); "" when nothing */
    message: string;
    /** "desktop" (Electron) or "web" (a headless node's web UI) */
    shell: "desktop" | "web";
    /** the OpenAI-compatible API this machine serves for the cluster's model (a setting, off by default) */
    api: ApiState;
}

export interface ApiState {
    enabled: boolean;
    /** the base URL clients are given (…/v1) while it serves; null otherwise */
    url: string | null;
    /** why it does not serve although enabled ("port 7422 is in use…"); "" when fine */
    error: string;
}

export interface LoadProgress {
    /** "hashing", "slicing", "uploading", "planning", "replanning", "making the test model" */
    phase: string;
    message: string;
    bytesDone: number;
    bytesTotal: number;
}

/** A model's facts, read from its GGUF header. */
export interface ModelFacts {
    fileName: string;
    path: string;
    architecture: string;
    /** general.name, or the file's name */
    name: string;
    parameters: number;
    /** e.g. "Q4_K_M"; null when mixed or unknown */
    quantization: string | null;
    sizeBytes: number;
    layers: number;
    /** the context it was trained for (from the header), null when not given */
    trainedContext: number | null;
    /** Hearth's built-in test model: random weights */
    testModel: boolean;
}

export interface ModelState {
    /** the cluster's model and its plan (in force, and any proposed), whoever hosts it */
    hosted: ClusterModel | null;
    /** this machine loading a model now; null when not */
    loading: LoadProgress | null;
    /** why the last load failed, with what to do (the planner's explanation when it cannot place); "" when it did not */
    error: string;
    /** the model this machine loaded last (facts from its header); null when none */
    facts: ModelFacts | null;
}

/** One entry of the recommended-models catalogue. */
export interface CatalogueEntry {
    id: string;
    /** what users call it: "Llama 3.2 3B Instruct" */
    title: string;
    sizeClass: "1–3B" | "3–9B" | "9–27B" | "27B+";
    architecture: string;
    quantization: string;
    sizeBytes: number;
    /** a Hugging Face file URL (resolve/main/…gguf) */
    url: string;
    /** from the planner over the members that answer now */
    fits: boolean;
    /** how much more memory the cluster needs when it does not fit (0 when it fits) */
    shortfallBytes: number;
}

export interface DownloadView {
    id: string;
    url: string;
    fileName: string;
    /** where it goes (and is, once done) */
    path: string;
    state: "downloading" | "done" | "failed" | "cancelled";
    bytesDone: number;
    /** 0 when the server did not say */
    bytesTotal: number;
    bytesPerSecond: number;
    /** null when unknown */
    etaSeconds: number | null;
    /** why it failed; "" otherwise */
    error: string;
}

export interface ReplyStats {
    timeToFirstTokenMs: number;
    tokensPerSecond: number;
    tokens: number;
    /** the machines whose stages computed it, in pipeline order */
    servedBy: string[];
    hostName: string;
    planVersion: number;
    /** "eos", "stopString", "maxTokens", "contextFull", "stopped" (the user pressed Stop) */
    stopReason: string;
}

export interface ChatMessageView {
    id: string;
    role: "user" | "assistant";
    text: string;
    createdAtMs: number;
    /** an assistant reply: "streaming" while it comes in; "stopped" when the user stopped it; "failed" with `error` */
    status: "done" | "streaming" | "stopped" | "failed";
    error: string;
    /** an assistant reply that finished (done or stopped); null otherwise */
    stats: ReplyStats | null;
}

export interface ChatView {
    id: string;
    title: string;
    createdAtMs: number;
    updatedAtMs: number;
    messages: ChatMessageView[];
}

export interface ChatsState {
    /** newest first */
    chats: ChatView[];
    /** why the chat store could not be read as it was ("a damaged chat file was set aside as …"); "" when fine */
    notice: string;
}

export type ChatsEvent =
    | { type: "chatCreated"; chat: ChatView }
    | { type: "chatDeleted"; chatId: string }
    | { type: "chatRenamed"; chatId: string; title: string }
    /** a whole message: the user's, or an assistant reply as it starts (status "streaming", text "") */
    | { type: "messageAdded"; chatId: string; message: ChatMessageView }
    /** text appended to a streaming reply */
    | { type: "delta"; chatId: string; messageId: string; text: string }
    /** a reply ended: its final text, status, stats and error */
    | { type: "messageFinished"; chatId: string; message: ChatMessageView }
    | { type: "notice"; notice: string };

/** Every stream: its state and its events. Low-rate streams send their whole new state; chats send deltas. */
export interface UiStreams {
    app: { state: AppState; event: { type: "changed"; state: AppState } };
    /** the cluster as this node sees it (null until the node runs) */
    cluster: { state: ClusterViewState | null; event: { type: "changed"; state: ClusterViewState | null } };
    model: { state: ModelState; event: { type: "changed"; state: ModelState } };
    downloads: { state: DownloadView[]; event: { type: "changed"; state: DownloadView[] } };
    chats: { state: ChatsState; event: ChatsEvent };
}

export type UiStreamName = keyof UiStreams;
export type UiStreamState<S extends UiStreamName> = UiStreams[S]["state"];
export type UiStreamEvent<S extends UiStreamName> = UiStreams[S]["event"];

// ---- requests -------------------------------------------------------------------------------

export interface InviteView {
    code: string;
    expiresAtMs: number;
    /** host:port the joiner joins through */
    joinAddress: string;
    inviterName: string;
}

/** Every request: [params, result]. */
export interface UiRequests {
    /** make a new cluster with this machine as its first member (setup only) */
    "cluster.create": [{ name?: string }, AppState];
    /** join a cluster with a code from a member (`peer`: host:port of a member, where multicast does not reach) */
    "cluster.join": [{ code: string; name?: string; peer?: string }, AppState];
    /** a join code for one more machine */
    "cluster.invite": [Record<string, never>, InviteView];
    /** leave the cluster: this machine forgets it and is back in setup */
    "cluster.leave": [Record<string, never>, AppState];
    /** remove another member */
    "cluster.remove": [{ nodeId: string }, Record<string, never>];
    /** add a machine by address (where multicast is blocked) */
    "cluster.addPeer": [{ address: string }, Record<string, never>];
    /** serve (or stop serving) the OpenAI-compatible API on 127.0.0.1 (port: default 7422); kept across restarts */
    "settings.setApi": [{ enabled: boolean; port?: number }, AppState];
    /** host a GGUF on this machine's disk as the cluster's model */
    "model.open": [{ path: string; contextSize?: number }, ModelState];
    /** make (once) and host Hearth's test model: random weights, a real tokenizer */
    "model.openTestModel": [{ contextSize?: number }, ModelState];
    /** the facts of a GGUF on this machine's disk, without loading it */
    "model.inspect": [{ path: string }, ModelFacts];
    "model.catalogue": [Record<string, never>, CatalogueEntry[]];
    /** download a GGUF by URL into this machine's models folder (resumable) */
    "model.download": [{ url: string }, DownloadView];
    "model.cancelDownload": [{ id: string }, Record<string, never>];
    "chat.create": [{ title?: string }, ChatView];
    /** send a user message and stream the reply (events on the chats stream) */
    "chat.send": [{ chatId: string; text: string; maxTokens?: number }, { messageId: string }];
    /** stop the reply streaming in that chat */
    "chat.stop": [{ chatId: string }, Record<string, never>];
    "chat.delete": [{ chatId: string }, Record<string, never>];
    "chat.rename": [{ chatId: string; title: string }, Record<string, never>];
}

export type UiMethod = keyof UiRequests;
export type UiParams<M extends UiMethod> = UiRequests[M][0];
export type UiResult<M extends UiMethod> = UiRequests[M][1];

/** The methods and streams a bridge lets through: exactly the contract's (the type checker holds them to it). */
export const UI_METHODS = [
    "cluster.create", "cluster.join", "cluster.invite", "cluster.leave", "cluster.remove", "cluster.addPeer", "settings.setApi",
    "model.open", "model.openTestModel", "model.inspect", "model.catalogue", "model.download", "model.cancelDownload",
    "chat.create", "chat.send", "chat.stop", "chat.delete", "chat.rename"
] as const satisfies readonly UiMethod[];
export const UI_STREAMS = ["app", "cluster", "model", "downloads", "chats"] as const satisfies readonly UiStreamName[];

// Both lists name every key of the contract: a method or stream added to the types and not here fails to compile.
type Missing<All, Listed> = Exclude<All, Listed>;
const everyMethodListed: Missing<UiMethod, (typeof UI_METHODS)[number]> extends never ? true : never = true;
const everyStreamListed: Missing<UiStreamName, (typeof UI_STREAMS)[number]> extends never ? true : never = true;
void everyMethodListed; void everyStreamListed;

export function isUiMethod(value: unknown): value is UiMethod {
    return typeof value === "string" && (UI_METHODS as readonly string[]).includes(value);
}
export function isUiStream(value: unknown): value is UiStreamName {
    return typeof value === "string" && (UI_STREAMS as readonly string[]).includes(value);
}

// ---- the API as both sides see it ---------------------------------------------------------------

/** What a stream subscriber receives: the state first, then each event. */
export type UiStreamMessage<S extends UiStreamName> = { kind: "state"; state: UiStreamState<S> } | { kind: "event"; event: UiStreamEvent<S> };

/** An error a request ends with: a message for the user (what to do next) and a code. */
export interface UiErrorInfo {
    message: string;
    /** "bad-request", "not-ready", "failed" */
    code: string;
}

export class UiError extends Error {
    constructor(message: string, readonly code: string = "failed") { super(message); this.name = "UiError"; }
}

/**
 * The API: implemented by the engine (UiService), and by each bridge's client (the preload's
 * `window.hearth`, the WebSocket client), so the renderer cannot tell which it talks to.
 */
export interface HearthApi {
    invoke<M extends UiMethod>(method: M, params: UiParams<M>): Promise<UiResult<M>>;
    /** Calls `listener` with the stream's state at once (or as soon as it arrives), then with every event; returns the unsubscribe function. */
    subscribe<S extends UiStreamName>(stream: S, listener: (message: UiStreamMessage<S>) => void): () => void;
}

// ---- folding ---------------------------------------------------------------------------------

/** The state after `event` (pure): the one fold the engine and the renderer share. */
export function applyUiEvent<S extends UiStreamName>(stream: S, state: UiStreamState<S>, event: UiStreamEvent<S>): UiStreamState<S> {
    if (stream !== "chats") return (event as { state: UiStreamState<S> }).state;
    return applyChatsEvent(state as ChatsState, event as ChatsEvent) as UiStreamState<S>;
}

/** The chats after `event` (pure). */
export function applyChatsEvent(state: ChatsState, event: ChatsEvent): ChatsState {
    const change = (chatId: string, f: (chat: ChatView) => ChatView): ChatsState => {
        const i = state.chats.findIndex((c) => c.id === chatId);
        if (i < 0) return state;
        const changed = f(state.chats[i]!);
        // The chat changed last goes first.
        return { ...state, chats: [changed, ...state.chats.filter((_, j) => j !== i)] };
    };
    switch (event.type) {
        case "chatCreated":
            return { ...state, chats: [event.chat, ...state.chats.filter((c) => c.id !== event.chat.id)] };
        case "chatDeleted":
            return { ...state, chats: state.chats.filter((c) => c.id !== event.chatId) };
        case "chatRenamed":
            return change(event.chatId, (c) => ({ ...c, title: event.title }));
        case "messageAdded":
            return change(event.chatId, (c) => ({ ...c, updatedAtMs: event.message.createdAtMs, messages: [...c.messages.filter((m) => m.id !== event.message.id), event.message] }));
        case "delta":
            return change(event.chatId, (c) => ({ ...c, messages: c.messages.map((m) => (m.id === event.messageId ? { ...m, text: m.text + event.text } : m)) }));
        case "messageFinished":
            return change(event.chatId, (c) => ({ ...c, updatedAtMs: Math.max(c.updatedAtMs, event.message.createdAtMs), messages: c.messages.map((m) => (m.id === event.message.id ? event.message : m)) }));
        case "notice":
            return { ...state, notice: event.notice };
        default:
            return state;
    }
}

// ---- the WebSocket bridge's messages ---------------------------------------------------------------

/** Client → server. */
export type BridgeRequest =
    | { type: "invoke"; id: number; method: UiMethod; params: unknown }
    | { type: "subscribe"; stream: UiStreamName }
    | { type: "unsubscribe"; stream: UiStreamName };

/** Server → client. */
export type BridgeReply =
    | { type: "result"; id: number; result: unknown }
    | { type: "error"; id: number; error: UiErrorInfo }
    | { type: "state"; stream: UiStreamName; state: unknown }
    | { type: "event"; stream: UiStreamName; event: unknown };
