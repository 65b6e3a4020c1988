// The conversations of this machine, kept on disk across restarts: one JSON file per chat under
// `<dataDir>/chats/`, each written atomically (a temporary file renamed over the old one), so a
// crash mid-write leaves the previous version whole. A reply that streams in is written when it
// starts, every couple of seconds while it grows, and when it ends: a crash mid-reply loses no
// finished message, and the reply it interrupted is marked as stopped by the crash when the store
// is read again. A file that cannot be read is set aside (renamed `*.corrupt-<time>`), never fatal.
// The store's state and changes are the contract's `chats` stream (ChatsState, ChatsEvent).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { applyChatsEvent, type ChatMessageView, type ChatsEvent, type ChatsState, type ChatView } from "../ui-api/contract.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { EventHub } from "../util/event-hub.ts";

export interface ChatStoreOptions {
    /** where the chat files go. Defaults to `<dataDir>/chats` */
    dir: string;
    /** how often a streaming reply is written while it grows. Defaults to 2000 ms */
    flushMs?: number;
    /** the most characters a message may hold. Defaults to 1,000,000 */
    maxMessageChars?: number;
    log?: (line: string) => void;
}

const CHAT_ID = /^[a-z0-9]{16}$/;
const FILE_FORMAT = 1;

interface ChatFile { format: number; chat: ChatView }

export class ChatStoreError extends Error {
    constructor(message: string) { super(message); this.name = "ChatStoreError"; }
}

export class ChatStore {
    readonly events: EventHub<ChatsState, ChatsEvent>;
    private readonly writes = new Map<string, Promise<void>>();
    private readonly dirty = new Set<string>();
    private flushTimer: NodeJS.Timeout | null = null;
    private disposedFlag = false;
    private readonly disposeListeners = new Set<() => void>();

    private constructor(private readonly options: ChatStoreOptions, initial: ChatsState) {
        this.events = new EventHub(initial, applyChatsEvent);
    }

    /** Reads every chat in `options.dir` (made when missing); damaged files are set aside and said so in `notice`. */
    static open(options: ChatStoreOptions): ChatStore {
        fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
        const chats: ChatView[] = [];
        const setAside: string[] = [];
        for (const name of fs.readdirSync(options.dir)) {
            // A write cut by a crash leaves its temporary file: the chat's own file is whole (the rename never happened).
            if (name.endsWith(".tmp")) { fs.rmSync(path.join(options.dir, name), { force: true }); continue; }
            if (!name.endsWith(".json")) continue;
            const file = path.join(options.dir, name);
            try {
                chats.push(recovered(parseChatFile(fs.readFileSync(file, "utf8"), name)));
            } catch (e) {
                const aside = `${file}.corrupt-${Date.now()}`;
                try { fs.renameSync(file, aside); } catch { /* it stays; it is skipped again next time */ }
                setAside.push(path.basename(aside));
                options.log?.(`a damaged chat file was set aside as ${aside}: ${(e as Error).message}`);
            }
        }
        chats.sort((a, b) => b.updatedAtMs - a.updatedAtMs);
        const notice = setAside.length === 0 ? ""
            : `${setAside.length === 1 ? "a chat file was" : `${setAside.length} chat files were`} damaged and set aside (${setAside.join(", ")} in ${options.dir}); the other chats are here`;
        return new ChatStore(options, { chats, notice });
    }

    get state(): ChatsState { return this.events.state; }
    get disposed(): boolean { return this.disposedFlag; }
    /** Calls `listener` once the store is disposed; returns the function that removes it. */
    onDispose(listener: () => void): () => void { this.disposeListeners.add(listener); return () => this.disposeListeners.delete(listener); }

    chat(chatId: string): ChatView {
        const chat = this.state.chats.find((c) => c.id === chatId);
        if (chat == null) throw new ChatStoreError(`there is no chat '${String(chatId).slice(0, 40)}' (it may have been deleted)`);
        return chat;
    }

    create(title = "New chat"): ChatView {
        this.live();
        const now = Date.now();
        const chat: ChatView = { id: crypto.randomBytes(8).toString("hex"), title: cleanTitle(title), createdAtMs: now, updatedAtMs: now, messages: [] };
        this.events.emit({ type: "chatCreated", chat });
        this.save(chat.id);
        return chat;
    }

    rename(chatId: string, title: string): void {
        this.live();
        this.chat(chatId);
        this.events.emit({ type: "chatRenamed", chatId, title: cleanTitle(title) });
        this.save(chatId);
    }

    async delete(chatId: string): Promise<void> {
        this.live();
        this.chat(chatId);
        this.events.emit({ type: "chatDeleted", chatId });
        this.dirty.delete(chatId);
        await this.writes.get(chatId);
        await fs.promises.rm(this.fileOf(chatId), { force: true });
    }

    /** Adds a message (the user's, or a reply as it starts) and writes the chat. */
    add(chatId: string, message: Omit<ChatMessageView, "id" | "createdAtMs"> & { id?: string }): ChatMessageView {
        this.live();
        this.chat(chatId);
        if (message.text.length > this.maxChars) throw new ChatStoreError(`a message may hold at most ${this.maxChars} characters (this one has ${message.text.length})`);
        const full: ChatMessageView = { ...message, id: message.id ?? crypto.randomBytes(8).toString("hex"), createdAtMs: Date.now() };
        this.events.emit({ type: "messageAdded", chatId, message: full });
        this.save(chatId);
        return full;
    }

