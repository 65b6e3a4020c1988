// The one generation loop, for every pipeline (in this process or over nodes): a prompt in chunks
// that flow through the stages while later chunks follow (a window of them in flight), then one
// token at a time; stop strings, end-of-generation tokens, a token limit, abort, timeouts that
// scale with the work, stats, and a typed stop reason. A generation runs on its own once started:
// its events are buffered, so a consumer that stops reading never holds a sequence slot.
import { TimeoutError, raceSignal } from "../util/abort.ts";
import { resolveSampler, type SamplerParams } from "../stage/sampler.ts";
import { StepError, type Pipeline, type StepResult } from "./pipeline.ts";
import { TextStream, type Detokenizer } from "./text-stream.ts";
import type { SequenceLease } from "./sequence-pool.ts";

export type StopReason = "eos" | "stopString" | "maxTokens" | "contextFull" | "aborted" | "failed";

export interface GenerationRequest {
    promptTokens: readonly number[];
    /** most tokens to generate */
    maxTokens: number;
    /** sampling; the seed defaults to a random one, so repeat runs differ unless it is given */
    sampler?: SamplerParams;
    /** text that ends the generation (not included in the text) */
    stopStrings?: readonly string[];
    /** tokens that end the generation besides end-of-generation tokens (included in the tokens) */
    stopTokens?: readonly number[];
    signal?: AbortSignal;
}

export interface GenerationOptions {
    /** turns tokens into text; without one, the text is empty and stop strings cannot be used */
    detokenizer?: Detokenizer;
    /** end-of-generation tokens (the model's EOS/EOT) */
    isEndOfGeneration?: (token: number) => boolean;
    /** tokens per prompt step. Defaults to the batch size on one stage; with several, smaller chunks so the stages overlap */
    promptChunk?: number;
    /** prompt steps in flight at once. Defaults to the number of stages */
    promptWindow?: number;
    /** how long a step may take: base plus per token. Defaults to 120 s + 250 ms per token */
    stepTimeout?: { baseMs: number; perTokenMs: number };
    /** events as they happen (besides iterating the generation) */
    onEvent?: (event: GenerationEvent) => void;
}

export interface GenerationStats {
    promptTokens: number;
    generatedTokens: number;
    /** from the start (sequence slot acquired) to the first token */
    timeToFirstTokenMs: number;
    /** waiting for a free sequence slot */
    queuedMs: number;
    prefillTokensPerSecond: number;
    decodeTokensPerSecond: number;
    /** compute time per stage, over the whole generation */
    stageComputeMs: number[];
    /** per decode step: wall time minus the stages' compute (transfers, queues, serialization) */
    overheadMsPerToken: number;
}

export interface GenerationResult {
    seqId: number;
    tokens: number[];
    text: string;
    stopReason: StopReason;
    /** the stop string that ended it, for stopReason "stopString" */
    stopString?: string;
    /** the cause, for stopReason "failed" */
    error?: Error;
    stats: GenerationStats;
}

export type GenerationEvent =
    | { type: "started"; seqId: number; epoch: number }
    | { type: "token"; token: number; text: string }
    /** text held back until the end (it could have been the start of a stop string) */
    | { type: "text"; text: string }
    | { type: "done"; result: GenerationResult };

export class GenerationRequestError extends Error {
    constructor(message: string) { super(message); this.name = "GenerationRequestError"; }
}

const DEFAULT_TIMEOUT = { baseMs: 120_000, perTokenMs: 250 };
/** how long a finished generation waits for its sequence to be dropped on every stage */
const RELEASE_WAIT_MS = 5000;

/**
 * Tokens per prompt step: the whole batch on one stage; with several, about 8 chunks per stage,
 * so that the stages overlap and the last stage's tail (one chunk) is short.
 */
export function defaultPromptChunk(promptLength: number, stageCount: number, batchSize: number): number {
    if (stageCount <= 1) return batchSize;
    return Math.min(batchSize, Math.max(32, Math.ceil(promptLength / (8 * stageCount))));
}

/** A running generation: iterate it for its events, or await `result`. */
export class Generation implements AsyncIterable<GenerationEvent> {
    private readonly events: GenerationEvent[] = [];
    private readonly readers: Array<() => void> = [];
    private finished = false;
    private readonly controller = new AbortController();
    readonly result: Promise<GenerationResult>;

