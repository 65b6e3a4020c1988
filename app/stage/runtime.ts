// A pipeline stage running on llama.cpp: the TS face of the native addon. Calls into one stage
// are serialized (a llama.cpp context is single-threaded) and every request is validated here
// before it reaches native code.
import { GgmlType } from "../gguf/ggml-types.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { loadAddon, type NativeStage, type NativeStageInfo } from "../native/addon.ts";
import { STAGE_KEYS, readStageMetadata, type LayerRange } from "./slice.ts";
import { checkModelHeader } from "./model-check.ts";
import { effectiveThreads, resolveStageOptions, type StageOptions } from "./options.ts";
import { resolveSampler, type SamplerParams } from "./sampler.ts";

export type { SamplerParams } from "./sampler.ts";

export interface ForwardInput {
    seqId: number;
    /** position of the first token; must equal the sequence's next position */
    pos: number;
    /** token ids: the first stage (or a whole model) */
    tokens?: Int32Array;
    /** hidden states, n_tokens × n_embd: later stages */
    hidden?: Float32Array;
    /** last stage: which logits to return */
    logits?: "none" | "last" | "all";
    /** last stage: sample the next token after the batch */
    sample?: boolean;
    /** last stage: tokens to add to the sampler's history first (the prompt, for repeat penalties) */
    accept?: Int32Array;
}

export interface ForwardOutput {
    nTokens: number;
    computeMs: number;
    hidden?: Float32Array;
    logits?: Float32Array;
    token?: number;
}

/** What a loaded stage is. */
export interface StageShape {
    file: string;
    range: LayerRange;
    layerTotal: number;
    first: boolean;
    last: boolean;
    nEmbd: number;
    nVocab: number;
    /** token ids the first stage accepts: rows of its input embedding table */
    inputVocab: number;
    /**
     * Whether single-token steps of several sequences in one batch give bit for bit what each
     * gives alone. Measured true on x86-64 CPUs when every layer matrix is quantized; llama.cpp's
     * kernels for f32/f16 weights change their summation order with the batch size (up to 1e-3 on
     * logits). GPU backends and ARM CPUs (repacked quantized kernels) pick other kernels by batch
     * size and are not measured, so they do not batch. Multi-token segments never share a batch.
     */
    batchesExactly: boolean;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);

export class StageInputError extends Error {
    constructor(message: string) { super(message); this.name = "StageInputError"; }
}

export class StageDisposedError extends Error {
    constructor(what: string) { super(`stage ${what} was disposed`); this.name = "StageDisposedError"; }
}

export class StageRuntime implements StageShape {
    private queue: Promise<unknown> = Promise.resolve();
    private readonly nextPos = new Map<number, number>();
    private isDisposed = false;
    readonly file: string;
    readonly range: LayerRange;
    readonly layerTotal: number;
    readonly first: boolean;
    readonly last: boolean;
    readonly nEmbd: number;
    readonly nVocab: number;
    readonly inputVocab: number;
    readonly batchesExactly: boolean;

    private constructor(private readonly native: NativeStage, shape: StageShape, readonly options: Readonly<StageOptions>) {
        this.file = shape.file;
        this.range = shape.range;
        this.layerTotal = shape.layerTotal;
        this.first = shape.first;
        this.last = shape.last;
        this.nEmbd = shape.nEmbd;
        this.nVocab = shape.nVocab;
        this.inputVocab = shape.inputVocab;
        this.batchesExactly = shape.batchesExactly;
    }

    /** Loads a stage file, or a whole (unsliced) model as a single stage. */
    static async load(file: string, options: Partial<StageOptions> = {}): Promise<StageRuntime> {
        const resolved = resolveStageOptions(options);
        const header = readGgufHeader(file);
        checkModelHeader(header, file, { role: header.kv.has(STAGE_KEYS.version) ? "stage" : "model" });
        const meta = readStageMetadata(header);
        const addon = await loadAddon();
        const native = await addon.loadStage(file, {
            threads: effectiveThreads(resolved.threads),
            gpuLayers: resolved.gpuLayers,
            contextSize: resolved.contextSize, batchSize: resolved.batchSize, maxSequences: resolved.maxSequences,
            flashAttention: resolved.flashAttention === "auto" ? -1 : resolved.flashAttention === "on" ? 1 : 0,
            threadPolling: resolved.threadPolling,
            ...(meta?.inputTable != null ? { inputTable: meta.inputTable } : {})
        });
        const info = native.info();
        const quantized = header.tensors.every((t) => !t.name.startsWith("blk.") || t.dims.length < 2 || !FLOAT_TYPES.has(t.type));
        return new StageRuntime(native, {
            file,
            range: meta == null ? { start: 0, end: info.nLayer } : { start: meta.layerStart, end: meta.layerEnd },
            layerTotal: meta?.layerTotal ?? info.nLayer,
            first: meta?.first ?? true,
            last: meta?.last ?? true,
            nEmbd: info.nEmbd,
            nVocab: info.nVocab,
            inputVocab: meta?.inputTable?.rows ?? info.nVocab,
            batchesExactly: quantized && resolved.gpuLayers === 0 && process.arch === "x64"
        }, resolved);
    }

