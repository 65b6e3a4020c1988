// npm run bench:stage — decode speed of the 2-stage in-process pipeline against node-llama-cpp on
// the same model (1B-shaped llama, q4_0) with the same thread count, and the slicer's peak memory.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeModel } from "../app/model/make-model.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { getLlamaInstance } from "../app/native/llama.ts";
import { LocalPipeline } from "../app/engine/local-pipeline.ts";
import { generate } from "../app/engine/generate.ts";
import { formatBytes } from "../app/util/format.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = path.join(root, ".hearth-bench");
const threads = Number(process.env.BENCH_THREADS ?? os.availableParallelism());
const tokens = Number(process.env.BENCH_TOKENS ?? 64);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const contextSize = 1024;
const prompt = "The history of the printing press begins in the fifteenth century, when";

fs.mkdirSync(benchDir, { recursive: true });
const model = path.join(benchDir, "llama-1b-shape-q4_0.gguf");
if (!fs.existsSync(model)) {
    console.log("making a 1B-shaped llama (16 layers, embd 2048, ff 8192, 32/8 heads, llama-bpe vocabulary, tied), q4_0 …");
    let last = -1;
    await makeModel({ arch: "llama", vocab: "llama-bpe", layers: 16, embd: 2048, heads: 32, kvHeads: 8, ff: 8192, type: "q4_0", tied: true, seed: 1, out: model,
        onProgress: (p) => { const pct = Math.floor((100 * p.bytesDone) / p.bytesTotal); if (pct !== last && pct % 10 === 0) { last = pct; console.log(`  ${p.phase} ${pct}%`); } } });
}
console.log(`model: ${model} (${formatBytes(fs.statSync(model).size)}), threads: ${threads}, ${tokens} tokens a run, best of ${rounds}`);

// Slicing, each stage in its own process for a clean peak-memory figure.
const stages = [path.join(benchDir, "stage-0-8.gguf"), path.join(benchDir, "stage-8-16.gguf")];
for (const [i, range] of ["0-8", "8-16"].entries()) {
    const r = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", path.join(root, "scripts", "slice-peak-memory.ts"), model, range, stages[i]!], { encoding: "utf8" })) as
        { bytes: number; seconds: number; baselineRssMb: number; peakRssMb: number };
    console.log(`slice ${range}: ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s; peak RSS ${r.peakRssMb.toFixed(0)} MB (process baseline ${r.baselineRssMb.toFixed(0)} MB)`);
}

const tokenizer = await Tokenizer.load(model);
const promptTokens = tokenizer.encode(prompt);
await tokenizer.dispose();

async function nodeLlamaCppRun(): Promise<{ tps: number; out: number[] }> {
    const llama = await getLlamaInstance();
    const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
    const ctx = await m.createContext({ contextSize, threads, flashAttention: false, sequences: 1 });
    const seq = ctx.getSequence();
    const out: number[] = [];
    let tFirst = 0;
    for await (const t of seq.evaluate(promptTokens as never[], { temperature: 0 })) {
        if (out.length === 0) tFirst = performance.now();
        out.push(t as number);
        if (out.length >= tokens) break;
    }
    const tps = (out.length - 1) / ((performance.now() - tFirst) / 1000);
    await ctx.dispose();
    await m.dispose();
    return { tps, out };
}

async function pipelineRun(files: string[]): Promise<{ tps: number; out: number[] }> {
    const p = await LocalPipeline.load(files, { threads, contextSize, maxSequences: 1, flashAttention: "off", threadPolling: Number(process.env.BENCH_POLL ?? 0) });
    const r = await generate(p, { promptTokens, maxTokens: tokens, sampler: { temperature: 0 } }).result;
    await p.dispose();
    return { tps: r.stats.decodeTokensPerSecond, out: r.tokens };
}

let bestRef = 0, bestPipe = 0, bestWhole = 0;
let same = true;
for (let r = 0; r < rounds; r++) {
    const ref = await nodeLlamaCppRun();
    const pipe = await pipelineRun(stages);
    const whole = await pipelineRun([model]);
    same &&= JSON.stringify(ref.out) === JSON.stringify(pipe.out) && JSON.stringify(ref.out) === JSON.stringify(whole.out);
    console.log(`round ${r + 1}: node-llama-cpp ${ref.tps.toFixed(2)} tok/s, 2-stage pipeline ${pipe.tps.toFixed(2)} tok/s, hearth 1 stage ${whole.tps.toFixed(2)} tok/s`);
    bestRef = Math.max(bestRef, ref.tps); bestPipe = Math.max(bestPipe, pipe.tps); bestWhole = Math.max(bestWhole, whole.tps);
}
console.log("");
console.log(`node-llama-cpp (whole model, one context):  ${bestRef.toFixed(2)} tokens/s`);
console.log(`hearth 2-stage in-process pipeline:          ${bestPipe.toFixed(2)} tokens/s`);
console.log(`hearth 1 stage (whole model):                ${bestWhole.toFixed(2)} tokens/s`);
console.log(`ratio pipeline / node-llama-cpp:             ${(bestPipe / bestRef).toFixed(3)}  (goal >= 0.95)`);
console.log(`greedy tokens identical across all three:    ${same}`);
