// `hearth` command line: make-model, slice, generate.
import path from "node:path";
import { parseArgs } from "node:util";
import { makeModel, MODEL_TYPES, type ModelType, type TestArchitecture } from "./model/make-model.ts";
import { defaultDataDir, ensureStageFiles } from "./model/stage-cache.ts";
import { Tokenizer } from "./model/tokenizer.ts";
import { chatPrompt, cutAtStop, type ChatMessage } from "./model/chat.ts";
import { TEST_VOCABULARIES, type TestVocabulary } from "./native/vendor.ts";
import { LocalPipeline } from "./pipeline/local-pipeline.ts";
import { readGgufHeader } from "./gguf/reader.ts";
import { checkArchitectureSupported } from "./stage/architectures.ts";
import { modelLayerCount, parseLayerRanges, sliceStage } from "./stage/slice.ts";
import type { SamplerParams } from "./stage/runtime.ts";
import { formatBytes } from "./util/format.ts";
import { kvString } from "./gguf/format.ts";
import os from "node:os";
import { loadOrCreateClusterKey, parseClusterKey } from "./net/auth.ts";
import { NodeServer } from "./net/node-server.ts";
import { RemotePipeline, type GenerationStats } from "./net/remote-pipeline.ts";

const HELP = `hearth — one LLM across the computers in your home

Usage:
  hearth node [--port 7420] [--name NAME] [--host 0.0.0.0] [--data-dir DIR] [--cluster-key HEX] [--memory-limit BYTES]
      Runs a headless node that hosts pipeline stages for the cluster.
  hearth generate --model FILE --peers HOST:PORT,HOST:PORT,... [--layers auto|0-3,3-8] --prompt TEXT [--cluster-key HEX]
                  [--activations f32|f16] [--max-sequences N] …the options below
      Runs a generation through those nodes (the model file is needed only here).
  hearth generate --model FILE --prompt TEXT [--max-tokens N] [--split 0-3,3-8] [--greedy] [--json]
                  [--chat [--system TEXT]] [--stop TEXT]
                  [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]
                  [--threads N] [--context-size N] [--gpu-layers N] [--data-dir DIR]
      Runs the model as a pipeline of stages (one per --split range) in this process.
  hearth slice --model FILE --layers A-B --out FILE
      Writes the stage file of layers [A, B) of a model.
  hearth make-model --out FILE [--arch llama|qwen2|qwen3] [--vocab llama-spm|llama-bpe|qwen2]
                    [--layers N] [--embd N] [--heads N] [--kv-heads N] [--ff N]
                    [--type f32|f16|q8_0|q4_0] [--tied] [--seed N]
      Writes a small model with random weights and a real tokenizer (for tests and benchmarks).
`;

class UsageError extends Error {}

function progressPrinter(enabled: boolean) {
    let lastLine = "";
    return (p: { phase: string; bytesDone: number; bytesTotal: number }) => {
        if (!enabled) return;
        const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
        const line = `${p.phase} ${pct}% (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)})`;
        if (line !== lastLine) { process.stderr.write(`\r${line}   `); lastLine = line; }
        if (p.bytesDone >= p.bytesTotal) { process.stderr.write("\n"); lastLine = ""; }
    };
}

function int(v: string | undefined, name: string, fallback: number): number {
    if (v == null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer (got '${v}')`);
    return n;
}
function num(v: string | undefined, name: string): number | undefined {
    if (v == null) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${v}')`);
    return n;
}

async function cmdMakeModel(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        out: { type: "string" }, arch: { type: "string", default: "llama" }, vocab: { type: "string", default: "llama-spm" },
        layers: { type: "string" }, embd: { type: "string" }, heads: { type: "string" }, "kv-heads": { type: "string" },
        ff: { type: "string" }, type: { type: "string", default: "f32" }, tied: { type: "boolean", default: false },
        seed: { type: "string" }, quiet: { type: "boolean", default: false }
    } });
    if (values.out == null) throw new UsageError("make-model needs --out FILE");
    if (!["llama", "qwen2", "qwen3"].includes(values.arch)) throw new UsageError("--arch must be llama, qwen2 or qwen3");
    if (!(TEST_VOCABULARIES as readonly string[]).includes(values.vocab)) throw new UsageError(`--vocab must be one of ${TEST_VOCABULARIES.join(", ")}`);
    if (!(values.type in MODEL_TYPES)) throw new UsageError(`--type must be one of ${Object.keys(MODEL_TYPES).join(", ")}`);
    const heads = int(values.heads, "heads", 4);
    const res = await makeModel({
        arch: values.arch as TestArchitecture, vocab: values.vocab as TestVocabulary,
        layers: int(values.layers, "layers", 4), embd: int(values.embd, "embd", 128), heads,
        kvHeads: int(values["kv-heads"], "kv-heads", heads), ff: int(values.ff, "ff", 256),
        type: values.type as ModelType, tied: values.tied, seed: int(values.seed, "seed", 1), out: values.out,
        onProgress: progressPrinter(!values.quiet)
    });
    console.log(`wrote ${res.path} (${formatBytes(res.bytes)}, vocabulary of ${res.nVocab} tokens)`);
}

