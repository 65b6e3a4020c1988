// The chats on disk: kept across restarts, written atomically; a crash mid-reply loses no finished
// message (the interrupted reply comes back as stopped); a damaged file is set aside, not fatal.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ChatStore, ChatStoreError } from "../app/chats/chat-store.ts";
import { applyChatsEvent, type ChatsState } from "../app/ui-api/contract.ts";
import { tempDir } from "./helpers/models.ts";

const T = { timeout: 20000 };

test("chats and their messages survive a restart; a replaying subscriber folds to the same state", T, async () => {
    const dir = tempDir("chats");
    try {
        const store = ChatStore.open({ dir });
        let mirror: ChatsState | null = null;
        store.events.subscribe((m) => { mirror = m.type === "state" ? (m as { state: ChatsState }).state : applyChatsEvent(mirror!, m as never); });
        const chat = store.create("About bread");
        store.add(chat.id, { role: "user", text: "Why does bread rise?", status: "done", error: "", stats: null });
        const reply = store.add(chat.id, { role: "assistant", text: "", status: "streaming", error: "", stats: null });
        store.append(chat.id, reply.id, "Yeast ");
        store.append(chat.id, reply.id, "makes gas.");
        store.finish(chat.id, reply.id, { status: "done", error: "", stats: { timeToFirstTokenMs: 5, tokensPerSecond: 40, tokens: 4, servedBy: ["a", "b"], hostName: "a", planVersion: 1, stopReason: "eos" } });
        const other = store.create();
        await store.dispose();
        assert.deepEqual(mirror, store.state, "events folded by applyChatsEvent give the store's own state");
        const again = ChatStore.open({ dir });
        assert.deepEqual(again.state.chats.map((c) => c.id).sort(), [chat.id, other.id].sort());
        const back = again.chat(chat.id);
        assert.deepEqual(back.messages.map((m) => [m.role, m.text, m.status]), [["user", "Why does bread rise?", "done"], ["assistant", "Yeast makes gas.", "done"]]);
        assert.deepEqual(back.messages[1]!.stats!.servedBy, ["a", "b"]);
        await again.delete(other.id);
        await again.dispose();
        assert.deepEqual(ChatStore.open({ dir }).state.chats.map((c) => c.id), [chat.id], "a deleted chat stays deleted");
        assert.throws(() => again.create(), ChatStoreError, "a disposed store refuses changes");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("a process killed mid-reply loses no finished message; the interrupted reply comes back as stopped with what had arrived", T, async () => {
    const dir = tempDir("chats-crash");
    try {
        // A child writes a finished exchange, starts a reply, streams into it past one flush, then dies without closing anything.
        const script = `
            import { ChatStore } from ${JSON.stringify(path.resolve("app/chats/chat-store.ts"))};
            const store = ChatStore.open({ dir: ${JSON.stringify(dir)}, flushMs: 50 });
            const chat = store.create("crash");
            store.add(chat.id, { role: "user", text: "first", status: "done", error: "", stats: null });
            const a = store.add(chat.id, { role: "assistant", text: "", status: "streaming", error: "", stats: null });
            store.append(chat.id, a.id, "one answer");
            store.finish(chat.id, a.id, { status: "done", error: "", stats: null });
            store.add(chat.id, { role: "user", text: "second", status: "done", error: "", stats: null });
            const b = store.add(chat.id, { role: "assistant", text: "", status: "streaming", error: "", stats: null });
            store.append(chat.id, b.id, "half of ");
            // Until the flush of the streamed text is on disk (a loaded machine may take longer than flushMs).
            const fs = await import("node:fs");
            const file = ${JSON.stringify(dir)} + "/" + chat.id + ".json";
            for (let i = 0; i < 200 && !(fs.existsSync(file) && fs.readFileSync(file, "utf8").includes("half of ")); i++) await new Promise((r) => setTimeout(r, 50));
            store.append(chat.id, b.id, "this is never written");
            process.kill(process.pid, "SIGKILL");
        `;
        const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 15000 });
        assert.equal(r.signal, "SIGKILL", r.stderr);
        const store = ChatStore.open({ dir });
        const chat = store.state.chats[0]!;
        assert.deepEqual(chat.messages.map((m) => [m.role, m.text, m.status]), [
            ["user", "first", "done"], ["assistant", "one answer", "done"], ["user", "second", "done"], ["assistant", "half of ", "stopped"]
        ]);
        assert.match(chat.messages[3]!.error, /Hearth stopped while this reply was coming in/);
        assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")).length, 0, "no temporary file is left once the store is read again");
        await store.dispose();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("a damaged chat file is set aside with a notice; the others load; nothing crashes", T, async () => {
    const dir = tempDir("chats-corrupt");
    try {
        const store = ChatStore.open({ dir });
        const good = store.create("good");
        const bad = store.create("bad");
        await store.dispose();
        fs.writeFileSync(path.join(dir, `${bad.id}.json`), "{\"format\":1,\"chat\":{\"id\":");
        // An older or hand-edited file without a message's error and stats loads, with them empty.
        const plain = "00112233445566ff";
        fs.writeFileSync(path.join(dir, `${plain}.json`), JSON.stringify({ format: 1, chat: { id: plain, title: "plain", createdAtMs: 1, updatedAtMs: 1,
            messages: [{ id: "m1", role: "assistant", text: "hi", createdAtMs: 1, status: "done", stats: { servedBy: "not a list" } }] } }));
        fs.writeFileSync(path.join(dir, "0123456789abcdef.json"), JSON.stringify({ format: 1, chat: { id: "fedcba9876543210", title: "x", createdAtMs: 1, updatedAtMs: 1, messages: [] } }));
        const again = ChatStore.open({ dir });
        assert.deepEqual(again.state.chats.map((c) => c.id).sort(), [good.id, plain].sort());
        assert.deepEqual(again.chat(plain).messages.map((m) => [m.error, m.stats]), [["", null]], "a malformed stats object is dropped, not passed on");
        assert.match(again.state.notice, /2 chat files were damaged and set aside/);
        const aside = fs.readdirSync(dir).filter((f) => f.includes(".corrupt-"));
        assert.equal(aside.length, 2, "both kept for the user, under another name");
        assert.ok(aside.some((f) => f.startsWith(`${bad.id}.json.corrupt-`)));
        await again.dispose();
        assert.equal(ChatStore.open({ dir }).state.notice, "", "set aside once, not again");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
