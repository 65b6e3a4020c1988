// The OpenAI-compatible API (`hearth node --api`), with the official `openai` client: requests
// translated without processes (app/openai/requests.ts); then three nodes on 127.0.0.1 that
// together hold the model (each one's memory limit lets it take only part of it), beta serving the
// API without a key (it does not host the model: its Chat calls go to alpha, the host) and alpha
// serving it with one. Greedy chat completions, streamed or not, are the engine's text; stop strings
// end the text before them; usage counts the chat template's tokens and the generated ones; four
// streamed requests that start at different times are all exact; a client that aborts frees its
// sequence on every stage; bad requests, an unknown model, no model, and a missing or wrong key
// get OpenAI's error shape with the right status; a non-loopback --api-host without a key refuses
// to start.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import OpenAI, { APIError } from "openai";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { chatPrompt, type ChatMessage } from "../app/model/chat.ts";
import { TextStream } from "../app/engine/text-stream.ts";
import type { ClusterModel } from "../app/cluster/cluster-view-types.ts";
import type { ChatEvent__Output } from "../app/protocol/proto.ts";
import {
    OpenAiError, chatCompletionChunk, chatCompletionRequest, chatCompletionResponse, checkModel, completionRequest, errorFromChatStatus, finishReason, samplerSeed, usage
} from "../app/openai/requests.ts";
import { checkApiBinding, isLoopbackHost } from "../app/openai/openai-server.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { runHearth, startNode, stopNode, terminateNode, type NodeProcess, liveSequences, until } from "./helpers/nodes.ts";
import { referenceGreedy } from "./helpers/reference.ts";
import { memberClient } from "./helpers/test-cluster.ts";

delete process.env.HEARTH_API_KEY;

const MB = 1024 * 1024;
const CONTEXT = 256;
const KEY = "test-key-0123456789";

// ---- requests and answers, without processes ------------------------------------------------------

function rejects400(fn: () => unknown, param: string | null, pattern: RegExp): void {
    assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof OpenAiError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.body.error.type, "invalid_request_error");
        assert.equal(e.body.error.param, param);
        assert.match(e.message, pattern);
        return true;
    });
}

const fakeModel = (over: Partial<ClusterModel> = {}): ClusterModel => ({
    name: "hearth-test-model.gguf", modelSha256: "ab".repeat(32), hostNodeId: "n1", hostName: "alpha", state: "ready", message: "", planVersion: 1,
    plan: { stages: [], predictedTokensPerSecond: null }, proposed: null, ...over
});