async function cmdSlice(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        model: { type: "string" }, layers: { type: "string" }, out: { type: "string" }, quiet: { type: "boolean", default: false }
    } });
    if (values.model == null || values.layers == null || values.out == null) throw new UsageError("slice needs --model FILE --layers A-B --out FILE");
    const m = /^(\d+)-(\d+)$/.exec(values.layers);
    if (m == null) throw new UsageError("--layers must look like 0-4 (start inclusive, end exclusive)");
    const info = await sliceStage(values.model, { start: Number(m[1]), end: Number(m[2]) }, values.out, { onProgress: progressPrinter(!values.quiet) });
    console.log(`wrote ${info.path}: layers ${info.range.start}-${info.range.end} of ${info.totalLayers} (${formatBytes(info.bytes)})`);
}

async function cmdGenerate(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        model: { type: "string" }, prompt: { type: "string" }, "max-tokens": { type: "string" }, split: { type: "string" },
        greedy: { type: "boolean", default: false }, json: { type: "boolean", default: false },
        temperature: { type: "string" }, "top-k": { type: "string" }, "top-p": { type: "string" }, "min-p": { type: "string" },
        "repeat-penalty": { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
        "context-size": { type: "string" }, "batch-size": { type: "string" }, "gpu-layers": { type: "string" },
        "flash-attention": { type: "string", default: "auto" }, "data-dir": { type: "string" },
        peers: { type: "string" }, layers: { type: "string" }, "cluster-key": { type: "string" },
        activations: { type: "string", default: "f32" }, "max-sequences": { type: "string" },
        chat: { type: "boolean", default: false }, system: { type: "string" }, stop: { type: "string" }
    } });
    if (values.model == null || values.prompt == null) throw new UsageError("generate needs --model FILE and --prompt TEXT");
    const modelPath = path.resolve(values.model);
    const header = readGgufHeader(modelPath);
    const totalLayers = modelLayerCount(header, modelPath);
    const ranges = values.split == null ? [{ start: 0, end: totalLayers }] : parseLayerRanges(values.split, totalLayers);
    if (ranges.length > 1) checkArchitectureSupported(kvString(header, "general.architecture"), modelPath);
    const sampler: SamplerParams = values.greedy ? { temperature: 0 } : {
        temperature: num(values.temperature, "temperature") ?? 0.8, topK: int(values["top-k"], "top-k", 40),
        topP: num(values["top-p"], "top-p") ?? 0.95, minP: num(values["min-p"], "min-p") ?? 0.05,
        repeatPenalty: num(values["repeat-penalty"], "repeat-penalty") ?? 1.1, seed: int(values.seed, "seed", Date.now() % 2 ** 31)
    };
    const fa = values["flash-attention"];
    const loadOptions = {
        threads: int(values.threads, "threads", 0), contextSize: int(values["context-size"], "context-size", 4096),
        batchSize: int(values["batch-size"], "batch-size", 512), gpuLayers: int(values["gpu-layers"], "gpu-layers", 0),
        flashAttention: fa === "auto" ? "auto" as const : fa === "on" || fa === "true"
    };
    const dataDir = values["data-dir"] ?? defaultDataDir();
    if (values.peers != null) return generateRemote(values, modelPath, totalLayers, sampler, loadOptions, dataDir);
    const files = ranges.length === 1 ? [modelPath]
        : (await ensureStageFiles(modelPath, ranges, dataDir, progressPrinter(!values.json))).map((s) => s.path);

    const tokenizer = await Tokenizer.load(modelPath);
    const pipeline = await LocalPipeline.load(files, loadOptions);
    let result: Awaited<ReturnType<typeof runGeneration>>;
    try {
        result = await runGeneration(values, tokenizer, sampler, values.json, (o) => pipeline.generate(o));
    } finally {
        await pipeline.dispose();
        await tokenizer.dispose();
    }
    const { prompt, tokens, text } = result;
    const promptTokens = prompt.tokens;
    const stats = pipeline.lastStats!;
    if (values.json) {
        console.log(JSON.stringify({
            mode: prompt.mode, promptTokens, tokens, text,
            stages: ranges.map((r, i) => ({ layers: [r.start, r.end], computeMs: stats.stageComputeMs[i] })),
            timings: { timeToFirstTokenMs: stats.timeToFirstTokenMs, decodeTokensPerSecond: stats.decodeTokensPerSecond }
        }));
    } else {
        process.stdout.write("\n");
        process.stderr.write(`[${stats.generatedTokens} tokens, ${stats.decodeTokensPerSecond.toFixed(1)} tokens/s, first token after ${stats.timeToFirstTokenMs.toFixed(0)} ms, ${ranges.length} stage(s)]\n`);
    }
}

