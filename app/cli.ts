// `hearth` command line: node, generate, slice, make-model. `main(argv)` runs a command; nothing
// runs at import time (bin/hearth.mjs calls main).
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { makeModel, MODEL_TYPES, TEST_ARCHITECTURES, type ModelType, type TestArchitecture } from "./model/make-model.ts";
import { defaultDataDir, ensureStageFiles } from "./model/stage-cache.ts";
import { Tokenizer } from "./model/tokenizer.ts";
import { chatPrompt, type ChatMessage } from "./model/chat.ts";
import { TEST_VOCABULARIES, type TestVocabulary } from "./native/vendor.ts";
import { readGgufHeader } from "./gguf/reader.ts";
import { kvString } from "./gguf/format.ts";
import { checkArchitectureSupported } from "./stage/architectures.ts";
import { modelLayerCount, parseLayerRanges, sliceStage } from "./stage/slice.ts";
import type { SamplerParams } from "./stage/sampler.ts";
import type { StageOptions } from "./stage/options.ts";
import { formatBytes } from "./util/format.ts";
import { LocalPipeline } from "./engine/local-pipeline.ts";
import { generate, type GenerationResult } from "./engine/generate.ts";
import type { Pipeline } from "./engine/pipeline.ts";
import { HearthNode } from "./node/node.ts";
import { createNodeCluster, loadNodeCluster } from "./cluster/node-cluster.ts";
import { removeLocalNodeRecord, writeLocalNodeRecord } from "./cluster/local-node.ts";
import { formatHostPort } from "./cluster/host-port.ts";
import { HostUsageError, cmdChat, cmdLoad } from "./cli-host.ts";
import { PLAN_HELP, PlanUsageError, cmdPlan } from "./cli-plan.ts";
import { PlanDoesNotFitError } from "./placement/no-fit.ts";
import { ClusterUsageError, cmdInvite, cmdJoin, cmdLeave, cmdPeers, cmdRemove, requireCluster } from "./cli-cluster.ts";
import { joinCluster } from "./cluster/join-cluster.ts";
import { DEFAULT_WEB_PORT, runWebNode } from "./cli-web.ts";
import { connectPipeline } from "./coordinator/connect.ts";
import type { RemotePipeline } from "./coordinator/remote-pipeline.ts";
import { OPENAI_API_DEFAULTS, OpenAiServer, checkApiBinding } from "./openai/openai-server.ts";

