// What the user can do, as plain functions over the API and the stores: each request marks its
// key busy while it runs and keeps the error it ended with (a message that says what to do next).
import type { ChatView, HearthApi, InviteView, UiMethod, UiParams, UiResult } from "../../app/ui-api/contract.ts";
import type { Streams } from "./streams-store.ts";
import type { ActionKey, Pane, UiStore } from "./ui-store.ts";
import { effectiveChatId } from "./selectors.ts";

/** Electron's optional file picker (the preload's `window.hearthShell`). */
export interface HearthShell {
    pickModelFile(): Promise<string | null>;
}

export interface Actions {
    navigate(pane: Pane): void;
    clearError(key: ActionKey): void;
    createCluster(name: string): Promise<boolean>;
    joinCluster(input: { code: string; name: string; peer: string }): Promise<boolean>;
    invite(): Promise<InviteView | null>;
    dismissInvite(): void;
    leave(): Promise<boolean>;
    removeMember(nodeId: string): Promise<boolean>;
    addPeer(address: string): Promise<boolean>;
    /** serve (or stop) the OpenAI-compatible API on this machine */
    setApi(enabled: boolean): Promise<boolean>;
    backToSetup(): void;
    openModel(path: string): Promise<boolean>;
    /** Electron only: pick a GGUF in the OS dialog and open it; false when cancelled or failed */
    pickAndOpenModel(): Promise<boolean>;
    openTestModel(): Promise<boolean>;
    download(url: string): Promise<boolean>;
    cancelDownload(id: string): Promise<boolean>;
    loadCatalogue(): Promise<boolean>;
    newChat(): Promise<ChatView | null>;
    selectChat(chatId: string): void;
    setDraft(chatId: string | null, text: string): void;
    /** sends `text` in the chat shown (making one when there is none); false when it did not go */
    send(text: string): Promise<boolean>;
    stop(): Promise<boolean>;
    deleteChat(chatId: string): Promise<boolean>;
    renameChat(chatId: string, title: string): Promise<boolean>;
}

/** A request's error as the user should read it (without the transport's wrapping). */
export function errorMessage(error: unknown): string {
    let text = error instanceof Error ? error.message : typeof error === "string" ? error : "";
    // Electron wraps errors thrown in main: "Error invoking remote method 'hearth:invoke': UiError: …".
    text = text.replace(/^Error invoking remote method '[^']*':\s*/, "").replace(/^(Ui)?Error:\s*/, "");
    return text.trim() || "Something went wrong, and the node did not say what. Try again; if it keeps happening, restart Hearth on this machine.";
}

export const draftKey = (chatId: string | null): string => chatId ?? "";