interface PromptSpec { tokens: number[]; stopStrings: string[]; stopTokens: number[]; mode: "chat" | "completion"; template?: string }

function buildPrompt(values: Record<string, string | boolean | undefined>, tokenizer: Tokenizer): PromptSpec {
    const stops = typeof values.stop === "string" ? [values.stop] : [];
    if (values.chat === true) {
        const messages: ChatMessage[] = [];
        if (typeof values.system === "string") messages.push({ role: "system", content: values.system });
        messages.push({ role: "user", content: String(values.prompt) });
        const c = chatPrompt(tokenizer, messages);
        return { tokens: c.tokens, stopStrings: [...c.stopStrings, ...stops], stopTokens: c.stopTokens, mode: "chat", template: c.template };
    }
    return { tokens: tokenizer.encode(String(values.prompt)), stopStrings: stops, stopTokens: [], mode: "completion" };
}

/** Streams generated text to stdout (unless json), ending at a stop string; returns tokens and text. */
async function consume(gen: AsyncGenerator<number>, tokenizer: Tokenizer, prompt: PromptSpec, json: boolean) {
    const tokens: number[] = [];
    const holdBack = Math.max(0, ...prompt.stopStrings.map((s) => s.length - 1));
    let printed = 0;
    let text = "";
    for await (const t of gen) {
        tokens.push(t);
        text = tokenizer.decode(tokens);
        const cut = cutAtStop(text, prompt.stopStrings);
        if (cut != null) { text = cut; break; }
        let complete = text.length;
        while (complete > 0 && text[complete - 1] === "\uFFFD") complete--; // an unfinished UTF-8 character
        const safe = complete - holdBack;
        if (!json && safe > printed) { process.stdout.write(text.slice(printed, safe)); printed = safe; }
    }
    text = cutAtStop(tokenizer.decode(tokens), prompt.stopStrings) ?? tokenizer.decode(tokens);
    if (!json && text.length > printed) process.stdout.write(text.slice(printed));
    return { tokens, text };
}

interface GenerationRequest {
    promptTokens: number[]; maxTokens: number; sampler: SamplerParams; isStop: (token: number) => boolean; signal: AbortSignal;
}

/** Builds the prompt (chat or completion), runs the generation, streams it; Ctrl-C cancels. */
async function runGeneration(values: Record<string, string | boolean | undefined>, tokenizer: Tokenizer, sampler: SamplerParams, json: boolean,
    generate: (request: GenerationRequest) => AsyncGenerator<number>) {
    const prompt = buildPrompt(values, tokenizer);
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    const { tokens, text } = await consume(generate({
        promptTokens: prompt.tokens, maxTokens: int(values["max-tokens"] as string | undefined, "max-tokens", 128), sampler,
        isStop: (tok) => tokenizer.isEndOfGeneration(tok) || prompt.stopTokens.includes(tok), signal: controller.signal
    }), tokenizer, prompt, json);
    return { prompt, tokens, text };
}