const HELP = `hearth — one LLM across the computers in your home

Usage:
  hearth node [--port 7420] [--name NAME] [--host 0.0.0.0] [--data-dir DIR] [--memory-limit BYTES] [--gpu-memory-limit BYTES] [--lease-ms MS]
              [--create-cluster | --join CODE [--peer HOST:PORT]] [--no-discovery] [--no-speed-test] [--web [PORT] [--web-host 127.0.0.1] [--max-reply-tokens 1024]]
              [--api [PORT] [--api-host 127.0.0.1] [--api-key KEY]]
      Runs a headless node that hosts pipeline stages for its cluster. On the first start it
      creates a new cluster (or joins one with --join CODE). With --web it serves the app's UI
      in a browser (port 7421 by default, on 127.0.0.1; another --web-host needs the login token
      it prints), and a machine in no cluster waits there for Create cluster or Join cluster.
      With --api it serves an OpenAI-compatible API for the cluster's model at http://HOST:PORT/v1
      (port 7422 by default, on 127.0.0.1; /v1/chat/completions, /v1/completions, /v1/models);
      another --api-host needs a key (--api-key KEY or $HEARTH_API_KEY), which clients send as theirs.
  hearth invite [--json]          Makes a join code for one more machine (on any member whose node runs; the
                                  machine that created the cluster signs, so it must be on).
  hearth join CODE [--peer HOST:PORT] [--name NAME]
                                  Joins a cluster with a code; the machine that made it is found on the LAN, or at --peer.
  hearth peers [--json] [--add HOST:PORT]
                                  Lists the machines of the cluster and the others on the LAN; --add one where multicast is blocked.
  hearth remove NAME              Removes a member: it is refused from then on.
  hearth load --model FILE [--context-size N] [--max-sequences N] [--layers auto|0-3,3-8]
                                  Makes this machine host the cluster's model: placed over the members, kept ready.
  hearth chat [--prompt TEXT] [--system TEXT] [--max-tokens N] [--greedy] [--json]
                                  Chats with the cluster's model from any member (without --prompt: one turn per line).
  hearth leave                    Leaves the cluster (the members refuse this machine from then on).
  hearth generate --model FILE --peers HOST:PORT,HOST:PORT,... [--layers auto|0-3,3-8] --prompt TEXT
                  [--activations f32|f16] [--max-sequences N] …the options below
      Runs a generation through those nodes (the model file is needed only here).
  hearth generate --model FILE --prompt TEXT [--max-tokens N] [--split 0-3,3-8] [--greedy] [--json]
                  [--chat [--system TEXT]] [--stop TEXT]
                  [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]
                  [--threads N] [--context-size N] [--batch-size N] [--gpu-layers N] [--flash-attention auto|on|off] [--data-dir DIR]
      Runs the model as a pipeline of stages (one per --split range) in this process.
  hearth slice --model FILE --layers A-B --out FILE
      Writes the stage file of layers [A, B) of a model.
  hearth make-model --out FILE [--arch llama|qwen2|qwen3|qwen3moe|phi3|mistral3|gemma2|gemma3|gpt-oss|qwen2moe|olmoe]
                    [--vocab llama-spm|llama-bpe|qwen2|phi-3|gpt-2]
                    [--layers N] [--embd N] [--heads N] [--kv-heads N] [--ff N]
                    [--experts N] [--experts-used N] [--expert-ff N] [--shared-expert-ff N] [--sliding-window N] [--swa-pattern N]
                    [--type f32|f16|bf16|q8_0|q6_k|q5_k_m|q4_k_m|q4_0|q3_k_m|q2_k|iq4_xs|iq4_nl|mxfp4_moe|…] [--tied] [--seed N]
      Writes a small model with random weights and a real tokenizer (for tests and benchmarks).
${PLAN_HELP}
Ctrl-C stops any command and frees what it holds on every node; a second Ctrl-C quits at once.
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
/** The given ones of these options as integers (named by their --flag in errors). */
function optionalInts<K extends string>(v: Record<K, string | undefined>): Partial<Record<K, number>> {
    const out: Partial<Record<K, number>> = {};
    for (const [key, value] of Object.entries(v) as Array<[K, string | undefined]>)
        if (value != null) out[key] = int(value, key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), 0);
    return out;
}
function minutes(v: string, name: string): number {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) throw new UsageError(`--${name} must be a number of minutes above 0 and at most a day (got '${v}')`);
    return n;
}
function optInt(v: string | undefined, name: string): number | undefined {
    return v == null ? undefined : int(v, name, 0);
}
function num(v: string | undefined, name: string): number | undefined {
    if (v == null) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${v}')`);
    return n;
}

/** One AbortController for the command: the first Ctrl-C aborts it (everything is released), a second one quits. */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
    const controller = new AbortController();
    let count = 0;
    const onInt = () => {
        if (++count > 1) process.exit(130);
        process.stderr.write("\nstopping (Ctrl-C again to quit at once) …\n");
        controller.abort(new DOMException("interrupted", "AbortError"));
    };
    process.on("SIGINT", onInt);
    return { signal: controller.signal, dispose: () => process.off("SIGINT", onInt) };
}

