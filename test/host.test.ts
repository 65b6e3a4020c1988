// The cluster's model: `hearth plan` predicts over the live members what `hearth load` then does;
// `hearth load` on one member makes it the host (the model placed over the
// members it reaches, within each one's memory limit); `hearth chat` on any other member streams
// a reply through the host's pipeline, exact; two members chatting at once both get exact replies;
// a member that stops is planned around within 10 s, and the next chat is exact again.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, test } from "node:test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { chatPrompt } from "../app/model/chat.ts";
import type { HostedModel__Output } from "../app/protocol/proto.ts";
import { DEFAULT_LINK, hopMs } from "../app/placement/cost-model.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { bin, runHearth, startNode, stopNode, type NodeProcess, liveSequences, until } from "./helpers/nodes.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { memberClient } from "./helpers/test-cluster.ts";

const dir = tempDir("host");
const MB = 1024 * 1024;
let nodes: NodeProcess[] = [];
let model = "";
const CONTEXT = 256;

// A model whose stages need, at this context (as the planner counts them): layers 0-2 94.45 MB,
// 2-4 63.2 MB, 4-6 94.94 MB, 0-3 97.2 MB, 3-6 97.69 MB, all 137.2 MB (the compute buffers and
// embedding tables dominate).
async function startAll(limitsMb: Record<string, number>): Promise<void> {
    await Promise.all(nodes.map(stopNode));
    nodes = await Promise.all(Object.entries(limitsMb).map(([name, mb]) =>
        startNode(name, path.join(dir, name), ["--memory-limit", String(Math.round(mb * MB))])));
}

