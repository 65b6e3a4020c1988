// The hearth command line, run as a separate process, as a user would.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { chatPrompt } from "../app/model/chat.ts";
import { tempDir } from "./helpers/models.ts";
import { startNode, stopNode } from "./helpers/nodes.ts";
import { enroll, memberClient } from "./helpers/test-cluster.ts";
import { referenceGreedy } from "./helpers/reference.ts";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "hearth.mjs");
const dir = tempDir("cli");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function hearth(...args: string[]) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, HEARTH_DATA_DIR: path.join(dir, "data") } });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

test("make-model, then generate --split --json gives node-llama-cpp's greedy tokens, and reuses cached stages", async () => {
    const model = path.join(dir, "cli-qwen3.gguf");
    const made = hearth("make-model", "--out", model, "--arch", "qwen3", "--vocab", "qwen2", "--layers", "5", "--embd", "64",
        "--heads", "4", "--kv-heads", "2", "--ff", "128", "--type", "q8_0", "--seed", "3", "--quiet");
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /wrote .*cli-qwen3.gguf .*vocabulary of 151936 tokens/);

    // Default options (flash attention "auto", every core), as a user runs it.
    const args = ["generate", "--model", model, "--prompt", "Hello, world! Tell me", "--max-tokens", "10", "--split", "0-1,1-4,4-5",
        "--greedy", "--json", "--context-size", "256"];
    const run = hearth(...args);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { promptTokens: number[]; tokens: number[]; text: string; stages: Array<{ layers: number[] }> };
    const tok = await Tokenizer.load(model);
    assert.deepEqual(out.promptTokens, tok.encode("Hello, world! Tell me"));
    assert.equal(out.text, tok.decode(out.tokens));
    await tok.dispose();
    assert.deepEqual(out.tokens, await referenceGreedy(model, out.promptTokens, 10, { contextSize: 256 }));
    assert.deepEqual(out.stages.map((s) => s.layers), [[0, 1], [1, 4], [4, 5]]);

    const stagesRoot = path.join(dir, "data", "stages", "v1");
    const stageDir = fs.readdirSync(stagesRoot);
    assert.equal(stageDir.length, 1);
    const files = fs.readdirSync(path.join(stagesRoot, stageDir[0]!)).filter((f) => f.endsWith(".gguf")).sort();
    assert.deepEqual(files, ["0-1.gguf", "1-4.gguf", "4-5.gguf"]);
    const mtimes = files.map((f) => fs.statSync(path.join(stagesRoot, stageDir[0]!, f)).mtimeMs);
    const again = hearth(...args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as { tokens: number[] }).tokens, out.tokens);
    assert.deepEqual(files.map((f) => fs.statSync(path.join(stagesRoot, stageDir[0]!, f)).mtimeMs), mtimes, "stage files were reused, not rewritten");
});

test("errors exit non-zero with a message, never a crash", () => {
    const notModel = path.join(dir, "notes.txt");
    fs.writeFileSync(notModel, "just some notes, definitely not a model file");
    const bad = hearth("generate", "--model", notModel, "--prompt", "hi", "--split", "0-1,1-2");
    assert.equal(bad.code, 1);
    assert.equal(bad.signal, null);
    assert.match(bad.stderr, /hearth: .*notes.txt: not a GGUF file/);

    const usage = hearth("generate", "--prompt", "hi");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /generate needs --model FILE/);

    const unknown = hearth("frobnicate");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);

    const help = hearth("help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /hearth generate --model FILE/);
});