    get maxSequences(): number { return this.options.maxSequences; }
    get contextSize(): number { return this.options.contextSize; }
    get batchSize(): number { return this.options.batchSize; }
    get disposed(): boolean { return this.isDisposed; }

    private serialize<T>(fn: () => Promise<T> | T): Promise<T> {
        const run = this.queue.then(() => {
            if (this.isDisposed) throw new StageDisposedError(this.describe());
            return fn();
        });
        this.queue = run.catch(() => {});
        return run;
    }

    describe() { return `layers ${this.range.start}-${this.range.end}`; }

    private checkSeq(seqId: number) {
        if (!Number.isInteger(seqId) || seqId < 0 || seqId >= this.maxSequences)
            throw new StageInputError(`sequence id ${seqId} is out of range: this stage holds sequences 0-${this.maxSequences - 1}`);
    }

    /** Validates one sequence's request against the stage's current state; returns its token count. */
    validate(input: ForwardInput): number {
        this.checkSeq(input.seqId);
        const expected = this.nextPos.get(input.seqId) ?? 0;
        if (!Number.isInteger(input.pos) || input.pos !== expected)
            throw new StageInputError(`position ${input.pos} for sequence ${input.seqId} does not follow its cache: the next position is ${expected}` +
                (input.pos < expected ? " (positions may not go backwards; truncate the sequence first)" : ""));
        let n: number;
        if (input.tokens != null && input.hidden == null) {
            if (!this.first) throw new StageInputError(`stage ${this.describe()} takes hidden states, not token ids`);
            if (!(input.tokens instanceof Int32Array)) throw new StageInputError("tokens must be an Int32Array");
            n = input.tokens.length;
            for (const t of input.tokens)
                if (t < 0 || t >= this.inputVocab) throw new StageInputError(`token id ${t} is out of range [0, ${this.inputVocab})`);
        } else if (input.hidden != null && input.tokens == null) {
            if (this.first) throw new StageInputError(`stage ${this.describe()} is the first stage: it takes token ids, not hidden states`);
            if (!(input.hidden instanceof Float32Array)) throw new StageInputError("hidden must be a Float32Array");
            if (input.hidden.length % this.nEmbd !== 0)
                throw new StageInputError(`hidden states of ${input.hidden.length} values are not a whole number of ${this.nEmbd}-wide rows`);
            n = input.hidden.length / this.nEmbd;
            for (let i = 0; i < input.hidden.length; i++)
                if (!Number.isFinite(input.hidden[i]!)) throw new StageInputError(`hidden state value ${i} is not finite`);
        } else {
            throw new StageInputError("a forward request needs exactly one of tokens or hidden");
        }
        if (n === 0) throw new StageInputError("empty batch");
        if (n > this.batchSize) throw new StageInputError(`batch of ${n} tokens exceeds this stage's batch size ${this.batchSize}`);
        if (expected + n > this.contextSize)
            throw new StageInputError(`sequence ${input.seqId} would reach ${expected + n} tokens, past the context size ${this.contextSize}`);
        if (!this.last && (input.sample || (input.logits ?? "none") !== "none"))
            throw new StageInputError(`stage ${this.describe()} is not the last stage: it cannot sample or return logits`);
        return n;
    }

    async forward(input: ForwardInput): Promise<ForwardOutput> {
        return (await this.forwardBatch([input]))[0]!;
    }