    constructor(run: (signal: AbortSignal, emit: (e: GenerationEvent) => void) => Promise<GenerationResult>, external?: AbortSignal) {
        if (external != null) {
            if (external.aborted) this.controller.abort(external.reason);
            else external.addEventListener("abort", () => this.controller.abort(external.reason), { once: true });
        }
        this.result = run(this.controller.signal, (e) => this.push(e)).then((result) => {
            this.push({ type: "done", result });
            this.finished = true;
            this.wake();
            return result;
        });
    }

    /** Stops the generation (its stop reason becomes "aborted"). */
    abort(reason: unknown = new DOMException("the generation was aborted", "AbortError")): void { this.controller.abort(reason); }

    private push(e: GenerationEvent) {
        this.events.push(e);
        this.wake();
    }

    private wake() { for (const r of this.readers.splice(0)) r(); }

    async *[Symbol.asyncIterator](): AsyncIterator<GenerationEvent> {
        let i = 0;
        for (;;) {
            while (i < this.events.length) yield this.events[i++]!;
            if (this.finished) return;
            await new Promise<void>((r) => this.readers.push(r));
        }
    }

    /** The generated tokens, as they come (ends when the generation does). */
    async *tokens(): AsyncGenerator<number, void, void> {
        for await (const e of this) if (e.type === "token") yield e.token;
    }
}