test("generate --peers --chat --json: the model's chat template, three node processes, node-llama-cpp's tokens", async () => {
    const model = path.join(dir, "cli-chat.gguf");
    assert.equal(hearth("make-model", "--out", model, "--arch", "llama", "--vocab", "llama-bpe", "--layers", "4", "--embd", "64",
        "--heads", "4", "--kv-heads", "2", "--ff", "128", "--seed", "5", "--quiet").code, 0);
    const nodes = await Promise.all(["c1", "c2", "c3"].map((n) => startNode(n, path.join(dir, `node-${n}`))));
    await enroll(path.join(dir, "data"), "cli-coordinator");
    try {
        const run = hearth("generate", "--model", model, "--peers", nodes.map((n) => n.address).join(","), "--layers", "0-1,1-3,3-4",
            "--chat", "--system", "You are terse.", "--prompt", "What is a hearth?", "--max-tokens", "8", "--greedy", "--json",
            "--context-size", "256");
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout) as { mode: string; promptTokens: number[]; tokens: number[]; text: string; stopReason: string; stages: Array<{ node: string; layers: number[] }> };
        assert.equal(out.mode, "chat");
        assert.deepEqual(out.stages.map((s) => [s.node, s.layers]), [["c1", [0, 1]], ["c2", [1, 3]], ["c3", [3, 4]]]);
        const tok = await Tokenizer.load(model);
        const chat = chatPrompt(tok, [{ role: "system", content: "You are terse." }, { role: "user", content: "What is a hearth?" }]);
        assert.deepEqual(out.promptTokens, chat.tokens);
        assert.ok(tok.decode(chat.tokens).includes("What is a hearth?"));
        assert.notDeepEqual(chat.tokens, tok.encode("What is a hearth?"), "the template wraps the message");
        await tok.dispose();
        const ref = await referenceGreedy(model, out.promptTokens, 8, { contextSize: 256 });
        // All 8 tokens, or fewer because the template's end of turn (a stop string or token) came first.
        if (out.stopReason === "maxTokens") assert.deepEqual(out.tokens, ref);
        else { assert.match(out.stopReason, /^(eos|stopString)$/); assert.deepEqual(out.tokens, ref.slice(0, out.tokens.length)); }
    } finally {
        await Promise.all(nodes.map(stopNode));
    }
});

test("generate --stop ends the text right before the stop string", () => {
    const model = path.join(dir, "cli-qwen3.gguf"); // made by the first test
    const base = ["generate", "--model", model, "--prompt", "Stop here:", "--max-tokens", "12", "--greedy", "--json", "--context-size", "256"];
    const full = JSON.parse(hearth(...base).stdout) as { text: string; tokens: number[] };
    assert.ok(full.text.length > 8, full.text);
    const stop = full.text.slice(Math.floor(full.text.length / 2), Math.floor(full.text.length / 2) + 3);
    const cut = JSON.parse(hearth(...base, "--stop", stop).stdout) as { text: string; tokens: number[] };
    assert.equal(cut.text, full.text.slice(0, full.text.indexOf(stop)));
    assert.ok(cut.tokens.length < full.tokens.length, "generation ended early");
    assert.deepEqual(cut.tokens, full.tokens.slice(0, cut.tokens.length));
});

test("Ctrl-C while slicing or sending a stage stops at once, leaves no partial file and nothing held on the nodes", { timeout: 180000 }, async () => {
    const { spawn } = await import("node:child_process");
    const model = path.join(dir, "cli-big.gguf");
    assert.equal(hearth("make-model", "--out", model, "--arch", "llama", "--vocab", "llama-spm", "--layers", "4", "--embd", "512",
        "--heads", "8", "--kv-heads", "4", "--ff", "512", "--seed", "9", "--quiet").code, 0);
    const interrupt = async (args: string[], dataDir: string, when: RegExp) => {
        const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HEARTH_DATA_DIR: dataDir } });
        let err = "";
        const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
        await new Promise<void>((resolve) => child.stderr.on("data", (d: Buffer) => { err += d.toString(); if (when.test(err)) resolve(); }));
        child.kill("SIGINT");
        const code = await exited;
        return { code, err };
    };
    const partials = (d: string) => fs.existsSync(d) ? fs.readdirSync(d, { recursive: true }).map(String).filter((f) => f.endsWith(".partial")) : [];
    const sliceDir = path.join(dir, "ctrl-c-slice");
    const sliced = await interrupt(["generate", "--model", model, "--split", "0-2,2-4", "--prompt", "hi"], sliceDir, /slicing \d+%/);
    assert.equal(sliced.code, 130, sliced.err);
    assert.match(sliced.err, /stopped; everything it held was released/);
    assert.deepEqual(partials(sliceDir), [], "no half-written stage file is left");

    const nodes = await Promise.all(["i1", "i2"].map((n) => startNode(n, path.join(dir, `node-${n}`))));
    await enroll(path.join(dir, "ctrl-c-send"), "ctrl-c-coordinator");
    try {
        const sent = await interrupt(["generate", "--model", model, "--peers", nodes.map((n) => n.address).join(","), "--layers", "0-2,2-4", "--prompt", "hi",
            "--max-tokens", "100000", "--context-size", "4096"], path.join(dir, "ctrl-c-send"), /sending layers/);
        assert.equal(sent.code, 130, sent.err);
        for (const n of nodes) {
            const c = await memberClient(n.address);
            await c.connect();
            assert.deepEqual((await c.getInfo()).stages, [], `node ${n.name} holds nothing`);
            c.close();
        }
    } finally {
        await Promise.all(nodes.map(stopNode));
    }
});