    /**
     * Computes several sequences in one llama.cpp batch (each at most once). Per sequence the
     * result is what `forward` gives for it alone; `computeMs` is the whole batch's. Native code
     * checks every request again either way.
     */
    forwardBatch(inputs: ForwardInput[], options: { checked?: boolean } = {}): Promise<ForwardOutput[]> {
        return this.serialize(async () => {
            if (inputs.length === 0) throw new StageInputError("empty batch");
            // `checked`: the caller (the stage executor, this stage's only user) validated each input
            // against this stage's state just before; every value is not scanned twice.
            const counts = inputs.map((input) => (options.checked === true ? (input.tokens?.length ?? input.hidden!.length / this.nEmbd) : this.validate(input)));
            const seqs = new Set(inputs.map((i) => i.seqId));
            if (seqs.size !== inputs.length) throw new StageInputError("a sequence may appear only once in a batch");
            const total = counts.reduce((a, b) => a + b, 0);
            if (total > this.batchSize) throw new StageInputError(`batch of ${total} tokens exceeds this stage's batch size ${this.batchSize}`);
            // In order of sequence id: llama.cpp computes a batch as ubatches of consecutive ids.
            const order = inputs.map((_, k) => k).sort((a, b) => inputs[a]!.seqId - inputs[b]!.seqId);
            const sorted = order.map((k) => inputs[k]!);
            const sortedCounts = order.map((k) => counts[k]!);
            const concat = <T extends Int32Array | Float32Array>(parts: T[], make: (n: number) => T): T => {
                if (parts.length === 1) return parts[0]!;
                const out = make(parts.reduce((a, p) => a + p.length, 0));
                let off = 0;
                for (const p of parts) { out.set(p as never, off); off += p.length; }
                return out;
            };
            const res = await this.native.forward({
                segments: sorted.map((input, k) => ({
                    seqId: input.seqId, pos: input.pos, n: sortedCounts[k]!,
                    logits: input.logits === "all" ? 2 : input.logits === "last" ? 1 : 0,
                    sample: input.sample ?? false,
                    ...(input.accept != null ? { accept: input.accept } : {})
                })),
                ...(this.first ? { tokens: concat(sorted.map((i) => i.tokens!), (n) => new Int32Array(n)) }
                    : { hidden: concat(sorted.map((i) => i.hidden!), (n) => new Float32Array(n)) }),
                outputHidden: !this.last
            });
            const outputs: ForwardOutput[] = new Array(inputs.length);
            let row = 0;
            sorted.forEach((input, k) => {
                const n = sortedCounts[k]!;
                this.nextPos.set(input.seqId, input.pos + n);
                const seg = res.segments[k]!;
                const out: ForwardOutput = { nTokens: n, computeMs: res.computeMs };
                if (res.hidden != null) out.hidden = inputs.length === 1 ? res.hidden : res.hidden.slice(row * this.nEmbd, (row + n) * this.nEmbd);
                if (seg.logits != null) out.logits = seg.logits;
                if (seg.token != null) out.token = seg.token;
                row += n;
                outputs[order[k]!] = out;
            });
            return outputs;
        });
    }

    /** Sets a sequence's sampling (checked and filled in; `null`: greedy). */
    setSampler(seqId: number, params: SamplerParams | null): Promise<void> {
        const resolved = params == null ? null : resolveSampler(params);
        return this.serialize(() => { this.checkSeq(seqId); this.native.setSampler(seqId, resolved); });
    }

    /** Forgets a sequence: its KV cache and its sampler. */
    removeSequence(seqId: number): Promise<void> {
        return this.serialize(() => { this.checkSeq(seqId); this.native.removeSequence(seqId, 0); this.nextPos.delete(seqId); });
    }

    /** Drops the KV cache of a sequence from `fromPos` on; the next forward starts there. */
    truncate(seqId: number, fromPos: number): Promise<void> {
        return this.serialize(() => {
            this.checkSeq(seqId);
            const next = this.nextPos.get(seqId) ?? 0;
            if (!Number.isInteger(fromPos) || fromPos < 0 || fromPos > next)
                throw new StageInputError(`cannot truncate sequence ${seqId} at ${fromPos}: it holds positions 0-${next - 1}`);
            if (fromPos === 0) { this.native.removeSequence(seqId, 0); this.nextPos.delete(seqId); return; }
            this.native.removeSequence(seqId, fromPos);
            this.nextPos.set(seqId, fromPos);
        });
    }

    nextPosition(seqId: number): number { return this.nextPos.get(seqId) ?? 0; }

    /** Sequences that hold KV cache here. */
    liveSequences(): number[] { return [...this.nextPos.keys()].sort((a, b) => a - b); }

    info(): Promise<NativeStageInfo> { return this.serialize(() => this.native.info()); }

    private disposing: Promise<void> | null = null;

    dispose(): Promise<void> {
        this.disposing ??= this.serialize(() => { this.native.dispose(); this.isDisposed = true; });
        return this.disposing;
    }
}