before(async () => {
    model = await buildModel(dir, "hosted", { arch: "llama", vocab: "llama-spm", layers: 6, type: "f32", tied: false, ...SMALL, embd: 256, ff: 512 });
    // No two machines can hold it: the plan needs all three.
    await startAll({ alpha: 94.6, beta: 94.7, gamma: 96 });
});
after(async () => {
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

const hearth = (args: string[], timeoutMs = 120000) => runHearth(args, timeoutMs);

async function hostedModel(): Promise<HostedModel__Output | null> {
    const c = await memberClient(nodes[0]!.address);
    try { return (await c.getInfo()).hostedModel; } finally { c.close(); }
}

interface ChatJson { stopReason: string; promptTokens: number[]; tokens: number[]; text: string; hostName: string; planVersion: number }

/** `hearth chat` on a member, retried while that member has not yet heard who hosts the model. */
async function chatFrom(member: string, prompt: string): Promise<ChatJson> {
    const t0 = Date.now();
    for (;;) {
        const r = await hearth(["chat", "--prompt", prompt, "--greedy", "--max-tokens", "8", "--json", "--data-dir", path.join(dir, member)]);
        if (r.code === 0) return JSON.parse(r.stdout) as ChatJson;
        if (!/no member hosts a model now/.test(r.stderr) || Date.now() - t0 > 20000) throw new Error(`hearth chat on ${member} failed: ${r.stderr}`);
        await new Promise((res) => setTimeout(res, 500));
    }
}

async function expectExact(reply: ChatJson, prompt: string, contextSize = CONTEXT): Promise<void> {
    const tok = await Tokenizer.load(model);
    const expected = chatPrompt(tok, [{ role: "user", content: prompt }]).tokens;
    await tok.dispose();
    assert.deepEqual(reply.promptTokens, expected, "the host used the model's chat template");
    const ref = await referenceGreedy(model, reply.promptTokens, 8, { contextSize });
    if (reply.stopReason === "maxTokens") assert.deepEqual(reply.tokens, ref);
    else assert.deepEqual(reply.tokens, ref.slice(0, reply.tokens.length), `stopped (${reply.stopReason}) on the reference's path`);
}

test("hearth load places the model over the members within their memory limits; hearth chat on other members is exact, two at once too", { timeout: 240000 }, async () => {
    const noModel = await hearth(["chat", "--prompt", "hi", "--data-dir", path.join(dir, "beta")]);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /no member hosts a model now: load one with 'hearth load --model FILE' on a member/);
    // hearth plan over the live members, before anything is loaded: what the load will do.
    const planned = await hearth(["plan", "--model", model, "--context", String(CONTEXT), "--json", "--data-dir", path.join(dir, "beta")]);
    assert.equal(planned.code, 0, `${planned.stderr}${planned.stdout}`);
    const prediction = JSON.parse(planned.stdout) as { stages: Array<{ member: string; layers: [number, number]; memoryBytes: number }>; predictedTokensPerSecond: number };
    assert.ok(prediction.predictedTokensPerSecond > 0);
    const load = await hearth(["load", "--model", model, "--context-size", String(CONTEXT), "--json", "--data-dir", path.join(dir, "alpha")]);
    assert.equal(load.code, 0, load.stderr);
    const plan = JSON.parse(load.stdout) as HostedModel__Output;
    // The same members (in an order and a split the live links may change). The split
    // is the same when the figures are: links are measured live, and a moment later they may tip the
    // choice between splits of these equally fast machines (then the test says so); either way each
    // stage stays within its machine's limit (below), and with the same split, within the prediction.
    assert.deepEqual(plan.stages.map((s) => s.name).sort(), prediction.stages.map((s) => s.member).sort());
    const loadRanges = plan.stages.map((s) => [s.layerStart, s.layerEnd]);
    if (JSON.stringify(loadRanges) === JSON.stringify(prediction.stages.map((s) => s.layers))) {
        for (const [i, s] of plan.stages.entries()) assert.ok(s.memoryBytes <= prediction.stages[i]!.memoryBytes, `layers ${s.layerStart}-${s.layerEnd}: the node reserved no more than the plan predicted`);
    } else {
        console.log(`# hearth load split ${JSON.stringify(loadRanges)} (${plan.predictedTokensPerSecond.toFixed(1)} tokens/s predicted), hearth plan ${JSON.stringify(prediction.stages.map((s) => s.layers))} (${prediction.predictedTokensPerSecond.toFixed(1)}): the links moved in between`);
    }
    assert.equal(plan.state, "ready");
    assert.equal(plan.hostName, "alpha");
    assert.deepEqual(plan.stages.map((s) => s.name).sort(), ["alpha", "beta", "gamma"], "no two members can hold the model");
    assert.equal(plan.stages[0]!.layerStart, 0);
    for (let i = 1; i < 3; i++) assert.equal(plan.stages[i]!.layerStart, plan.stages[i - 1]!.layerEnd, "contiguous ranges");
    assert.equal(plan.stages[2]!.layerEnd, 6, "the last stage ends with the model's last layer");
    const limit: Record<string, number> = { alpha: 94.6 * MB, beta: 94.7 * MB, gamma: 96 * MB };
    for (const s of plan.stages) assert.ok(s.memoryBytes > 0 && s.memoryBytes <= limit[s.name]!, `${s.name}: ${s.memoryBytes} bytes within its limit`);

    const one = await chatFrom("beta", "What is a hearth?");
    assert.equal(one.hostName, "alpha");
    await expectExact(one, "What is a hearth?");
    const [b, c] = await Promise.all([chatFrom("beta", "Tell me about bread."), chatFrom("gamma", "Why is the sky blue?")]);
    await expectExact(b, "Tell me about bread.");
    await expectExact(c, "Why is the sky blue?");
});

test("a member of the plan that stops is planned around within 10 s; the next chat is exact", { timeout: 240000 }, async () => {
    // Room for the model on any two of the three (0-3 and 3-6): the plan takes two, the third waits.
    await startAll({ alpha: 100, beta: 100, gamma: 100 });
    const load = await hearth(["load", "--model", model, "--context-size", String(CONTEXT), "--json", "--data-dir", path.join(dir, "alpha")]);
    assert.equal(load.code, 0, load.stderr);
    const before = JSON.parse(load.stdout) as HostedModel__Output;
    assert.equal(before.stages.length, 2, "two members are enough, and fewer hops are faster");
    const inPlan = before.stages.map((s) => s.name);
    const victimName = inPlan.find((n) => n !== "alpha")!;
    const survivor = ["alpha", "beta", "gamma"].find((n) => n !== victimName && n !== "alpha")!;
    await stopNode(nodes.find((n) => n.name === victimName)!);
    const t0 = Date.now();
    let after: HostedModel__Output | null = null;
    while (Date.now() - t0 < 15000) {
        after = await hostedModel();
        if (after?.state === "ready" && after.planVersion > before!.planVersion) break;
        await new Promise((r) => setTimeout(r, 250));
    }
    const replanMs = Date.now() - t0;
    console.log(`# re-planned around a stopped member in ${replanMs} ms: ${JSON.stringify(after?.stages.map((s) => [s.name, s.layerStart, s.layerEnd]))}`);
    assert.equal(after?.state, "ready", `the model is ready again: ${after?.message}`);
    assert.deepEqual(after!.stages.map((s) => s.name).sort(), ["alpha", survivor].sort(), `planned over the two that answer, not ${victimName}`);
    assert.ok(replanMs <= 10000, `re-planned within 10 s (took ${replanMs} ms)`);
    const reply = await chatFrom(survivor, "Are you still there?");
    assert.equal(reply.planVersion, after!.planVersion);
    await expectExact(reply, "Are you still there?");
    // The member comes back: it could take part, so the host plans again with it in view, and chats stay exact.
    const back = await startNode(victimName, path.join(dir, victimName), ["--memory-limit", String(100 * MB)]);
    nodes = [...nodes.filter((n) => n.name !== victimName), back];
    const t1 = Date.now();
    let again: HostedModel__Output | null = null;
    while (Date.now() - t1 < 20000) {
        again = await hostedModel();
        if (again?.state === "ready" && again.planVersion > after!.planVersion) break;
        await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(again != null && again.state === "ready" && again.planVersion > after!.planVersion, `a new plan once ${victimName} answered again: ${JSON.stringify(again)}`);
    await expectExact(await chatFrom(survivor, "And now?"), "And now?");
});

/** `hearth chat` on a member as a child process, once its reply streams in. */
async function streamingChat(member: string, prompt: string): Promise<{ child: ChildProcess; exited: Promise<number | null>; output: () => string }> {
    const child = spawn(process.execPath, [bin, "chat", "--prompt", prompt, "--greedy", "--max-tokens", "3500", "--data-dir", path.join(dir, member)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await until(`the chat on ${member} streams`, async () => {
        if (child.exitCode != null) throw new Error(`hearth chat on ${member} ended before streaming (${child.exitCode}): ${err}`);
        return out.length > 0;
    }, 30000);
    return { child, exited, output: () => out };
}

test("a relayed chat cancelled mid-stream frees its sequence on every stage; a member that could take part while a chat runs is a proposed plan (in hearth peers), adopted when the chat ends", { timeout: 300000 }, async () => {
    // A long context, so that a chat lasts long enough to watch (3500 tokens); two members hold the model, neither alone.
    const context = 4096;
    await startAll({ alpha: 180, beta: 180 });
    // Plans cost each hop with the links the members measured (once they have), not an assumed one.
    const assumed = hopMs(DEFAULT_LINK, 256 * 4);
    let hops: number[] = [];
    await until("hearth plan costs the hop with a measured link", async () => {
        const planned = await hearth(["plan", "--model", model, "--context", String(context), "--json", "--data-dir", path.join(dir, "beta")]);
        assert.equal(planned.code, 0, planned.stderr + planned.stdout);
        hops = (JSON.parse(planned.stdout) as { stages: Array<{ hopMsPerToken: number }> }).stages.map((s) => s.hopMsPerToken);
        return hops.length === 2 && hops.every((h) => h > 0 && Math.abs(h - assumed) > 1e-6);
    }, 20000);
    console.log(`# hops costed with measured links: ${hops.map((h) => h.toFixed(2)).join(", ")} ms (an assumed link: ${assumed.toFixed(2)} ms)`);
    const load = await hearth(["load", "--model", model, "--context-size", String(context), "--json", "--data-dir", path.join(dir, "alpha")]);
    assert.equal(load.code, 0, load.stderr);
    const before = JSON.parse(load.stdout) as HostedModel__Output;
    assert.deepEqual(before.stages.map((s) => s.name).sort(), ["alpha", "beta"]);
    assert.ok(before.predictedTokensPerSecond > 0 && before.stages.every((s) => s.predictedMsPerToken > 0), "the plan in force carries the planner's predictions");
    await chatFrom("beta", "Warm up.");

    // Ctrl-C on beta's `hearth chat`: the cancel travels beta → alpha (the host) → every stage.
    const first = await streamingChat("beta", "Tell me a long story.");
    await until("the chat holds a sequence on the stages", async () => (await Promise.all(nodes.map(liveSequences))).every((n) => n > 0), 10000);
    const t0 = Date.now();
    first.child.kill("SIGINT");
    await first.exited;
    await until("every stage freed the cancelled chat's sequence", async () => (await Promise.all(nodes.map(liveSequences))).every((n) => n === 0), 5000);
    console.log(`# a cancelled relayed chat was freed on every stage ${Date.now() - t0} ms after Ctrl-C`);
    assert.equal((await hostedModel())!.planVersion, before.planVersion, "a cancel is no reason to plan again");

    // A member that could hold the whole model comes while a chat runs: the new plan waits, shown as proposed.
    const second = await streamingChat("beta", "Tell me another long story.");
    nodes.push(await startNode("gamma", path.join(dir, "gamma"), ["--memory-limit", String(400 * MB)]));
    await until("the host proposes a plan with gamma", async () => {
        if (second.child.exitCode != null) throw new Error("the chat ended before the host proposed a plan: it is too short for this test");
        return (await hostedModel())?.proposed != null;
    }, 30000);
    const waiting = (await hostedModel())!;
    assert.equal(waiting.state, "ready");
    assert.equal(waiting.planVersion, before.planVersion, "a busy pipeline keeps its plan while its chats run");
    assert.match(waiting.proposed!.reason, /gamma could take part/);
    assert.deepEqual(waiting.proposed!.stages.map((s) => [s.name, s.layerStart, s.layerEnd]), [["gamma", 0, 6]], "one machine that holds the model is faster than two");
    assert.ok(waiting.proposed!.predictedTokensPerSecond > waiting.predictedTokensPerSecond, "and the planner says so");
    // beta hears of it when it next asks alpha (every 5 s).
    let peers = { code: null as number | null, stdout: "", stderr: "" };
    await until("beta's hearth peers shows the proposed plan", async () => {
        peers = await hearth(["peers", "--data-dir", path.join(dir, "beta")]);
        assert.equal(peers.code, 0, peers.stderr);
        return /proposed/.test(peers.stdout);
    }, 15000);
    assert.match(peers.stdout, /model: hosted\.gguf on alpha — ready \(a new plan is waiting for the chats in progress to end\), plan 1, predicted [\d.]+ tokens\/s/);
    assert.match(peers.stdout, /proposed \(gamma could take part\), predicted [\d.]+ tokens\/s/);
    assert.match(peers.stdout, /gamma +layers 0-6/);
    assert.match(peers.stdout, /alpha +member +127\.0\.0\.1:\d+ .* \d+(\.\d+)? ms, \d+ MB\/s$/m, "beta's measured link to alpha");

    second.child.kill("SIGINT");
    await second.exited;
    let adopted: HostedModel__Output | null = null;
    await until("the proposed plan is adopted", async () => {
        adopted = await hostedModel();
        return adopted?.state === "ready" && adopted.planVersion > before.planVersion;
    }, 20000);
    assert.deepEqual(adopted!.stages.map((s) => [s.name, s.layerStart, s.layerEnd]), [["gamma", 0, 6]]);
    assert.equal(adopted!.proposed, null, "nothing is proposed once adopted");
    await expectExact(await chatFrom("beta", "And now?"), "And now?", context);
});