export function createActions(api: HearthApi, streams: Streams, ui: UiStore, shell: HearthShell | null = null): Actions {
    const setBusy = (key: ActionKey, busy: boolean) => ui.setState((s) => ({ busy: { ...s.busy, [key]: busy } }));
    const setError = (key: ActionKey, message: string) => ui.setState((s) => ({ errors: { ...s.errors, [key]: message } }));

    /** One request under `key`: busy while it runs; its error kept. The result, or undefined when it failed. */
    async function run<M extends UiMethod>(key: ActionKey, method: M, params: UiParams<M>): Promise<UiResult<M> | undefined> {
        setBusy(key, true);
        setError(key, "");
        try {
            return await api.invoke(method, params);
        } catch (error) {
            setError(key, errorMessage(error));
            return undefined;
        } finally {
            setBusy(key, false);
        }
    }

    const chatShown = () => effectiveChatId(streams.store.getState().chats, ui.getState().activeChatId);
    const setDraft = (chatId: string | null, text: string) =>
        ui.setState((s) => ({ drafts: { ...s.drafts, [draftKey(chatId)]: text } }));

    const actions: Actions = {
        navigate(pane) { ui.setState({ pane }); },
        clearError(key) { setError(key, ""); },

        async createCluster(name) {
            const trimmed = name.trim();
            const result = await run("create", "cluster.create", trimmed === "" ? {} : { name: trimmed });
            if (result !== undefined) ui.setState({ setupAfterFailure: false });
            return result !== undefined;
        },

        async joinCluster({ code, name, peer }) {
            const c = code.trim();
            if (c === "") {
                setError("join", "Enter the join code: on a machine already in the cluster, open Cluster and press Invite.");
                return false;
            }
            const params: UiParams<"cluster.join"> = { code: c };
            if (name.trim() !== "") params.name = name.trim();
            if (peer.trim() !== "") params.peer = peer.trim();
            const result = await run("join", "cluster.join", params);
            if (result !== undefined) ui.setState({ setupAfterFailure: false });
            return result !== undefined;
        },

        async invite() {
            // The code on screen goes at once: it may be used up, and must not be read while the new one comes.
            ui.setState({ invite: null });
            const invite = await run("invite", "cluster.invite", {});
            if (invite !== undefined) ui.setState({ invite });
            return invite ?? null;
        },
        dismissInvite() { ui.setState({ invite: null }); },

        async leave() {
            const result = await run("leave", "cluster.leave", {});
            if (result === undefined) return false;
            ui.setState({ invite: null, pane: "chat", setupAfterFailure: false });
            return true;
        },

        async removeMember(nodeId) {
            return (await run("remove", "cluster.remove", { nodeId })) !== undefined;
        },

        async setApi(enabled) {
            return (await run("api", "settings.setApi", { enabled })) !== undefined;
        },

        async addPeer(address) {
            const a = address.trim();
            if (a === "") {
                setError("addPeer", "Type the machine's address as host:port, e.g. 192.168.1.20:7420.");
                return false;
            }
            return (await run("addPeer", "cluster.addPeer", { address: a })) !== undefined;
        },

        backToSetup() { ui.setState({ setupAfterFailure: true }); },

        async openModel(path) {
            const p = path.trim();
            if (p === "") {
                setError("open", "Type the path of a .gguf file on this machine's disk.");
                return false;
            }
            return (await run("open", "model.open", { path: p })) !== undefined;
        },

        async pickAndOpenModel() {
            if (shell === null) return false;
            let path: string | null;
            try {
                path = await shell.pickModelFile();
            } catch (error) {
                setError("open", errorMessage(error));
                return false;
            }
            if (path === null) return false;
            return actions.openModel(path);
        },

        async openTestModel() {
            return (await run("testModel", "model.openTestModel", {})) !== undefined;
        },

        async download(url) {
            const u = url.trim();
            if (!/^https?:\/\/\S+$/i.test(u)) {
                setError("download", "Paste a Hugging Face file URL, like https://huggingface.co/…/resolve/main/model-Q4_K_M.gguf.");
                return false;
            }
            return (await run("download", "model.download", { url: u })) !== undefined;
        },

        async cancelDownload(id) {
            return (await run("cancelDownload", "model.cancelDownload", { id })) !== undefined;
        },

        async loadCatalogue() {
            const catalogue = await run("catalogue", "model.catalogue", {});
            if (catalogue !== undefined) ui.setState({ catalogue });
            return catalogue !== undefined;
        },

        async newChat() {
            const chat = await run("chatCreate", "chat.create", {});
            if (chat === undefined) return null;
            streams.addCreatedChat(chat);
            ui.setState({ activeChatId: chat.id, pane: "chat" });
            return chat;
        },

        selectChat(chatId) { ui.setState({ activeChatId: chatId, pane: "chat" }); },
        setDraft,

        async send(text) {
            if (text.trim() === "") return false;
            let chatId = chatShown();
            const draftWas = ui.getState().drafts[draftKey(chatId)] ?? "";
            setDraft(chatId, "");
            if (chatId === null) {
                const chat = await actions.newChat();
                if (chat === null) {
                    setError("send", ui.getState().errors.chatCreate || "The chat could not be made; try again.");
                    setDraft(null, draftWas || text);
                    return false;
                }
                chatId = chat.id;
            }
            const result = await run("send", "chat.send", { chatId, text });
            if (result === undefined) {
                // Give the text back, so nothing typed is lost.
                if ((ui.getState().drafts[draftKey(chatId)] ?? "") === "") setDraft(chatId, draftWas || text);
                return false;
            }
            return true;
        },

        async stop() {
            const chatId = chatShown();
            if (chatId === null) return false;
            return (await run("stop", "chat.stop", { chatId })) !== undefined;
        },

        async deleteChat(chatId) {
            const ok = (await run("deleteChat", "chat.delete", { chatId })) !== undefined;
            if (ok && ui.getState().activeChatId === chatId) ui.setState({ activeChatId: null });
            return ok;
        },

        async renameChat(chatId, title) {
            const t = title.trim();
            if (t === "") return false;
            return (await run("renameChat", "chat.rename", { chatId, title: t })) !== undefined;
        }
    };
    return actions;
}
