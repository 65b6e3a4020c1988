// The chat: conversations on the left; the messages of the one shown, replies streaming in as the
// machines generate them; the composer (Enter sends, Shift+Enter is a new line, Stop while a
// reply streams). A message row selects its own message, so a delta re-renders only that row.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useShallow } from "zustand/react/shallow";
import type { ChatMessageView, ReplyStats } from "../../app/ui-api/contract.ts";
import { asSentence, formatAgo, formatMs, formatTokensPerSecond } from "../lib/format.ts";
import { renderMarkdown } from "../lib/markdown.ts";
import { draftKey } from "../state/actions.ts";
import { chatReadiness, effectiveChatId, findChat, findMessage, isStreaming, messageIds, type ChatReadiness } from "../state/selectors.ts";
import { Button, ErrorNote, Note, Spinner } from "./common.tsx";
import { useActions, useNow, useStreams, useUi } from "./hooks.ts";

export function ChatPane() {
    const picked = useUi((s) => s.activeChatId);
    const chatId = useStreams((s) => effectiveChatId(s.chats, picked));
    return (
        <div className="chat">
            <ChatList chatId={chatId} />
            <ChatMain chatId={chatId} />
        </div>
    );
}

function ChatList({ chatId }: { chatId: string | null }) {
    const actions = useActions();
    const creating = useUi((s) => s.busy.chatCreate === true);
    // The ids only: a row selects its own title and time, so a streaming reply does not re-render the list.
    const ids = useStreams(useShallow((s) => (s.chats?.chats ?? []).map((c) => c.id)));
    const now = useNow(60_000);
    return (
        <aside className="chat-list" aria-label="Chats">
            <div className="chat-list-head">
                <Button variant="primary" testId="chat-new" busy={creating} onClick={() => void actions.newChat()}>New chat</Button>
            </div>
            {ids.length === 0 ? (
                <p className="muted chat-list-empty">No chats yet.</p>
            ) : (
                <ul>
                    {ids.map((id) => <ChatListRow key={id} chatId={id} active={id === chatId} now={now} />)}
                </ul>
            )}
        </aside>
    );
}

const ChatListRow = memo(function ChatListRow({ chatId, active, now }: { chatId: string; active: boolean; now: number }) {
    const actions = useActions();
    const title = useStreams((s) => findChat(s.chats, chatId)?.title ?? "");
    const updatedAtMs = useStreams((s) => findChat(s.chats, chatId)?.updatedAtMs ?? 0);
    const streaming = useStreams((s) => isStreaming(findChat(s.chats, chatId)));
    return (
        <li className={`chat-list-row${active ? " is-active" : ""}`}>
            <button
                type="button"
                className="chat-list-item"
                data-testid="chat-list-item"
                aria-current={active ? "true" : undefined}
                onClick={() => actions.selectChat(chatId)}
            >
                <span className="chat-list-title">{title || "New chat"}</span>
                <span className="chat-list-time">{streaming ? "replying…" : formatAgo(updatedAtMs, now)}</span>
            </button>
            <DeleteChat chatId={chatId} title={title} />
        </li>
    );
});

function DeleteChat({ chatId, title }: { chatId: string; title: string }) {
    const actions = useActions();
    const [confirm, setConfirm] = useState(false);
    if (!confirm) {
        return <button type="button" className="chat-list-delete" aria-label={`Delete chat ${title}`} title="Delete chat" onClick={() => setConfirm(true)}>×</button>;
    }
    return (
        <div className="chat-list-confirm" role="group" aria-label="Delete this chat?">
            <button type="button" className="btn btn-danger btn-small" onClick={() => void actions.deleteChat(chatId)} autoFocus><span>Delete</span></button>
            <button type="button" className="btn btn-quiet btn-small" onClick={() => setConfirm(false)}><span>Keep</span></button>
        </div>
    );
}

function ChatMain({ chatId }: { chatId: string | null }) {
    const actions = useActions();
    const title = useStreams((s) => findChat(s.chats, chatId)?.title ?? null);
    const notice = useStreams((s) => s.chats?.notice ?? "");
    const readiness = useStreams(useShallow(chatReadiness));
    const ids = useStreams(useShallow((s) => messageIds(s.chats, chatId)));
    const deleteError = useUi((s) => s.errors.deleteChat ?? "");

    return (
        <section className="chat-main" aria-label={title ?? "New chat"}>
            <header className="chat-head">
                {chatId !== null && title !== null ? <ChatTitle chatId={chatId} title={title} /> : <h1 className="chat-title">New chat</h1>}
                <ModelChip readiness={readiness} />
            </header>
            {notice && <Note kind="warn">{notice}</Note>}
            {deleteError && <ErrorNote onDismiss={() => actions.clearError("deleteChat")}>{deleteError}</ErrorNote>}
            {ids.length === 0 ? <EmptyChat readiness={readiness} /> : <MessageList chatId={chatId!} ids={ids} />}
            <Composer chatId={chatId} readiness={readiness} />
        </section>
    );
}