/** Starts a generation on `pipeline`; it runs until it stops, whether or not anyone reads it. */
export function generate(pipeline: Pipeline, request: GenerationRequest, options: GenerationOptions = {}): Generation {
    const prompt = Int32Array.from(request.promptTokens);
    if (prompt.length === 0) throw new GenerationRequestError("the prompt has no tokens");
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 0) throw new GenerationRequestError(`maxTokens must be a whole number >= 0 (got ${request.maxTokens})`);
    if ((request.stopStrings?.length ?? 0) > 0 && options.detokenizer == null) throw new GenerationRequestError("stop strings need a detokenizer");
    const shape = pipeline.shape;
    if (prompt.length >= shape.contextSize)
        throw new GenerationRequestError(`the prompt has ${prompt.length} tokens, but the context holds ${shape.contextSize}: shorten it or load the model with a larger context`);
    const sampler = resolveSampler(request.sampler);
    const chunk = Math.max(1, Math.min(shape.batchSize, options.promptChunk ?? defaultPromptChunk(prompt.length, shape.stageCount, shape.batchSize)));
    const window = Math.max(1, options.promptWindow ?? shape.stageCount);
    const timeout = options.stepTimeout ?? DEFAULT_TIMEOUT;
    const stopTokens = new Set(request.stopTokens ?? []);

    return new Generation(async (signal, emit) => {
        const emitEvent = (e: GenerationEvent) => {
            emit(e);
            try { options.onEvent?.(e); } catch { /* a listener's error does not end the generation */ }
        };
        const text = options.detokenizer != null ? new TextStream(options.detokenizer, request.stopStrings ?? []) : null;
        const tokens: number[] = [];
        const stageMs = pipeline.stageNames.map(() => 0);
        const t0 = performance.now();
        let tStart = t0;
        let tFirst = 0;
        let tLast = 0;
        let overheadMs = 0;
        let stopReason: StopReason = "maxTokens";
        let stopString: string | undefined;
        let error: Error | undefined;
        let lease: SequenceLease | null = null;
        const addStageMs = (r: StepResult) => r.stageMs.forEach((ms, i) => { if (i < stageMs.length) stageMs[i]! += ms; });
        const wait = (p: Promise<StepResult>, nTokens: number) => raceSignal(p, signal, {
            ms: timeout.baseMs + timeout.perTokenMs * nTokens,
            message: () => `no answer for a step of ${nTokens} token(s) within ${((timeout.baseMs + timeout.perTokenMs * nTokens) / 1000).toFixed(1)} s: a machine of the pipeline is stuck or overloaded (${pipeline.stageNames.join(", ")})`
        });
        try {
            lease = await pipeline.sequences.acquire(signal);
            tStart = performance.now();
            const { seqId, epoch } = lease;
            emitEvent({ type: "started", seqId, epoch });
            pipeline.events.emit({ type: "sequenceStarted", seqId, epoch });
            if (request.maxTokens > 0) {
                // The prompt: chunks in flight through the stages, at most `window` at once.
                const inFlight: Array<{ promise: Promise<StepResult>; n: number }> = [];
                let last: StepResult | null = null;
                for (let off = 0; off < prompt.length; off += chunk) {
                    if (inFlight.length >= window) { const head = inFlight.shift()!; addStageMs(await wait(head.promise, head.n)); }
                    const end = Math.min(prompt.length, off + chunk);
                    const isLast = end === prompt.length;
                    const promise = pipeline.step({
                        seqId, epoch, pos: off, tokens: prompt.subarray(off, end), sample: isLast,
                        ...(off === 0 ? { sampler } : {}), ...(isLast ? { accept: prompt } : {})
                    });
                    promise.catch(() => {}); // awaited below; a rejection before then must not go unhandled
                    inFlight.push({ promise, n: end - off });
                }
                while (inFlight.length > 0) { const head = inFlight.shift()!; last = await wait(head.promise, head.n); addStageMs(last); }
                let pos = prompt.length;
                let token = last!.token!;
                for (;;) {
                    tokens.push(token);
                    tLast = performance.now();
                    if (tokens.length === 1) tFirst = tLast;
                    const pushed = text?.push(token);
                    emitEvent({ type: "token", token, text: pushed?.text ?? "" });
                    if (pushed?.stop != null) { stopReason = "stopString"; stopString = pushed.stop; break; }
                    if (options.isEndOfGeneration?.(token) || stopTokens.has(token)) { stopReason = "eos"; break; }
                    if (tokens.length >= request.maxTokens) { stopReason = "maxTokens"; break; }
                    if (pos + 1 > shape.contextSize) { stopReason = "contextFull"; break; }
                    if (signal.aborted) throw signal.reason;
                    const tStep = performance.now();
                    const r = await wait(pipeline.step({ seqId, epoch, pos, tokens: Int32Array.of(token), sample: true }), 1);
                    addStageMs(r);
                    overheadMs += performance.now() - tStep - r.stageMs.reduce((a, b) => a + b, 0);
                    pos++;
                    token = r.token!;
                }
            }
        } catch (e) {
            if (signal.aborted) {
                stopReason = "aborted";
            } else {
                stopReason = "failed";
                error = e instanceof Error ? e : new Error(String(e));
                if (e instanceof TimeoutError) error = new StepError(e.message, lease?.seqId ?? -1);
            }
        }
        if (lease != null) {
            // In order behind its last steps on every stage. The slot can be reused at once (a new
            // epoch supersedes whatever of this one is still on its way); the result waits (briefly)
            // until every stage has dropped the sequence.
            const released = pipeline.release(lease.seqId, lease.epoch).catch(() => {});
            lease.release();
            await raceSignal(released, undefined, { ms: RELEASE_WAIT_MS, message: () => "" }).catch(() => {});
        }
        const result = finish();
        if (lease != null) pipeline.events.emit({ type: "sequenceFinished", seqId: lease.seqId, epoch: lease.epoch, stopReason: result.stopReason, ...(error != null ? { error: error.message } : {}), stats: result.stats });
        return result;

        function finish(): GenerationResult {
            const rest = text?.finish() ?? "";
            if (rest !== "") emitEvent({ type: "text", text: rest });
            const decodeMs = tLast - tFirst;
            const prefillMs = tFirst - tStart;
            return {
                seqId: lease?.seqId ?? -1, tokens, text: text?.text ?? "", stopReason,
                ...(stopString != null ? { stopString } : {}), ...(error != null ? { error } : {}),
                stats: {
                    promptTokens: prompt.length, generatedTokens: tokens.length,
                    timeToFirstTokenMs: tFirst > 0 ? tFirst - tStart : 0, queuedMs: tStart - t0,
                    prefillTokensPerSecond: tFirst > 0 && prefillMs > 0 ? prompt.length / (prefillMs / 1000) : 0,
                    decodeTokensPerSecond: tokens.length > 1 && decodeMs > 0 ? (tokens.length - 1) / (decodeMs / 1000) : 0,
                    stageComputeMs: stageMs,
                    overheadMsPerToken: tokens.length > 1 ? overheadMs / (tokens.length - 1) : 0
                }
            };
        }
    }, request.signal);
}
