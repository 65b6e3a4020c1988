// What the panes derive from the streams (pure).
import type { ChatMessageView, ChatsState, ChatView } from "../../app/ui-api/contract.ts";
import type { ClusterModel, Peer } from "../../app/cluster/cluster-view-types.ts";
import type { StreamsState } from "./streams-store.ts";

/** The cluster's model: the model stream's (whoever hosts it), else the cluster view's. */
export function hostedModel(s: StreamsState): ClusterModel | null {
    return s.model?.hosted ?? s.cluster?.model ?? null;
}

export type ChatReadiness =
    | { kind: "ready" }
    | { kind: "none" }
    | { kind: "loading"; message: string }
    | { kind: "failed"; message: string };

/** Whether a chat can be sent now, and why not. */
export function chatReadiness(s: StreamsState): ChatReadiness {
    const model = hostedModel(s);
    if (model === null) {
        if (s.model?.loading) return { kind: "loading", message: s.model.loading.message };
        return { kind: "none" };
    }
    if (model.state === "ready" || model.state === "replanning") return { kind: "ready" };
    if (model.state === "loading") return { kind: "loading", message: s.model?.loading?.message || model.message };
    return { kind: "failed", message: model.message || s.model?.error || "" };
}

export function findChat(chats: ChatsState | null, chatId: string | null): ChatView | null {
    if (chats === null || chatId === null) return null;
    return chats.chats.find((c) => c.id === chatId) ?? null;
}

/** The chat the chat pane shows: the one the user picked while it exists, else the newest. */
export function effectiveChatId(chats: ChatsState | null, picked: string | null): string | null {
    if (chats === null) return null;
    if (picked !== null && chats.chats.some((c) => c.id === picked)) return picked;
    return chats.chats[0]?.id ?? null;
}

/** The message ids of a chat, in order (a list that only changes when messages come or go). */
export function messageIds(chats: ChatsState | null, chatId: string | null): string[] {
    return findChat(chats, chatId)?.messages.map((m) => m.id) ?? [];
}

/** One message (the newest are searched first: the streaming one is the last). */
export function findMessage(chats: ChatsState | null, chatId: string, messageId: string): ChatMessageView | null {
    const chat = findChat(chats, chatId);
    if (chat === null) return null;
    for (let i = chat.messages.length - 1; i >= 0; i--) {
        const m = chat.messages[i]!;
        if (m.id === messageId) return m;
    }
    return null;
}

export function isStreaming(chat: ChatView | null): boolean {
    if (chat === null) return false;
    for (let i = chat.messages.length - 1; i >= 0; i--) if (chat.messages[i]!.status === "streaming") return true;
    return false;
}

export interface ClusterGlance {
    machines: number;
    members: number;
    lost: number;
    /** machines seen on the network that are not members */
    others: number;
}

export function clusterGlance(s: StreamsState): ClusterGlance {
    const peers = s.cluster?.peers ?? [];
    const isMember = (p: Peer) => p.relation === "self" || p.relation === "member";
    return {
        machines: peers.length,
        members: peers.filter((p) => isMember(p) && p.state === "member").length,
        lost: peers.filter((p) => isMember(p) && p.state === "lost").length,
        others: peers.filter((p) => !isMember(p) || p.state === "discovered" || p.state === "joining").length
    };
}

const MACHINE_COLOURS = 8;

/** A colour slot (0–7) per machine, stable while the peer list keeps its order: this machine first, then by name. */
export function machineColourIndex(peers: readonly Peer[] | undefined, nodeId: string): number {
    const i = peers?.findIndex((p) => p.nodeId === nodeId) ?? -1;
    if (i >= 0) return i % MACHINE_COLOURS;
    let hash = 0;
    for (const c of nodeId) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    return hash % MACHINE_COLOURS;
}

export const SIZE_CLASSES = ["1–3B", "3–9B", "9–27B", "27B+"] as const;
