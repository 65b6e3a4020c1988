// A long-lived child process that loads files through Hearth's real paths (StageRuntime.load with
// one forward step, Tokenizer.load with one encode, sliceStage then loading the slice) and reports
// each outcome as one JSON line on stdout. If llama.cpp aborts, this process dies, and the parent
// (test/fuzz-files.test.ts) records the crash and starts a new worker.
// Requests, one JSON line each on stdin: { id, file, ops: Array<"stage" | "tokenizer" | "slice">, sliceOut? }
// Replies: { id, outcome: "ok" | "refused", message?, errorName?, rss, ms }
import fs from "node:fs";
import readline from "node:readline";
import { Tokenizer } from "../../app/model/tokenizer.ts";
import { StageRuntime } from "../../app/stage/runtime.ts";
import { sliceStage } from "../../app/stage/slice.ts";

export type WorkerOp = "stage" | "tokenizer" | "slice";
export interface WorkerRequest { id: number; file: string; ops: WorkerOp[]; sliceOut?: string }
export interface WorkerReply { id: number; outcome: "ok" | "refused"; message?: string; errorName?: string; rss: number; ms: number }

async function runStage(file: string) {
    const stage = await StageRuntime.load(file, { contextSize: 16, batchSize: 4, threads: 1 });
    try {
        if (stage.first) await stage.forward({ seqId: 0, pos: 0, tokens: Int32Array.of(Math.min(1, stage.inputVocab - 1)), logits: stage.last ? "last" : "none" });
        else await stage.forward({ seqId: 0, pos: 0, hidden: new Float32Array(stage.nEmbd).fill(0.5), logits: stage.last ? "last" : "none" });
    } finally {
        await stage.dispose();
    }
}

async function runTokenizer(file: string) {
    const tok = await Tokenizer.load(file);
    try {
        const ids = tok.encode("Hello world\n", { special: true });
        tok.decode(ids);
        for (const id of ids) tok.isEndOfGeneration(id);
    } finally {
        await tok.dispose();
    }
}

async function handle(req: WorkerRequest): Promise<void> {
    for (const op of req.ops) {
        if (op === "stage") await runStage(req.file);
        else if (op === "tokenizer") await runTokenizer(req.file);
        else {
            const out = req.sliceOut ?? `${req.file}.slice.gguf`;
            try {
                await sliceStage(req.file, { start: 0, end: 1 }, out);
                await runStage(out);
            } finally {
                fs.rmSync(out, { force: true });
            }
        }
    }
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on("line", (line) => {
    chain = chain.then(async () => {
        const req = JSON.parse(line) as WorkerRequest;
        const t0 = performance.now();
        let reply: WorkerReply;
        try {
            await handle(req);
            reply = { id: req.id, outcome: "ok", rss: process.memoryUsage().rss, ms: performance.now() - t0 };
        } catch (e) {
            reply = { id: req.id, outcome: "refused", message: (e as Error).message ?? String(e), errorName: (e as Error).name, rss: process.memoryUsage().rss, ms: performance.now() - t0 };
        }
        process.stdout.write(`${JSON.stringify(reply)}\n`);
    });
});
rl.on("close", () => { void chain.then(() => process.exit(0)); });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