async function generateRemote(values: Record<string, string | boolean | undefined>, modelPath: string, totalLayers: number,
    sampler: SamplerParams, load: { threads: number; contextSize: number; batchSize: number; gpuLayers: number; flashAttention: boolean | "auto" }, dataDir: string) {
    const peers = String(values.peers).split(",").map((p) => p.trim()).filter((p) => p !== "");
    const layersText = typeof values.layers === "string" ? values.layers : "auto";
    const layers = layersText === "auto" ? "auto" as const : parseLayerRanges(layersText, totalLayers);
    const dtype = values.activations === "f16" ? "f16" as const : values.activations === "f32" ? "f32" as const : null;
    if (dtype == null) throw new UsageError("--activations must be f32 or f16");
    const json = values.json === true;
    const keyText = typeof values["cluster-key"] === "string" ? values["cluster-key"] : process.env.HEARTH_CLUSTER_KEY;
    const clusterKey = keyText != null ? parseClusterKey(keyText) : loadOrCreateClusterKey(dataDir);
    const pipeline = await RemotePipeline.connect({
        modelPath, peers, layers, clusterKey, dataDir, dtype, name: os.hostname(), onProgress: progressPrinter(!json),
        stage: { contextSize: load.contextSize, batchSize: load.batchSize, threads: load.threads, gpuLayers: load.gpuLayers,
            flashAttention: load.flashAttention === true, maxSequences: int(values["max-sequences"] as string | undefined, "max-sequences", 4) }
    });
    const tokenizer = await Tokenizer.load(modelPath);
    let stats: GenerationStats | null = null;
    let result: Awaited<ReturnType<typeof runGeneration>>;
    try {
        result = await runGeneration(values, tokenizer, sampler, json, (o) => pipeline.generate({ ...o, onStats: (st) => { stats = st; } }));
    } finally {
        await pipeline.close();
        await tokenizer.dispose();
    }
    const { prompt, tokens, text } = result;
    const promptTokens = prompt.tokens;
    const s = stats as GenerationStats | null;
    if (json) {
        console.log(JSON.stringify({
            mode: prompt.mode, promptTokens, tokens, text,
            stages: pipeline.stages.map((st, i) => ({ node: st.node, address: st.address, layers: [st.range.start, st.range.end], bytesUploaded: st.bytesUploaded, computeMs: s?.stageComputeMs[i] })),
            timings: s == null ? null : { timeToFirstTokenMs: s.timeToFirstTokenMs, decodeTokensPerSecond: s.decodeTokensPerSecond, overheadMsPerToken: s.overheadMsPerToken }
        }));
    } else {
        process.stdout.write("\n");
        if (s != null) process.stderr.write(`[${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tokens/s through ${pipeline.stages.map((st) => `${st.node} ${st.range.start}-${st.range.end}`).join(" → ")}]\n`);
    }
}

async function cmdNode(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        port: { type: "string", default: "7420" }, name: { type: "string" }, host: { type: "string", default: "0.0.0.0" },
        "data-dir": { type: "string" }, "cluster-key": { type: "string" }, "memory-limit": { type: "string" }
    } });
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const keyText = values["cluster-key"] ?? process.env.HEARTH_CLUSTER_KEY;
    const clusterKey = keyText != null ? parseClusterKey(keyText) : loadOrCreateClusterKey(dataDir);
    const node = await NodeServer.start({
        name: values.name ?? os.hostname(), host: values.host, port: int(values.port, "port", 7420), dataDir, clusterKey,
        ...(values["memory-limit"] != null ? { memoryLimitBytes: int(values["memory-limit"], "memory-limit", 0) } : {}),
        log: (line) => process.stderr.write(`${line}\n`)
    });
    console.log(`hearth node '${values.name ?? os.hostname()}' listening on ${values.host}:${node.port}`);
    if (keyText == null) console.log(`cluster key (give it to the other machines): ${clusterKey.toString("hex")}`);
    await new Promise<void>((resolve) => {
        const stop = () => { void node.stop().then(resolve); };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
    });
}

export async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    try {
        switch (command) {
            case "generate": await cmdGenerate(rest); return 0;
            case "node": await cmdNode(rest); return 0;
            case "slice": await cmdSlice(rest); return 0;
            case "make-model": await cmdMakeModel(rest); return 0;
            case undefined: case "help": case "--help": case "-h": process.stdout.write(HELP); return 0;
            default: throw new UsageError(`unknown command '${command}'`);
        }
    } catch (e) {
        if (e instanceof UsageError || (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
            process.stderr.write(`hearth: ${(e as Error).message}\n\n${HELP}`);
            return 2;
        }
        process.stderr.write(`hearth: ${(e as Error).message}\n`);
        if (process.env.HEARTH_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
        return 1;
    }
}

process.exitCode = await main(process.argv.slice(2));