function ChatTitle({ chatId, title }: { chatId: string; title: string }) {
    const actions = useActions();
    const [editing, setEditing] = useState(false);
    const [value, setValue] = useState(title);
    if (!editing) {
        return (
            <div className="chat-title-row">
                <h1 className="chat-title" title={title}>{title || "New chat"}</h1>
                <button type="button" className="link-button" onClick={() => { setValue(title); setEditing(true); }}>Rename</button>
            </div>
        );
    }
    const save = () => {
        setEditing(false);
        if (value.trim() !== "" && value.trim() !== title) void actions.renameChat(chatId, value);
    };
    return (
        <input
            className="chat-title-input"
            aria-label="Chat title"
            value={value}
            autoFocus
            onChange={(e) => setValue(e.target.value)}
            onBlur={save}
            onKeyDown={(e) => {
                if (e.key === "Enter") { e.preventDefault(); save(); }
                if (e.key === "Escape") { e.preventDefault(); setEditing(false); }
            }}
        />
    );
}

function ModelChip({ readiness }: { readiness: ChatReadiness }) {
    const name = useStreams((s) => s.model?.hosted?.name ?? s.cluster?.model?.name ?? null);
    const kind = readiness.kind === "ready" ? "ready" : readiness.kind === "loading" ? "loading" : readiness.kind === "failed" ? "failed" : "none";
    return (
        <span className="model-chip" title={name ?? undefined}>
            <span className={`dot dot-${kind}`} aria-hidden="true" />
            {name ?? "no model"}
        </span>
    );
}

function EmptyChat({ readiness }: { readiness: ChatReadiness }) {
    const actions = useActions();
    return (
        <div className="chat-empty">
            {readiness.kind === "ready" ? (
                <>
                    <h2>Ask anything</h2>
                    <p className="muted">The reply is computed by the machines of the cluster, one slice of the model each, and streams in as it is made.</p>
                </>
            ) : (
                <>
                    <h2>Chat with the cluster</h2>
                    <p className="muted">Once a model is loaded, replies stream in here.</p>
                    {readiness.kind === "none" && <Button variant="primary" onClick={() => actions.navigate("model")}>Open the Model pane</Button>}
                </>
            )}
        </div>
    );
}

function MessageList({ chatId, ids }: { chatId: string; ids: string[] }) {
    const scroller = useRef<HTMLDivElement>(null);
    const stick = useRef(true);

    // Follow the reply as it grows, unless the reader scrolled up.
    useLayoutEffect(() => {
        const el = scroller.current;
        if (el === null) return;
        stick.current = true;
        el.scrollTop = el.scrollHeight;
        const observer = new MutationObserver(() => {
            if (stick.current) el.scrollTop = el.scrollHeight;
        });
        observer.observe(el, { childList: true, subtree: true, characterData: true });
        return () => observer.disconnect();
    }, [chatId]);
    useLayoutEffect(() => {
        const el = scroller.current;
        if (el !== null && stick.current) el.scrollTop = el.scrollHeight;
    }, [ids.length]);

    return (
        <div
            className="messages"
            ref={scroller}
            onScroll={(e) => {
                const el = e.currentTarget;
                stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
            }}
            role="log"
            aria-live="polite"
            aria-relevant="additions"
        >
            <div className="messages-inner">
                {ids.map((id) => <MessageRow key={id} chatId={chatId} messageId={id} />)}
            </div>
        </div>
    );
}

const MessageRow = memo(function MessageRow({ chatId, messageId }: { chatId: string; messageId: string }) {
    const message = useStreams((s) => findMessage(s.chats, chatId, messageId));
    if (message === null) return null;
    return <MessageView message={message} />;
});

function MessageView({ message }: { message: ChatMessageView }) {
    const rendered = useMemo(() => (message.role === "assistant" ? renderMarkdown(message.text) : null), [message.role, message.text]);
    const streaming = message.status === "streaming";
    return (
        <article className={`message message-${message.role} message-${message.status}`} data-testid="message" data-role={message.role} data-status={message.status} aria-busy={streaming || undefined}>
            <div className="message-who">{message.role === "user" ? "You" : "Hearth"}</div>
            <div className="message-body">
                {message.role === "user" ? (
                    <div className="message-text user-text" data-testid="message-text">{message.text}</div>
                ) : (
                    <>
                        <div className={`message-text markdown${streaming && message.text !== "" ? " is-streaming" : ""}`} data-testid="message-text">{rendered}</div>
                        {streaming && message.text === "" && <div className="thinking" role="status"><Spinner /> waiting for the first token…</div>}
                    </>
                )}
                {message.status === "failed" && (
                    <div className="message-error" role="alert">{message.error || "The reply failed. Send the message again; if it keeps failing, look at Placement."}</div>
                )}
                {message.stats !== null && <Stats stats={message.stats} status={message.status} />}
            </div>
        </article>
    );
}

