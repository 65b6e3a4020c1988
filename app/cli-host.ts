// The cluster's model from the command line: `hearth load` makes this machine's node its host,
// `hearth chat` talks to it from any member (through the member's own node).
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { defaultDataDir } from "./model/stage-cache.ts";
import { grpcMessage, type NodeClient } from "./protocol/node-client.ts";
import type { ChatEvent__Output, ChatResult__Output, HostEvent__Output } from "./protocol/proto.ts";
import { formatBytes } from "./util/format.ts";
import { requireCluster, requireLocalNode } from "./cli-cluster.ts";

export class HostUsageError extends Error {}

function localNode(dataDir: string): NodeClient {
    return requireLocalNode(dataDir, requireCluster(dataDir));
}

function positiveInt(v: string | undefined, name: string): number {
    if (v == null) return 0;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new HostUsageError(`--${name} must be a positive integer (got '${v}')`);
    return n;
}

export async function cmdLoad(argv: string[]): Promise<void> {
    const { values } = parseArgs({ args: argv, options: {
        model: { type: "string" }, "data-dir": { type: "string" }, "context-size": { type: "string" }, "max-sequences": { type: "string" },
        layers: { type: "string", default: "auto" }, activations: { type: "string", default: "f32" }, json: { type: "boolean", default: false }
    } });
    if (values.model == null) throw new HostUsageError("load needs --model FILE (a GGUF on this machine)");
    if (values.activations !== "f32" && values.activations !== "f16") throw new HostUsageError("--activations must be f32 or f16");
    const request = {
        modelPath: path.resolve(values.model), contextSize: positiveInt(values["context-size"], "context-size"), maxSequences: positiveInt(values["max-sequences"], "max-sequences"),
        layers: values.layers, activations: values.activations === "f16" ? "F16" as const : "F32" as const
    };
    const client = localNode(values["data-dir"] ?? defaultDataDir());
    try {
        const ready = await new Promise<HostEvent__Output>((resolve, reject) => {
            const call = client.raw.loadModel(request, new grpc.Metadata());
            let last: HostEvent__Output | null = null;
            let shown = "";
            call.on("data", (e: HostEvent__Output) => {
                last = e;
                if (values.json || e.phase === "ready") return;
                const line = e.bytesTotal > 0 ? `${e.message} ${Math.floor((100 * e.bytesDone) / e.bytesTotal)}% (${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)})` : e.message;
                if (line !== shown) { process.stderr.write(`${line}\n`); shown = line; }
            });
            call.on("error", (e: grpc.ServiceError) => reject(new Error(grpcMessage(e))));
            call.on("end", () => (last?.phase === "ready" ? resolve(last) : reject(new Error("the node ended the load without the model ready"))));
        });
        const m = ready.model!;
        if (values.json) { process.stdout.write(JSON.stringify(m) + "\n"); return; }
        process.stdout.write(`${m.name} is ready on the cluster (plan ${m.planVersion}):\n` +
            m.stages.map((s) => `  layers ${s.layerStart}-${s.layerEnd} on ${s.name} (${formatBytes(s.memoryBytes)})`).join("\n") + "\n" +
            "chat with it from any member: hearth chat\n");
    } finally {
        client.close();
    }
}

interface ChatOutcome { result: ChatResult__Output; text: string }

function chatOnce(client: NodeClient, messages: Array<{ role: string; content: string }>, options: { maxTokens: number; sampler: Record<string, number>; print: boolean }, signal: AbortSignal): Promise<ChatOutcome> {
    return new Promise((resolve, reject) => {
        const call = client.raw.chat({ messages, maxTokens: options.maxTokens, sampler: options.sampler }, new grpc.Metadata());
        const onAbort = () => call.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
        let text = "";
        let result: ChatResult__Output | null = null;
        call.on("data", (e: ChatEvent__Output) => {
            if (e.delta != null) { text += e.delta.text; if (options.print) process.stdout.write(e.delta.text); }
            if (e.result != null) result = e.result;
        });
        call.on("error", (e: grpc.ServiceError) => {
            signal.removeEventListener("abort", onAbort);
            reject(e.code === grpc.status.CANCELLED && signal.aborted ? signal.reason : new Error(grpcMessage(e)));
        });
        call.on("end", () => {
            signal.removeEventListener("abort", onAbort);
            if (result == null) reject(new Error("the chat ended without a result")); else resolve({ result, text });
        });
    });
}

export async function cmdChat(argv: string[], signal: AbortSignal): Promise<void> {
    const { values } = parseArgs({ args: argv, options: {
        "data-dir": { type: "string" }, prompt: { type: "string" }, system: { type: "string" }, "max-tokens": { type: "string" },
        greedy: { type: "boolean", default: false }, temperature: { type: "string" }, seed: { type: "string" }, json: { type: "boolean", default: false }
    } });
    const temperature = values.greedy ? 0 : values.temperature != null ? Number(values.temperature) : 0.8;
    if (!Number.isFinite(temperature) || temperature < 0) throw new HostUsageError("--temperature must be a number of at least 0");
    const sampler: Record<string, number> = { temperature, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 64, frequencyPenalty: 0, presencePenalty: 0, seed: positiveInt(values.seed, "seed") };
    const maxTokens = positiveInt(values["max-tokens"], "max-tokens") || 256;
    const client = localNode(values["data-dir"] ?? defaultDataDir());
    const history: Array<{ role: string; content: string }> = values.system != null ? [{ role: "system", content: values.system }] : [];
    try {
        if (values.prompt != null) {
            history.push({ role: "user", content: values.prompt });
            const { result, text } = await chatOnce(client, history, { maxTokens, sampler, print: !values.json }, signal);
            if (values.json) process.stdout.write(JSON.stringify({ ...result, text }) + "\n");
            else process.stderr.write(`\n[${result.tokens.length} tokens, ${result.decodeTokensPerSecond.toFixed(1)} tokens/s, first after ${result.timeToFirstTokenMs.toFixed(0)} ms, host ${result.hostName}, stopped: ${result.stopReason}]\n`);
            return;
        }
        // No --prompt: each line is a turn of one conversation, until the input ends.
        const lines = readline.createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
        if (process.stdin.isTTY) process.stderr.write("type a message and press Enter (Ctrl-D to end)\n> ");
        for await (const line of lines) {
            if (line.trim() === "") continue;
            history.push({ role: "user", content: line });
            const { result, text } = await chatOnce(client, history, { maxTokens, sampler, print: !values.json }, signal);
            history.push({ role: "assistant", content: text });
            if (values.json) process.stdout.write(JSON.stringify({ ...result, text }) + "\n");
            else process.stdout.write(process.stdin.isTTY ? "\n> " : "\n");
        }
    } finally {
        client.close();
    }
}