async function cmdMakeModel(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        out: { type: "string" }, arch: { type: "string", default: "llama" }, vocab: { type: "string", default: "llama-spm" },
        layers: { type: "string" }, embd: { type: "string" }, heads: { type: "string" }, "kv-heads": { type: "string" },
        ff: { type: "string" }, type: { type: "string", default: "f32" }, tied: { type: "boolean", default: false },
        seed: { type: "string" }, quiet: { type: "boolean", default: false },
        experts: { type: "string" }, "experts-used": { type: "string" }, "expert-ff": { type: "string" },
        "shared-expert-ff": { type: "string" }, "sliding-window": { type: "string" }, "swa-pattern": { type: "string" }
    } });
    if (values.out == null) throw new UsageError("make-model needs --out FILE");
    if (!(TEST_ARCHITECTURES as readonly string[]).includes(values.arch)) throw new UsageError(`--arch must be one of ${TEST_ARCHITECTURES.join(", ")}`);
    if (!(TEST_VOCABULARIES as readonly string[]).includes(values.vocab)) throw new UsageError(`--vocab must be one of ${TEST_VOCABULARIES.join(", ")}`);
    if (!(values.type in MODEL_TYPES)) throw new UsageError(`--type must be one of ${Object.keys(MODEL_TYPES).join(", ")}`);
    const heads = int(values.heads, "heads", 4);
    const res = await makeModel({
        arch: values.arch as TestArchitecture, vocab: values.vocab as TestVocabulary,
        layers: int(values.layers, "layers", 4), embd: int(values.embd, "embd", 128), heads,
        kvHeads: int(values["kv-heads"], "kv-heads", heads), ff: int(values.ff, "ff", 256),
        type: values.type as ModelType, tied: values.tied, seed: int(values.seed, "seed", 1), out: values.out,
        ...optionalInts({ experts: values.experts, expertsUsed: values["experts-used"], expertFf: values["expert-ff"],
            sharedExpertFf: values["shared-expert-ff"], slidingWindow: values["sliding-window"], swaPattern: values["swa-pattern"] }),
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
    const stop = interruptible();
    try {
        const info = await sliceStage(values.model, { start: Number(m[1]), end: Number(m[2]) }, values.out, { onProgress: progressPrinter(!values.quiet), signal: stop.signal });
        console.log(`wrote ${info.path}: layers ${info.range.start}-${info.range.end} of ${info.totalLayers} (${formatBytes(info.bytes)})`);
    } finally {
        stop.dispose();
    }
}

type Values = Record<string, string | boolean | undefined>;

interface PromptSpec { tokens: number[]; stopStrings: string[]; stopTokens: number[]; mode: "chat" | "completion"; template?: string }

function buildPrompt(values: Values, tokenizer: Tokenizer): PromptSpec {
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

/** The one generation path of the CLI, for any pipeline: streams text to stdout (unless --json). */
async function runGeneration(values: Values, pipeline: Pipeline, tokenizer: Tokenizer, sampler: SamplerParams, signal: AbortSignal) {
    const prompt = buildPrompt(values, tokenizer);
    const json = values.json === true;
    const generation = generate(pipeline, {
        promptTokens: prompt.tokens, maxTokens: int(values["max-tokens"] as string | undefined, "max-tokens", 128), sampler,
        stopStrings: prompt.stopStrings, stopTokens: prompt.stopTokens, signal
    }, { detokenizer: tokenizer, isEndOfGeneration: (t) => tokenizer.isEndOfGeneration(t) });
    for await (const e of generation) {
        if (json) continue;
        if (e.type === "token" || e.type === "text") process.stdout.write(e.text);
    }
    const result = await generation.result;
    if (result.stopReason === "failed") throw result.error!;
    if (result.stopReason === "aborted") throw signal.reason;
    return { prompt, result };
}

function samplerFrom(values: Values): SamplerParams {
    if (values.greedy === true) return { temperature: 0 };
    const seed = optInt(values.seed as string | undefined, "seed");
    return {
        temperature: num(values.temperature as string | undefined, "temperature") ?? 0.8, topK: int(values["top-k"] as string | undefined, "top-k", 40),
        topP: num(values["top-p"] as string | undefined, "top-p") ?? 0.95, minP: num(values["min-p"] as string | undefined, "min-p") ?? 0.05,
        repeatPenalty: num(values["repeat-penalty"] as string | undefined, "repeat-penalty") ?? 1.1, ...(seed != null ? { seed } : {})
    };
}

function stageOptionsFrom(values: Values): Partial<StageOptions> {
    const fa = values["flash-attention"];
    if (fa != null && fa !== "auto" && fa !== "on" && fa !== "off") throw new UsageError("--flash-attention must be auto, on or off");
    const out: Partial<StageOptions> = {};
    const set = <K extends keyof StageOptions>(k: K, v: StageOptions[K] | undefined) => { if (v !== undefined) out[k] = v; };
    set("threads", optInt(values.threads as string | undefined, "threads"));
    set("contextSize", optInt(values["context-size"] as string | undefined, "context-size"));
    set("batchSize", optInt(values["batch-size"] as string | undefined, "batch-size"));
    set("gpuLayers", optInt(values["gpu-layers"] as string | undefined, "gpu-layers"));
    set("maxSequences", optInt(values["max-sequences"] as string | undefined, "max-sequences"));
    set("flashAttention", fa as StageOptions["flashAttention"] | undefined);
    return out;
}

function report(values: Values, prompt: PromptSpec, result: GenerationResult, stages: Array<Record<string, unknown>>) {
    const s = result.stats;
    if (values.json === true) {
        console.log(JSON.stringify({
            mode: prompt.mode, promptTokens: prompt.tokens, tokens: result.tokens, text: result.text, stopReason: result.stopReason,
            stages: stages.map((st, i) => ({ ...st, computeMs: s.stageComputeMs[i] })),
            timings: { timeToFirstTokenMs: s.timeToFirstTokenMs, prefillTokensPerSecond: s.prefillTokensPerSecond, decodeTokensPerSecond: s.decodeTokensPerSecond, overheadMsPerToken: s.overheadMsPerToken }
        }));
    } else {
        process.stdout.write("\n");
        process.stderr.write(`[${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tokens/s, first token after ${s.timeToFirstTokenMs.toFixed(0)} ms, ${stages.length} stage(s), stopped: ${result.stopReason}]\n`);
    }
}

async function cmdGenerate(argv: string[]) {
    const { values } = parseArgs({ args: argv, options: {
        model: { type: "string" }, prompt: { type: "string" }, "max-tokens": { type: "string" }, split: { type: "string" },
        greedy: { type: "boolean", default: false }, json: { type: "boolean", default: false },
        temperature: { type: "string" }, "top-k": { type: "string" }, "top-p": { type: "string" }, "min-p": { type: "string" },
        "repeat-penalty": { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
        "context-size": { type: "string" }, "batch-size": { type: "string" }, "gpu-layers": { type: "string" },
        "flash-attention": { type: "string" }, "data-dir": { type: "string" },
        peers: { type: "string" }, layers: { type: "string" },
        activations: { type: "string", default: "f32" }, "max-sequences": { type: "string" },
        chat: { type: "boolean", default: false }, system: { type: "string" }, stop: { type: "string" }
    } });
    if (values.model == null || values.prompt == null) throw new UsageError("generate needs --model FILE and --prompt TEXT");
    const modelPath = path.resolve(values.model);
    const header = readGgufHeader(modelPath);
    const totalLayers = modelLayerCount(header, modelPath);
    const sampler = samplerFrom(values);
    const stageOptions = stageOptionsFrom(values);
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const stop = interruptible();
    let pipeline: Pipeline | null = null;
    let tokenizer: Tokenizer | null = null;
    try {
        let stages: Array<Record<string, unknown>>;
        if (values.peers != null) {
            const peers = values.peers.split(",").map((p) => p.trim()).filter((p) => p !== "");
            const layers = values.layers == null || values.layers === "auto" ? "auto" as const : parseLayerRanges(values.layers, totalLayers);
            if (values.activations !== "f32" && values.activations !== "f16") throw new UsageError("--activations must be f32 or f16");
            const cluster = requireCluster(dataDir);
            const print = progressPrinter(values.json !== true);
            const remote: RemotePipeline = await connectPipeline({
                modelPath, peers, layers, cluster, dataDir, activations: values.activations, name: os.hostname(), signal: stop.signal,
                stage: stageOptions,
                onEvent: (e) => { if (e.type === "uploading") print({ phase: `sending layers ${e.layers[0]}-${e.layers[1]} to ${e.node}`, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal }); else if (e.type === "slicing" || e.type === "hashing") print({ phase: e.type, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal }); }
            });
            pipeline = remote;
            stages = remote.stages.map((st) => ({ node: st.client.name, address: st.client.address, layers: [st.range.start, st.range.end], bytesUploaded: st.bytesUploaded, memoryBytes: st.memoryBytes }));
        } else {
            const ranges = values.split == null ? [{ start: 0, end: totalLayers }] : parseLayerRanges(values.split, totalLayers);
            if (ranges.length > 1) checkArchitectureSupported(kvString(header, "general.architecture"), modelPath);
            const files = ranges.length === 1 ? [modelPath]
                : (await ensureStageFiles(modelPath, ranges, dataDir, progressPrinter(values.json !== true), undefined, stop.signal)).map((s) => s.path);
            // One generation: one sequence slot, unless asked otherwise.
            pipeline = await LocalPipeline.load(files, { maxSequences: 1, ...stageOptions });
            stages = ranges.map((r) => ({ layers: [r.start, r.end] }));
        }
        tokenizer = await Tokenizer.load(modelPath);
        const { prompt, result } = await runGeneration(values, pipeline, tokenizer, sampler, stop.signal);
        report(values, prompt, result, stages);
    } finally {
        stop.dispose();
        await pipeline?.dispose();
        await tokenizer?.dispose();
    }
}

async function cmdNode(rawArgv: string[]) {
    // `--web [PORT]` and `--api [PORT]`: the port is optional.
    const optionalPort = (flag: string, option: string, fallback: number) => (a: string, i: number, all: string[]) =>
        a === flag ? (/^\d+$/.test(all[i + 1] ?? "") ? [option] : [option, String(fallback)]) : [a];
    const argv = rawArgv.flatMap(optionalPort("--web", "--web-port", DEFAULT_WEB_PORT)).flatMap(optionalPort("--api", "--api-port", OPENAI_API_DEFAULTS.port));
    const { values } = parseArgs({ args: argv, options: {
        "web-port": { type: "string" }, "web-host": { type: "string" }, "max-reply-tokens": { type: "string" },
        "api-port": { type: "string" }, "api-host": { type: "string" }, "api-key": { type: "string" },
        port: { type: "string", default: "7420" }, name: { type: "string" }, host: { type: "string", default: "0.0.0.0" },
        "data-dir": { type: "string" }, "cluster-key": { type: "string" }, "memory-limit": { type: "string" }, "gpu-memory-limit": { type: "string" }, "lease-ms": { type: "string" },
        "create-cluster": { type: "boolean", default: false }, join: { type: "string" }, peer: { type: "string" },
        "no-discovery": { type: "boolean", default: false }, "no-speed-test": { type: "boolean", default: false },
        "invite-minutes": { type: "string" }, "member-sync-ms": { type: "string" }
    } });
    if (values["cluster-key"] != null || process.env.HEARTH_CLUSTER_KEY != null)
        throw new UsageError("cluster keys are gone: machines now join with a code. Start one node (it creates the cluster), run 'hearth invite' there, and 'hearth node --join CODE' on the others");
    if (values["create-cluster"] && values.join != null) throw new UsageError("--create-cluster and --join cannot go together: a node makes a new cluster or joins one");
    const dataDir = values["data-dir"] ?? defaultDataDir();
    const name = values.name ?? os.hostname();
    const port = int(values.port, "port", 7420);
    // Every option checked before anything is made.
    const tuning = {
        ...(values["invite-minutes"] != null ? { inviteValidityMs: minutes(values["invite-minutes"], "invite-minutes") * 60000 } : {}),
        ...(values["member-sync-ms"] != null ? { memberSyncMs: int(values["member-sync-ms"], "member-sync-ms", 15000) } : {}),
        ...(values["memory-limit"] != null ? { memoryLimitBytes: int(values["memory-limit"], "memory-limit", 0) } : {}),
        ...(values["gpu-memory-limit"] != null ? { gpuMemoryLimitBytes: int(values["gpu-memory-limit"], "gpu-memory-limit", 0) } : {}),
        ...(values["lease-ms"] != null ? { leaseMs: int(values["lease-ms"], "lease-ms", 30000) } : {})
    };
    const webPort = values["web-port"] != null ? int(values["web-port"], "web", DEFAULT_WEB_PORT) : null;
    if (values["max-reply-tokens"] != null && webPort == null) throw new UsageError("--max-reply-tokens (the longest reply in the UI's chat) goes with --web");
    if (values["web-host"] != null && webPort == null) throw new UsageError("--web-host goes with --web [PORT]");
    const api = apiOptionsFrom(values);
    let cluster = loadNodeCluster(dataDir);
    if (cluster != null && (values["create-cluster"] || values.join != null))
        throw new Error(`this node is already a member of cluster ${cluster.membership.clusterId.slice(0, 8)}…: run 'hearth leave' first to ${values.join != null ? "join another" : "create a new one"}`);
    if (cluster == null && values.join != null) {
        cluster = await joinCluster({
            dataDir, code: values.join, name, ...(values.peer != null ? { peer: values.peer } : {}),
            ...(values.host !== "0.0.0.0" ? { interfaceAddress: values.host } : {}), log: (line) => process.stderr.write(`${line}\n`)
        });
    } else if (cluster == null && (values["create-cluster"] || webPort == null)) {
        cluster = await createNodeCluster(dataDir, { nodeName: name });
        console.log(`created a new cluster (${cluster.membership.clusterId.slice(0, 8)}…); add machines with 'hearth invite'`);
    }
    // With the web UI the node's life is the UI's: without a cluster it waits for Create or Join there.
    if (webPort != null) {
        await runWebNode({
            dataDir, name, host: values.host, port, webPort, webHost: values["web-host"] ?? "127.0.0.1",
            discovery: !values["no-discovery"], measureSpeed: !values["no-speed-test"], node: tuning,
            ...(values["max-reply-tokens"] != null ? { maxReplyTokens: int(values["max-reply-tokens"], "max-reply-tokens", 1024) } : {}),
            ...(api != null ? { api } : {})
        });
        return;
    }
    if (cluster == null) throw new Error("no cluster");
    const stopped = new AbortController();
    const node = await HearthNode.start({
        name, host: values.host, port, dataDir, cluster,
        discovery: !values["no-discovery"], measureSpeed: !values["no-speed-test"],
        ...tuning,
        onRemovedFromCluster: () => stopped.abort(),
        log: (line) => process.stderr.write(`${line}\n`)
    });
    const local = values.host === "0.0.0.0" || values.host === "::" ? "127.0.0.1" : values.host;
    writeLocalNodeRecord(dataDir, { address: formatHostPort({ host: local, port: node.port }), advertised: node.clusterRuntime.address, pid: process.pid, nodeId: node.nodeId });
    const shown = values.host === "0.0.0.0" || values.host === "::" ? node.clusterRuntime.address.replace(/:\d+$/, "") : values.host;
    let apiServer: OpenAiServer | null = null;
    if (api != null) {
        apiServer = new OpenAiServer({
            ...api, node: { address: formatHostPort({ host: local, port: node.port }), nodeId: node.nodeId, cluster },
            model: () => node.clusterRuntime.view.state.model, log: (line) => process.stderr.write(`${line}\n`)
        });
        try {
            await apiServer.start();
        } catch (e) {
            removeLocalNodeRecord(dataDir);
            await node.dispose();
            throw e;
        }
    }
    console.log(`hearth node '${name}' listening on ${shown}:${node.port}`);
    if (apiServer != null) {
        // On every interface: the URL by which the other machines reach this one.
        const everywhere = api!.host === "0.0.0.0" || api!.host === "::";
        console.log(`hearth OpenAI-compatible API on ${everywhere ? `http://${formatHostPort({ host: node.clusterRuntime.address.replace(/^\[?(.*?)\]?:\d+$/, "$1"), port: apiServer.port })}/v1` : apiServer.url}`);
    }
    const removed = await new Promise<boolean>((resolve) => {
        const stop = () => resolve(false);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        stopped.signal.addEventListener("abort", () => resolve(true));
    });
    await apiServer?.dispose();
    removeLocalNodeRecord(dataDir);
    await node.dispose();
    if (removed) throw new Error("this node was removed from its cluster and stopped: run 'hearth leave' to forget it, then join again with a new code");
}

/** `--api [PORT] [--api-host HOST] [--api-key KEY]` (or $HEARTH_API_KEY): the OpenAI-compatible API's options, checked; null without --api. */
function apiOptionsFrom(values: { "api-port"?: string | undefined; "api-host"?: string | undefined; "api-key"?: string | undefined }): { host: string; port: number; apiKey: string | null } | null {
    if (values["api-port"] == null) {
        if (values["api-host"] != null || values["api-key"] != null) throw new UsageError("--api-host and --api-key go with --api [PORT]");
        return null;
    }
    const port = int(values["api-port"], "api", OPENAI_API_DEFAULTS.port);
    if (port < 0 || port > 65535) throw new UsageError(`--api takes a port from 1 to 65535 (or 0: any free one), not ${port}`);
    const host = values["api-host"] ?? OPENAI_API_DEFAULTS.host;
    const key = values["api-key"] ?? process.env.HEARTH_API_KEY ?? "";
    try {
        checkApiBinding(host, key);
    } catch (e) {
        throw new UsageError((e as Error).message);
    }
    return { host, port, apiKey: key === "" ? null : key };
}

export async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    try {
        switch (command) {
            case "generate": await cmdGenerate(rest); return 0;
            case "node": await cmdNode(rest); return 0;
            case "invite": await cmdInvite(rest); return 0;
            case "join": await cmdJoin(rest); return 0;
            case "leave": await cmdLeave(rest); return 0;
            case "remove": await cmdRemove(rest); return 0;
            case "peers": await cmdPeers(rest); return 0;
            case "load": await cmdLoad(rest); return 0;
            case "plan": await cmdPlan(rest); return 0;
            case "chat": {
                const stop = interruptible();
                try { await cmdChat(rest, stop.signal); } finally { stop.dispose(); }
                return 0;
            }
            case "slice": await cmdSlice(rest); return 0;
            case "make-model": await cmdMakeModel(rest); return 0;
            case undefined: case "help": case "--help": case "-h": process.stdout.write(HELP); return 0;
            default: throw new UsageError(`unknown command '${command}'`);
        }
    } catch (e) {
        if (e instanceof PlanDoesNotFitError && e.jsonRequested) {
            process.stdout.write(JSON.stringify(e.json, null, 2) + "\n");
            return 1;
        }
        if (e instanceof UsageError || e instanceof ClusterUsageError || e instanceof HostUsageError || e instanceof PlanUsageError || (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
            process.stderr.write(`hearth: ${(e as Error).message}\n\n${HELP}`);
            return 2;
        }
        if ((e as Error)?.name === "AbortError") {
            process.stderr.write("hearth: stopped; everything it held was released\n");
            return 130;
        }
        process.stderr.write(`hearth: ${(e as Error).message}\n`);
        if (process.env.HEARTH_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
        return 1;
    }
}