const STOP_TEXT: Record<string, string> = {
    stopped: "stopped by you",
    maxTokens: "reached the reply length limit",
    contextFull: "the chat filled the model's context — start a new chat"
};

function Stats({ stats, status }: { stats: ReplyStats; status: ChatMessageView["status"] }) {
    const stop = STOP_TEXT[stats.stopReason] ?? (status === "stopped" ? STOP_TEXT.stopped : "");
    return (
        <div className="reply-stats" data-testid="reply-stats">
            <span title="Time to first token">first token {formatMs(stats.timeToFirstTokenMs)}</span>
            <span>{formatTokensPerSecond(stats.tokensPerSecond)}</span>
            <span>{stats.tokens} token{stats.tokens === 1 ? "" : "s"}</span>
            {stats.servedBy.length > 0 && <span title={`Hosted by ${stats.hostName}, plan ${stats.planVersion}`}>served by {stats.servedBy.join(" → ")}</span>}
            {stop && <span className="stats-stop">{stop}</span>}
        </div>
    );
}

function Composer({ chatId, readiness }: { chatId: string | null; readiness: ChatReadiness }) {
    const actions = useActions();
    const draft = useUi((s) => s.drafts[draftKey(chatId)] ?? "");
    const sending = useUi((s) => s.busy.send === true || s.busy.chatCreate === true);
    const stopping = useUi((s) => s.busy.stop === true);
    const sendError = useUi((s) => s.errors.send ?? "");
    const stopError = useUi((s) => s.errors.stop ?? "");
    const streaming = useStreams((s) => isStreaming(findChat(s.chats, chatId)));
    const input = useRef<HTMLTextAreaElement>(null);
    const ready = readiness.kind === "ready";
    const canSend = ready && !sending && !streaming && draft.trim() !== "";

    useEffect(() => { input.current?.focus(); }, [chatId]);

    // Grow with the text, up to a limit (the CSS caps it).
    useLayoutEffect(() => {
        const el = input.current;
        if (el === null) return;
        el.style.height = "auto";
        el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
    }, [draft]);

    const send = () => {
        if (!canSend) return;
        void actions.send(draft);
    };
    const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
        if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            send();
        }
    };

    return (
        <div className="composer-wrap">
            {readiness.kind !== "ready" && <Readiness readiness={readiness} />}
            {sendError && <ErrorNote onDismiss={() => actions.clearError("send")}>{sendError}</ErrorNote>}
            {stopError && <ErrorNote onDismiss={() => actions.clearError("stop")}>{stopError}</ErrorNote>}
            <form className="composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
                <label htmlFor="chat-input" className="sr-only">Message</label>
                <textarea
                    id="chat-input"
                    ref={input}
                    data-testid="chat-input"
                    rows={1}
                    value={draft}
                    onChange={(e) => actions.setDraft(chatId, e.target.value)}
                    onKeyDown={onKeyDown}
                    placeholder={ready ? "Message the cluster — Enter sends, Shift+Enter for a new line" : "Load a model to chat"}
                />
                {streaming ? (
                    <Button variant="secondary" testId="chat-stop" busy={stopping} onClick={() => void actions.stop()}>Stop</Button>
                ) : (
                    <Button type="submit" variant="primary" testId="chat-send" busy={sending} disabled={!canSend}>Send</Button>
                )}
            </form>
        </div>
    );
}

function Readiness({ readiness }: { readiness: ChatReadiness }) {
    const actions = useActions();
    if (readiness.kind === "loading") {
        return <div className="readiness" role="status"><Spinner /> The model is loading{readiness.message ? ` — ${readiness.message.replace(/[.…]+$/, "")}` : ""}. You can send once it is ready.</div>;
    }
    if (readiness.kind === "failed") {
        return (
            <div className="readiness readiness-failed" role="status" data-testid="chat-no-model">
                The model cannot run: {asSentence(readiness.message || "it could not be placed")}{" "}
                <button type="button" className="link-button" onClick={() => actions.navigate("placement")}>See Placement</button>
            </div>
        );
    }
    return (
        <div className="readiness" role="status" data-testid="chat-no-model">
            No model is loaded, so there is nobody to answer yet.{" "}
            <button type="button" className="link-button" onClick={() => actions.navigate("model")}>Open one in the Model pane</button>
            {" "}(the test model takes a few seconds).
        </div>
    );
}