    /** Text that streamed into a reply: shown at once, written within flushMs. */
    append(chatId: string, messageId: string, text: string): void {
        if (this.disposedFlag || text === "") return;
        const message = this.chat(chatId).messages.find((m) => m.id === messageId);
        if (message == null || message.status !== "streaming") return;
        if (message.text.length + text.length > this.maxChars) return;
        this.events.emit({ type: "delta", chatId, messageId, text });
        this.dirty.add(chatId);
        if (this.flushTimer == null) {
            this.flushTimer = setTimeout(() => this.flush(), this.options.flushMs ?? 2000);
            this.flushTimer.unref();
        }
    }

    /** A reply ended: its final form is written at once. */
    finish(chatId: string, messageId: string, end: Pick<ChatMessageView, "status" | "error" | "stats"> & { text?: string }): ChatMessageView {
        const message = this.chat(chatId).messages.find((m) => m.id === messageId);
        if (message == null) throw new ChatStoreError(`there is no message '${messageId}' in this chat`);
        const finished: ChatMessageView = { ...message, ...end, text: end.text ?? message.text };
        this.events.emit({ type: "messageFinished", chatId, message: finished });
        this.dirty.delete(chatId);
        this.save(chatId);
        return finished;
    }

    /** Waits for every write in flight (and writes what is pending). */
    async settle(): Promise<void> {
        this.flush();
        await Promise.all([...this.writes.values()]);
    }

    async dispose(): Promise<void> {
        if (this.disposedFlag) return;
        await this.settle();
        this.disposedFlag = true;
        if (this.flushTimer != null) clearTimeout(this.flushTimer);
        for (const listener of this.disposeListeners) listener();
    }

    // ---- writing --------------------------------------------------------------------------------

    private get maxChars(): number { return this.options.maxMessageChars ?? 1_000_000; }

    private live(): void {
        if (this.disposedFlag) throw new ChatStoreError("the chat store is closed");
    }

    private flush(): void {
        if (this.flushTimer != null) { clearTimeout(this.flushTimer); this.flushTimer = null; }
        for (const chatId of [...this.dirty]) this.save(chatId);
        this.dirty.clear();
    }

    private fileOf(chatId: string): string {
        if (!CHAT_ID.test(chatId)) throw new ChatStoreError(`bad chat id '${String(chatId).slice(0, 40)}'`);
        return path.join(this.options.dir, `${chatId}.json`);
    }

    /** Writes the chat as it is now, after the writes before it (in order; the last one wins). */
    private save(chatId: string): void {
        const chat = this.state.chats.find((c) => c.id === chatId);
        if (chat == null) return;
        const data = JSON.stringify({ format: FILE_FORMAT, chat } satisfies ChatFile);
        const file = this.fileOf(chatId);
        const previous = this.writes.get(chatId) ?? Promise.resolve();
        const write = previous.then(() => writeFileAtomic(file, data, 0o600)).catch((e: unknown) => {
            this.options.log?.(`could not save chat ${chatId}: ${(e as Error).message}`);
            this.events.emit({ type: "notice", notice: `the last change to '${chat.title}' could not be saved (${(e as Error).message}); free some disk space — it is kept in memory until then` });
        });
        this.writes.set(chatId, write);
        void write.finally(() => { if (this.writes.get(chatId) === write) this.writes.delete(chatId); });
    }
}

function cleanTitle(title: string): string {
    const t = title.replace(/\s+/g, " ").trim().slice(0, 120);
    return t === "" ? "New chat" : t;
}

/** A chat as its file holds it, checked field by field (a file is input like any other). */
export function parseChatFile(text: string, name: string): ChatView {
    const file = JSON.parse(text) as Partial<ChatFile>;
    if (file == null || typeof file !== "object" || file.format !== FILE_FORMAT) throw new Error(`${name} is not a Hearth chat file of format ${FILE_FORMAT}`);
    const c = file.chat as Partial<ChatView> | undefined;
    if (c == null || typeof c.id !== "string" || !CHAT_ID.test(c.id) || `${c.id}.json` !== name) throw new Error(`${name} does not hold the chat its name says`);
    if (typeof c.title !== "string" || typeof c.createdAtMs !== "number" || typeof c.updatedAtMs !== "number" || !Array.isArray(c.messages)) throw new Error(`${name} lacks a chat's fields`);
    const messages = (c.messages as Partial<ChatMessageView>[]).map((m) => {
        if (typeof m?.id !== "string" || (m.role !== "user" && m.role !== "assistant") || typeof m.text !== "string" || typeof m.createdAtMs !== "number" ||
            !["done", "streaming", "stopped", "failed"].includes(m.status as string))
            throw new Error(`${name} holds a message without its fields`);
        // Stats the UI cannot show are dropped, never passed on half-formed.
        const s = m.stats as Partial<NonNullable<ChatMessageView["stats"]>> | null | undefined;
        const stats = s != null && typeof s === "object" && Array.isArray(s.servedBy) && s.servedBy.every((x) => typeof x === "string") &&
            [s.timeToFirstTokenMs, s.tokensPerSecond, s.tokens, s.planVersion].every((x) => typeof x === "number") && typeof s.hostName === "string" && typeof s.stopReason === "string"
            ? s as NonNullable<ChatMessageView["stats"]> : null;
        return { id: m.id, role: m.role, text: m.text, createdAtMs: m.createdAtMs, status: m.status!, error: typeof m.error === "string" ? m.error : "", stats } satisfies ChatMessageView;
    });
    return { id: c.id, title: c.title, createdAtMs: c.createdAtMs, updatedAtMs: c.updatedAtMs, messages };
}

/** A reply that was streaming when the app stopped ends as stopped, with a word on why. */
function recovered(chat: ChatView): ChatView {
    if (!chat.messages.some((m) => m.status === "streaming")) return chat;
    return {
        ...chat,
        messages: chat.messages.map((m) => (m.status !== "streaming" ? m
            : { ...m, status: "stopped", error: m.error || "Hearth stopped while this reply was coming in", stats: m.stats ?? null }))
    };
}