describe("requests (no processes)", () => {
    test("a chat completion becomes the Chat RPC's request: messages, max tokens, sampler, stop strings", { timeout: 10000 }, () => {
        const t = chatCompletionRequest({
            model: "m", messages: [{ role: "developer", content: "Be brief." }, { role: "user", content: [{ type: "text", text: "Hi" }, { type: "text", text: "there" }] }],
            max_tokens: 9, temperature: 0.5, top_p: 0.9, seed: 42, stop: "END", stream: true, stream_options: { include_usage: true }, user: "ignored", n: 1
        });
        assert.equal(t.kind, "chat");
        assert.equal(t.model, "m");
        assert.equal(t.stream, true);
        assert.equal(t.includeUsage, true);
        assert.deepEqual(t.chat.messages, [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi\nthere" }]);
        assert.equal(t.chat.maxTokens, 9);
        assert.equal(t.chat.prompt, "");
        assert.deepEqual(t.chat.stop, ["END"]);
        assert.deepEqual(t.chat.sampler, { temperature: 0.5, topP: 0.9, frequencyPenalty: 0, presencePenalty: 0, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 43 });
        // max_completion_tokens wins over max_tokens; without either a chat goes on until the context is full.
        assert.equal(chatCompletionRequest({ messages: [{ role: "user", content: "x" }], max_tokens: 5, max_completion_tokens: 7 }).chat.maxTokens, 7);
        const plain = chatCompletionRequest({ messages: [{ role: "user", content: "x" }] });
        assert.equal(plain.chat.maxTokens, 1_000_000);
        assert.equal(plain.model, null);
        assert.equal(plain.stream, false);
        assert.equal(plain.chat.sampler!.temperature, 1, "OpenAI's default temperature");
        assert.equal(plain.chat.sampler!.seed, 0, "no seed: a random one");
        assert.deepEqual(chatCompletionRequest({ messages: [{ role: "user", content: "x" }], stop: ["a", "b"] }).chat.stop, ["a", "b"]);
    });

    test("a completion carries the raw prompt; OpenAI's default of 16 tokens", { timeout: 10000 }, () => {
        const t = completionRequest({ prompt: ["Once upon"], temperature: 0 });
        assert.equal(t.kind, "completion");
        assert.equal(t.chat.prompt, "Once upon");
        assert.deepEqual(t.chat.messages, []);
        assert.equal(t.chat.maxTokens, 16);
        assert.equal(t.chat.sampler!.temperature, 0);
        rejects400(() => completionRequest({ prompt: ["a", "b"] }), "prompt", /one string/);
        rejects400(() => completionRequest({ prompt: [1, 2, 3] }), "prompt", /token ids are not supported/);
        rejects400(() => completionRequest({ prompt: "" }), "prompt", /must not be empty/);
        rejects400(() => completionRequest({}), "prompt", /prompt must be a string/);
        rejects400(() => completionRequest({ prompt: "x", echo: true }), "echo", /not supported/);
        rejects400(() => completionRequest({ prompt: "x", best_of: 3 }), "best_of", /must be 1/);
    });

    test("what cannot be done is refused clearly, naming the parameter", { timeout: 10000 }, () => {
        const user = [{ role: "user", content: "x" }];
        rejects400(() => chatCompletionRequest({ messages: user, n: 2 }), "n", /n must be 1/);
        rejects400(() => chatCompletionRequest({ messages: user, temperature: 3 }), "temperature", /temperature must be a number from 0 to 2/);
        rejects400(() => chatCompletionRequest({ messages: user, temperature: "hot" }), "temperature", /temperature/);
        rejects400(() => chatCompletionRequest({ messages: user, top_p: 1.5 }), "top_p", /top_p/);
        rejects400(() => chatCompletionRequest({ messages: [] }), "messages", /non-empty array/);
        rejects400(() => chatCompletionRequest({}), "messages", /non-empty array/);
        rejects400(() => chatCompletionRequest("[]"), null, /JSON object/);
        rejects400(() => chatCompletionRequest({ messages: user, max_tokens: 0 }), "max_tokens", /from 1 to/);
        rejects400(() => chatCompletionRequest({ messages: user, max_tokens: 2.5 }), "max_tokens", /whole number/);
        rejects400(() => chatCompletionRequest({ messages: user, stop: ["a", "b", "c", "d", "e"] }), "stop", /at most 4/);
        rejects400(() => chatCompletionRequest({ messages: user, stop: "x".repeat(201) }), "stop", /at most 200 characters/);
        rejects400(() => chatCompletionRequest({ messages: user, stop: "" }), "stop", /must not be empty/);
        rejects400(() => chatCompletionRequest({ messages: user, seed: 1.5 }), "seed", /integer/);
        rejects400(() => chatCompletionRequest({ messages: user, stream_options: { include_usage: true } }), "stream_options", /only with stream: true/);
        rejects400(() => chatCompletionRequest({ messages: user, tools: [{ type: "function", function: { name: "f" } }] }), "tools", /function calling/);
        rejects400(() => chatCompletionRequest({ messages: user, tool_choice: "required" }), "tool_choice", /function calling/);
        rejects400(() => chatCompletionRequest({ messages: user, logprobs: true }), "logprobs", /not supported/);
        rejects400(() => chatCompletionRequest({ messages: user, response_format: { type: "json_object" } }), "response_format", /no JSON mode/);
        rejects400(() => chatCompletionRequest({ messages: user, logit_bias: { 5: 10 } }), "logit_bias", /not supported/);
        rejects400(() => chatCompletionRequest({ messages: [{ role: "tool", content: "r" }] }), "messages[0].role", /no function calling/);
        rejects400(() => chatCompletionRequest({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }), "messages[0].content", /only text parts/);
        rejects400(() => chatCompletionRequest({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] }), "messages", /last message must be the user's/);
        rejects400(() => chatCompletionRequest({ messages: user, model: 5 }), "model", /model must be a string/);
        // Defaults that change nothing are fine.
        assert.doesNotThrow(() => chatCompletionRequest({ messages: user, tools: [], tool_choice: "none", logprobs: false, response_format: { type: "text" }, logit_bias: {}, n: null, seed: null }));
    });

    test("seeds, finish reasons, usage, responses, chunks", { timeout: 10000 }, () => {
        for (const s of [0, 1, -1, 42, 0xfffffffd, 0xfffffffe, 0xffffffff, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
            const seed = samplerSeed(s);
            assert.ok(Number.isInteger(seed) && seed >= 1 && seed <= 0xfffffffe, `seed ${s} → ${seed}`);
        }
        assert.notEqual(samplerSeed(1), samplerSeed(2));
        assert.equal(samplerSeed(7), samplerSeed(7));
        assert.deepEqual(["eos", "stopString", "maxTokens", "contextFull"].map(finishReason), ["stop", "stop", "length", "length"]);
        const result = { stopReason: "stopString", promptTokens: [1, 2, 3], tokens: [4, 5], text: "hi", timeToFirstTokenMs: 1, decodeTokensPerSecond: 1, hostName: "alpha", planVersion: 1 };
        assert.deepEqual(usage(result), { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
        const ctx = { id: "chatcmpl-1", created: 5, model: "m" };
        assert.deepEqual(chatCompletionResponse(ctx, result), {
            id: "chatcmpl-1", object: "chat.completion", created: 5, model: "m",
            choices: [{ index: 0, message: { role: "assistant", content: "hi", refusal: null }, logprobs: null, finish_reason: "stop" }],
            usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
        });
        assert.deepEqual(chatCompletionChunk(ctx, { delta: { content: "h" } }, true).choices, [{ index: 0, delta: { content: "h" }, logprobs: null, finish_reason: null }]);
        assert.equal(chatCompletionChunk(ctx, { delta: { content: "h" } }, true).usage, null);
        assert.ok(!("usage" in chatCompletionChunk(ctx, { delta: { content: "h" } }, false)));
        assert.deepEqual(chatCompletionChunk(ctx, { usage: usage(result) }, true).choices, []);
    });

    test("models and errors: 404 for another model, 503 for none or a failed one; Chat statuses as HTTP statuses", { timeout: 10000 }, () => {
        assert.equal(checkModel(null, fakeModel()), "hearth-test-model.gguf");
        assert.equal(checkModel("hearth-test-model.gguf", fakeModel()), "hearth-test-model.gguf");
        assert.equal(checkModel("hearth-test-model", fakeModel()), "hearth-test-model.gguf");
        assert.throws(() => checkModel("gpt-4o", fakeModel()), (e: OpenAiError) => e.status === 404 && e.code === "model_not_found" && /this cluster runs 'hearth-test-model.gguf'/.test(e.message));
        assert.throws(() => checkModel(null, null), (e: OpenAiError) => e.status === 503 && /hearth load --model FILE/.test(e.message));
        assert.throws(() => checkModel(null, fakeModel({ state: "failed", message: "out of memory" })), (e: OpenAiError) => e.status === 503 && /out of memory/.test(e.message));
        assert.equal(errorFromChatStatus(grpc.status.INVALID_ARGUMENT, "the prompt has 300 tokens, but the context holds 256").code, "context_length_exceeded");
        assert.equal(errorFromChatStatus(grpc.status.INVALID_ARGUMENT, "x").status, 400);
        assert.equal(errorFromChatStatus(grpc.status.FAILED_PRECONDITION, "no member hosts a model now").status, 503);
        assert.equal(errorFromChatStatus(grpc.status.UNAVAILABLE, "gone").status, 503);
        assert.equal(errorFromChatStatus(grpc.status.INTERNAL, "boom").status, 500);
        assert.deepEqual(Object.keys(new OpenAiError(400, "m").body.error), ["message", "type", "param", "code"]);
        assert.ok(isLoopbackHost("127.0.0.1") && isLoopbackHost("::1") && isLoopbackHost("localhost") && !isLoopbackHost("0.0.0.0") && !isLoopbackHost("192.168.1.2"));
        assert.throws(() => checkApiBinding("0.0.0.0", null), /--api-key/);
        assert.doesNotThrow(() => checkApiBinding("0.0.0.0", "k"));
        assert.doesNotThrow(() => checkApiBinding("127.0.0.1", null));
    });
});

// ---- through the cluster ----------------------------------------------------------------------------

const dir = tempDir("openai");
let nodes: NodeProcess[] = [];
let model = "";
let tok: Tokenizer;
let betaPort = 0, alphaPort = 0;
let beta: OpenAI, alpha: OpenAI;
const modelName = "hosted.gguf";

async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    return port;
}

async function batches(n: NodeProcess): Promise<number> {
    const c = await memberClient(n.address);
    try { return (await c.getInfo()).stages.reduce((sum, s) => sum + s.batches, 0); } finally { c.close(); }
}

const client = (port: number, apiKey = "unused") => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0, timeout: 120000 });

/** What the engine makes of greedy tokens (node-llama-cpp's, the reference): the text as generate's TextStream cuts it, the tokens up to the one that ends it. */
interface EngineReply { text: string; tokens: number[]; finish: "stop" | "length"; promptTokens: number[] }

const references = new Map<string, number[]>();
async function reference(promptTokens: number[], maxTokens: number): Promise<number[]> {
    const key = `${promptTokens.join(",")}/${maxTokens}`;
    let ref = references.get(key);
    if (ref == null) { ref = await referenceGreedy(model, promptTokens, maxTokens, { contextSize: CONTEXT, threads: 2 }); references.set(key, ref); }
    return ref;
}

async function engine(promptTokens: number[], maxTokens: number, stopStrings: string[], stopTokens: number[] = []): Promise<EngineReply> {
    const ref = await reference(promptTokens, maxTokens);
    assert.equal(ref.length, maxTokens);
    const text = new TextStream(tok, stopStrings);
    const tokens: number[] = [];
    let finish: "stop" | "length" = "length";
    for (const t of ref) {
        tokens.push(t);
        if (text.push(t).stop != null || tok.isEndOfGeneration(t) || stopTokens.includes(t)) { finish = "stop"; break; }
    }
    text.finish();
    return { text: text.text, tokens, finish, promptTokens };
}

async function engineChat(messages: ChatMessage[], maxTokens: number, extraStop: string[] = []): Promise<EngineReply> {
    const prompt = chatPrompt(tok, messages);
    return engine(prompt.tokens, maxTokens, [...prompt.stopStrings, ...extraStop], prompt.stopTokens);
}

/** A streamed chat completion: its text, chunks, finish reason and usage, and when its first text came. */
async function streamChat(api: OpenAI, messages: ChatMessage[], maxTokens: number, extra: { stop?: string[] } = {}) {
    const t0 = performance.now();
    const stream = await api.chat.completions.create({ model: modelName, messages, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, ...extra });
    let text = "", finish: string | null = null, firstMs = 0, role = "", chunks = 0;
    let use: OpenAI.CompletionUsage | null = null;
    for await (const chunk of stream) {
        chunks++;
        assert.equal(chunk.object, "chat.completion.chunk");
        assert.equal(chunk.model, modelName);
        if (chunk.usage != null) use = chunk.usage;
        const choice = chunk.choices[0];
        if (choice == null) continue;
        if (choice.delta.role != null) role = choice.delta.role;
        if (choice.delta.content != null && choice.delta.content !== "") { if (firstMs === 0) firstMs = performance.now() - t0; text += choice.delta.content; }
        if (choice.finish_reason != null) finish = choice.finish_reason;
    }
    return { text, finish, usage: use, firstMs, role, chunks };
}

const node = (name: string) => nodes.find((n) => n.name === name)!;

describe("through the cluster", () => {
    before(async () => {
        model = await buildModel(dir, "hosted", { arch: "llama", vocab: "llama-spm", layers: 6, type: "f32", tied: false, ...SMALL, embd: 256, ff: 512 });
        tok = await Tokenizer.load(model);
        [betaPort, alphaPort] = [await freePort(), await freePort()];
        // No two machines can hold it at this context (see test/host.test.ts): the plan needs all three.
        const limits: Record<string, number> = { alpha: 94.6, beta: 94.7, gamma: 96 };
        const extra: Record<string, string[]> = { alpha: ["--api", String(alphaPort), "--api-key", KEY], beta: ["--api", String(betaPort)], gamma: [] };
        nodes = await Promise.all(Object.entries(limits).map(([name, mb]) => startNode(name, path.join(dir, name), ["--memory-limit", String(Math.round(mb * MB)), ...extra[name]!])));
        beta = client(betaPort);
        alpha = client(alphaPort, KEY);
    });
    after(async () => {
        await Promise.all(nodes.map(stopNode));
        await tok?.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("a non-loopback --api-host without a key refuses to start", { timeout: 30000 }, async () => {
        const t0 = Date.now();
        const r = await runHearth(["node", "--port", "0", "--host", "127.0.0.1", "--name", "open", "--data-dir", path.join(dir, "open"), "--no-discovery", "--no-speed-test", "--api", "--api-host", "0.0.0.0"], 20000);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /the OpenAI-compatible API on 0\.0\.0\.0 would be open to other machines: give it a key with --api-key KEY \(or \$HEARTH_API_KEY\)/);
        assert.doesNotMatch(r.stdout, /listening on|OpenAI-compatible API on http/);
        assert.ok(!fs.existsSync(path.join(dir, "open")), "refused before anything was made");
        console.log(`# refused in ${Date.now() - t0} ms`);
    });

    test("no model loaded: /v1/models is empty and a completion gets 503 saying what to do", { timeout: 30000 }, async () => {
        assert.deepEqual((await beta.models.list()).data, []);
        await assert.rejects(beta.chat.completions.create({ model: modelName, messages: [{ role: "user", content: "hi" }] }), (e: unknown) => {
            assert.ok(e instanceof APIError, String(e));
            assert.equal(e.status, 503);
            assert.equal(e.code, "model_not_loaded");
            assert.match(e.message, /no model is loaded in this cluster: load one with 'hearth load --model FILE'/);
            return true;
        });
    });

    test("a missing or wrong key gets 401 where a key is set; the right one is served", { timeout: 30000 }, async () => {
        const noKey = await fetch(`http://127.0.0.1:${alphaPort}/v1/models`);
        assert.equal(noKey.status, 401);
        assert.equal(noKey.headers.get("www-authenticate"), "Bearer");
        const body = await noKey.json() as { error: Record<string, unknown> };
        assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
        assert.equal(body.error.code, "invalid_api_key");
        assert.match(String(body.error.message), /You didn't provide an API key/);
        await assert.rejects(client(alphaPort, "wrong-key").models.list(), (e: unknown) => e instanceof APIError && e.status === 401 && /Incorrect API key/.test(e.message));
        await assert.rejects(client(alphaPort, "wrong-key").chat.completions.create({ model: modelName, messages: [{ role: "user", content: "hi" }] }), (e: unknown) => e instanceof APIError && e.status === 401);
        assert.deepEqual((await alpha.models.list()).data, []);
        // Without a key, only names of this machine are served (no DNS rebinding).
        const status = await new Promise<number>((resolve, reject) => {
            const req = http.request({ host: "127.0.0.1", port: betaPort, path: "/v1/models", headers: { Host: `evil.example:${betaPort}` } }, (res) => { res.resume(); resolve(res.statusCode!); });
            req.on("error", reject);
            req.end();
        });
        assert.equal(status, 403);
    });

    test("load the model over the three; /v1/models lists it on a member that does not host it", { timeout: 180000 }, async () => {
        const load = await runHearth(["load", "--model", model, "--context-size", String(CONTEXT), "--json", "--data-dir", node("alpha").dataDir], 120000);
        assert.equal(load.code, 0, load.stderr);
        const plan = JSON.parse(load.stdout) as { stages: Array<{ name: string }>; hostName: string };
        assert.deepEqual(plan.stages.map((s) => s.name).sort(), ["alpha", "beta", "gamma"], "the model needs all three");
        assert.equal(plan.hostName, "alpha");
        await until("beta's API lists the model", async () => (await beta.models.list()).data.length > 0, 30000);
        const list = await beta.models.list();
        assert.deepEqual(list.data.map((m) => [m.id, m.object, m.owned_by]), [[modelName, "model", "hearth"]]);
        assert.equal((await beta.models.retrieve(modelName)).id, modelName);
        assert.deepEqual((await alpha.models.list()).data.map((m) => m.id), [modelName]);
    });

    test("greedy chat completions, whole and streamed, through a member and through the host, are the engine's text; usage counts right", { timeout: 180000 }, async () => {
        const messages: ChatMessage[] = [{ role: "user", content: "What is a hearth?" }];
        const expected = await engineChat(messages, 12);
        assert.ok(expected.text.length > 0);
        const whole = await beta.chat.completions.create({ model: modelName, messages, max_tokens: 12, temperature: 0 });
        assert.equal(whole.object, "chat.completion");
        assert.match(whole.id, /^chatcmpl-/);
        assert.equal(whole.model, modelName);
        assert.equal(whole.choices.length, 1);
        assert.equal(whole.choices[0]!.message.role, "assistant");
        assert.equal(whole.choices[0]!.message.content, expected.text);
        assert.equal(whole.choices[0]!.finish_reason, expected.finish);
        assert.deepEqual(whole.usage, { prompt_tokens: expected.promptTokens.length, completion_tokens: expected.tokens.length, total_tokens: expected.promptTokens.length + expected.tokens.length },
            "prompt tokens: the chat template's; completion tokens: those generated");

        const streamed = await streamChat(beta, messages, 12);
        assert.equal(streamed.role, "assistant");
        assert.equal(streamed.text, expected.text);
        assert.equal(streamed.finish, expected.finish);
        assert.deepEqual(streamed.usage, whole.usage);
        assert.ok(streamed.chunks >= 3, "a role chunk, text chunks, the finish and the usage");

        // Through the host's own API (with its key), max_completion_tokens instead of max_tokens, and a system message.
        const withSystem: ChatMessage[] = [{ role: "system", content: "You are terse." }, { role: "user", content: "Tell me about bread." }];
        const expected2 = await engineChat(withSystem, 10);
        const hosted = await alpha.chat.completions.create({ model: modelName, messages: withSystem, max_completion_tokens: 10, temperature: 0 });
        assert.equal(hosted.choices[0]!.message.content, expected2.text);
        assert.equal(hosted.usage!.prompt_tokens, expected2.promptTokens.length);
        assert.equal(hosted.usage!.completion_tokens, expected2.tokens.length);
        const hostedStream = await streamChat(alpha, withSystem, 10);
        assert.equal(hostedStream.text, expected2.text);

        // Time to first token: the API (through beta, relayed to alpha) vs beta's Chat RPC directly.
        const apiFirst: number[] = [], rpcFirst: number[] = [];
        for (let i = 0; i < 3; i++) {
            apiFirst.push((await streamChat(beta, messages, 4)).firstMs);
            const c = await memberClient(node("beta").address);
            try {
                const t0 = performance.now();
                rpcFirst.push(await new Promise<number>((resolve, reject) => {
                    let first = 0;
                    const call = c.raw.chat({ messages, maxTokens: 4, sampler: { temperature: 0, topP: 1, repeatPenalty: 1, repeatLastN: 64 } }, new grpc.Metadata());
                    call.on("data", (e: ChatEvent__Output) => { if (first === 0 && e.delta != null && e.delta.text !== "") first = performance.now() - t0; });
                    call.on("error", reject);
                    call.on("end", () => resolve(first));
                }));
            } finally { c.close(); }
        }
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        console.log(`# time to first text, median of 3: OpenAI API ${median(apiFirst).toFixed(1)} ms, the node's Chat RPC ${median(rpcFirst).toFixed(1)} ms (both through beta, relayed to alpha)`);
    });

    test("a stop string that occurs in the greedy reply ends it right before it, finish_reason stop", { timeout: 120000 }, async () => {
        const messages: ChatMessage[] = [{ role: "user", content: "Why is the sky blue?" }];
        const full = await engineChat(messages, 24);
        // A stop string from the middle of the reply (not at its start).
        let stop = "";
        for (let at = Math.floor(full.text.length / 2); at < full.text.length - 2 && stop === ""; at++) {
            const s = full.text.slice(at, at + 3);
            if (s.trim().length === 3 && full.text.indexOf(s) > 0) stop = s;
        }
        assert.notEqual(stop, "", `a stop string in ${JSON.stringify(full.text)}`);
        const cut = full.text.slice(0, full.text.indexOf(stop));
        const expected = await engineChat(messages, 24, [stop]);
        assert.equal(expected.text, cut);
        assert.ok(expected.tokens.length < full.tokens.length || full.finish === "stop");
        const whole = await beta.chat.completions.create({ model: modelName, messages, max_tokens: 24, temperature: 0, stop: [stop] });
        assert.equal(whole.choices[0]!.message.content, cut, `ends before ${JSON.stringify(stop)}`);
        assert.ok(!whole.choices[0]!.message.content!.includes(stop));
        assert.equal(whole.choices[0]!.finish_reason, "stop");
        assert.equal(whole.usage!.completion_tokens, expected.tokens.length, "the tokens up to the one that completed the stop string");
        const streamed = await streamChat(beta, messages, 24, { stop: [stop] });
        assert.equal(streamed.text, cut, "no part of the stop string streamed");
        assert.equal(streamed.finish, "stop");
        console.log(`# stop ${JSON.stringify(stop)}: ${JSON.stringify(cut)} (of ${JSON.stringify(full.text)})`);
    });

    test("completions take a raw prompt (no chat template), whole and streamed", { timeout: 120000 }, async () => {
        const prompt = "Once upon a time";
        const tokens = tok.encode(prompt);
        const expected = await engine(tokens, 10, []);
        const whole = await beta.completions.create({ model: modelName, prompt, max_tokens: 10, temperature: 0 });
        assert.equal(whole.object, "text_completion");
        assert.equal(whole.choices[0]!.text, expected.text);
        assert.equal(whole.choices[0]!.finish_reason, expected.finish);
        assert.deepEqual(whole.usage, { prompt_tokens: tokens.length, completion_tokens: expected.tokens.length, total_tokens: tokens.length + expected.tokens.length });
        const stream = await beta.completions.create({ model: modelName, prompt, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
        let text = "", finish: string | null = null, use: OpenAI.CompletionUsage | null = null;
        for await (const chunk of stream) {
            if (chunk.usage != null) use = chunk.usage;
            const c = chunk.choices[0];
            if (c == null) continue;
            text += c.text;
            if (c.finish_reason != null) finish = c.finish_reason;
        }
        assert.equal(text, expected.text);
        assert.equal(finish, expected.finish);
        assert.deepEqual(use, whole.usage);
        // OpenAI's default of 16 tokens.
        const short = await beta.completions.create({ model: modelName, prompt, temperature: 0 });
        assert.equal(short.usage!.completion_tokens, (await engine(tokens, 16, [])).tokens.length);
    });

    test("four streamed requests that start at different times are all exact", { timeout: 240000 }, async () => {
        const prompts = ["Tell me about bread.", "What is a hearth?", "Why is the sky blue?", "Name three rivers."];
        const maxTokens = 64;
        const expected = await Promise.all(prompts.map((p) => engineChat([{ role: "user", content: p }], maxTokens)));
        const t0 = performance.now();
        const replies = await Promise.all(prompts.map(async (p, i) => {
            await new Promise((r) => setTimeout(r, i * 100));
            const started = performance.now() - t0;
            const r = await streamChat(i % 2 === 0 ? beta : alpha, [{ role: "user", content: p }], maxTokens);
            return { ...r, started, ended: performance.now() - t0 };
        }));
        for (const [i, r] of replies.entries()) {
            assert.equal(r.text, expected[i]!.text, `reply ${i} (${prompts[i]})`);
            assert.equal(r.usage!.completion_tokens, expected[i]!.tokens.length);
            assert.equal(r.usage!.prompt_tokens, expected[i]!.promptTokens.length);
        }
        for (let i = 1; i < replies.length; i++)
            assert.ok(replies[i]!.started < replies[i - 1]!.ended, `request ${i} started while request ${i - 1} ran: ${JSON.stringify(replies.map((r) => [Math.round(r.started), Math.round(r.ended)]))}`);
        console.log(`# four staggered streams (start, end ms): ${JSON.stringify(replies.map((r) => [Math.round(r.started), Math.round(r.ended)]))}`);
    });

    test("a client that aborts mid-stream frees its sequence on every stage", { timeout: 120000 }, async () => {
        const all = ["alpha", "beta", "gamma"].map(node);
        assert.deepEqual(await Promise.all(all.map(liveSequences)), [0, 0, 0], "nothing runs before");
        const batchesBefore = await Promise.all(all.map(batches));
        const maxTokens = 200;
        const stream = await beta.chat.completions.create({ model: modelName, messages: [{ role: "user", content: "Tell me a long story." }], max_tokens: maxTokens, temperature: 0, stream: true });
        let chunks = 0, finished = false, abortedAt = 0;
        try {
            for await (const chunk of stream) {
                if (chunk.choices[0]?.finish_reason != null) finished = true;
                if (++chunks === 4) {
                    await until("the stream holds a sequence on every stage", async () => (await Promise.all(all.map(liveSequences))).every((n) => n > 0), 10000);
                    assert.ok(!finished);
                    abortedAt = Date.now();
                    stream.controller.abort();
                }
            }
        } catch (e) {
            // The client may end the iteration quietly or with its abort error.
            assert.ok(e instanceof Error && /abort/i.test(`${e.name} ${e.message}`), String(e));
        }
        assert.ok(abortedAt > 0 && !finished, "aborted before the end");
        await until("every stage freed the aborted stream's sequence", async () => (await Promise.all(all.map(liveSequences))).every((n) => n === 0), 5000);
        const freedMs = Date.now() - abortedAt;
        // The generation stopped: the stages computed far fewer steps than the whole reply would have.
        await new Promise((r) => setTimeout(r, 500));
        const steps = (await Promise.all(all.map(batches))).map((b, i) => b - batchesBefore[i]!);
        for (const s of steps) assert.ok(s > 0 && s < maxTokens / 2, `steps computed after the abort stopped: ${JSON.stringify(steps)}`);
        console.log(`# an aborted stream was freed on every stage ${freedMs} ms after the client aborted; steps per stage: ${JSON.stringify(steps)}`);
        // And the pipeline serves the next request, exact.
        const messages: ChatMessage[] = [{ role: "user", content: "And now?" }];
        const next = await beta.chat.completions.create({ model: modelName, messages, max_tokens: 8, temperature: 0 });
        assert.equal(next.choices[0]!.message.content, (await engineChat(messages, 8)).text);
    });

    test("bad requests get 400 in OpenAI's error shape, a body too large 413, an unknown model 404", { timeout: 60000 }, async () => {
        const messages: ChatMessage[] = [{ role: "user", content: "hi" }];
        const expectError = async (p: Promise<unknown>, status: number, param: string | null, pattern: RegExp) => {
            await assert.rejects(p, (e: unknown) => {
                assert.ok(e instanceof APIError, String(e));
                assert.equal(e.status, status, e.message);
                assert.equal(e.type, "invalid_request_error");
                assert.equal(e.param ?? null, param);
                assert.match(e.message, pattern);
                return true;
            });
        };
        await expectError(beta.chat.completions.create({ model: modelName, messages, n: 2 }), 400, "n", /n must be 1/);
        await expectError(beta.chat.completions.create({ model: modelName, messages, temperature: 3 }), 400, "temperature", /temperature must be a number from 0 to 2/);
        await expectError(beta.chat.completions.create({ model: modelName, messages: [] }), 400, "messages", /non-empty array/);
        await expectError(beta.chat.completions.create({ model: modelName, messages: [{ role: "user", content: "x".repeat(5 * MB) }] }), 413, null, /larger than this API accepts/);
        await expectError(beta.chat.completions.create({ model: "gpt-4o", messages }), 404, "model", /The model 'gpt-4o' does not exist here: this cluster runs 'hosted.gguf'/);
        // A prompt longer than the context: 400, said so.
        await expectError(beta.completions.create({ model: modelName, prompt: "word ".repeat(400), max_tokens: 4 }), 400, "prompt", /the context holds 256/);
        // The exact shape, and statuses for what is not JSON or not a route.
        const raw = await fetch(`http://127.0.0.1:${betaPort}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ messages, n: 3 }) });
        assert.equal(raw.status, 400);
        assert.deepEqual(await raw.json(), { error: { message: "n must be 1: Hearth makes one choice per request (got 3); send the request several times instead", type: "invalid_request_error", param: "n", code: null } });
        const notJson = await fetch(`http://127.0.0.1:${betaPort}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{nope" });
        assert.equal(notJson.status, 400);
        assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, "invalid_json");
        const form = await fetch(`http://127.0.0.1:${betaPort}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "{}" });
        assert.equal(form.status, 415);
        assert.equal((await fetch(`http://127.0.0.1:${betaPort}/v1/embeddings`, { method: "POST", body: "{}" })).status, 404);
        assert.equal((await fetch(`http://127.0.0.1:${betaPort}/v1/chat/completions`)).status, 405);
        // The server is still fine after all that.
        const ok = await beta.chat.completions.create({ model: modelName, messages, max_tokens: 4, temperature: 0 });
        assert.equal(ok.choices[0]!.message.content, (await engineChat(messages, 4)).text);
    });

    test("a node serving the API stops cleanly (SIGTERM) while a stream is open; the stream ends", { timeout: 60000 }, async () => {
        const stream = await alpha.chat.completions.create({ model: modelName, messages: [{ role: "user", content: "Tell me a long story." }], max_tokens: 200, temperature: 0, stream: true });
        let chunks = 0, finished = false, failure = "";
        const reading = (async () => {
            try {
                for await (const chunk of stream) { chunks++; if (chunk.choices[0]?.finish_reason != null) finished = true; }
            } catch (e) { failure = String(e); }
        })();
        await until("the stream has begun", async () => chunks >= 3, 20000);
        const stopped = await terminateNode(node("alpha"));
        assert.equal(stopped.code, 0, node("alpha").log.join(""));
        assert.ok(stopped.ms < 10000, `stopped in ${Math.round(stopped.ms)} ms`);
        await reading;
        assert.ok(!finished, "the reply did not run to its end");
        console.log(`# the host serving the API stopped in ${Math.round(stopped.ms)} ms with a stream open (the client saw: ${failure || "the stream end"})`);
    });
});
