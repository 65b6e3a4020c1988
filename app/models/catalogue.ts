// The recommended models (pure): a few GGUFs per size class, of the architectures Hearth splits
// into pipeline stages (app/stage/architectures.ts: llama, qwen2, qwen3), all Q4_K_M single files
// from bartowski's or the Qwen organisation's Hugging Face repositories, and whether each fits
// on the members that answer now (the planner over them, app/host/live-plan.ts).
//
// Sizes: `sizeBytes` is an estimate, not the published file size: the model's shape (below) at
// Q4_K_M's bits per weight (app/placement/quantization.ts), which lands within about 10% of the
// files (Llama 3.2 1B: 757 MB estimated, 808 MB published; Qwen3 14B: 9.05 GB and 9.00 GB). The
// planner places the same shape, so a model's size and its fit agree.
//
// Shapes: each model's published config (layers, hidden size, feed-forward size, attention and
// KV heads, vocabulary, tied embeddings) as describeModel takes it; every head is hidden/heads
// wide, true of every model here (not of Qwen3 4B or 32B, whose heads are 128 wide: left out).
// Qwen's attention biases and Qwen3's q/k norms (a few thousand weights a layer) are not counted.
import type { CatalogueEntry } from "../ui-api/contract.ts";
import { describeModel, MODEL_FAMILIES, type ModelShape, type SyntheticModelSpec } from "../placement/model-shape.ts";
import { planOverMembers, LivePlanError, type LiveMember, type LivePlanOptions } from "../host/live-plan.ts";
import { PLAN_OPTION_DEFAULTS } from "../placement/cost-model.ts";
import type { SupportedArchitecture } from "../stage/architectures.ts";

export type SizeClass = CatalogueEntry["sizeClass"];

/** The size classes, smallest first, with the most parameters each holds (27B+: no bound). */
export const SIZE_CLASSES: ReadonlyArray<{ sizeClass: SizeClass; maxParameters: number }> = Object.freeze([
    { sizeClass: "1–3B", maxParameters: 3.5e9 },
    { sizeClass: "3–9B", maxParameters: 9.5e9 },
    { sizeClass: "9–27B", maxParameters: 27.5e9 },
    { sizeClass: "27B+", maxParameters: Infinity }
]);

/** The size class of a model of `parameters` weights. */
export function sizeClassOf(parameters: number): SizeClass {
    return SIZE_CLASSES.find((c) => parameters < c.maxParameters)!.sizeClass;
}

/** A catalogue model: what the UI shows (CatalogueEntry without the fit) and its shape for the planner. */
export interface CatalogueModel extends Omit<CatalogueEntry, "fits" | "shortfallBytes"> {
    architecture: SupportedArchitecture;
    /** the model's sizes, as describeModel takes them (quantization: the file's) */
    shape: SyntheticModelSpec;
}

type ModelSpec = Omit<CatalogueModel, "sizeBytes" | "shape" | "quantization"> & { shape: Omit<SyntheticModelSpec, "name" | "quantization"> };

const QUANTIZATION = "Q4_K_M";

const MODELS: readonly ModelSpec[] = [
    {
        id: "llama-3.2-1b-instruct-q4_k_m", title: "Llama 3.2 1B Instruct", sizeClass: "1–3B", architecture: "llama",
        url: "https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        shape: MODEL_FAMILIES["llama-1b"]!
    },
    {
        id: "qwen3-1.7b-q4_k_m", title: "Qwen3 1.7B", sizeClass: "1–3B", architecture: "qwen3",
        url: "https://huggingface.co/bartowski/Qwen_Qwen3-1.7B-GGUF/resolve/main/Qwen_Qwen3-1.7B-Q4_K_M.gguf",
        shape: { layers: 28, embd: 2048, ff: 6144, heads: 16, kvHeads: 8, vocab: 151936, tied: true }
    },
    {
        id: "llama-3.2-3b-instruct-q4_k_m", title: "Llama 3.2 3B Instruct", sizeClass: "1–3B", architecture: "llama",
        url: "https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        shape: MODEL_FAMILIES["llama-3b"]!
    },
    {
        id: "qwen2.5-7b-instruct-q4_k_m", title: "Qwen2.5 7B Instruct", sizeClass: "3–9B", architecture: "qwen2",
        url: "https://huggingface.co/bartowski/Qwen2.5-7B-Instruct-GGUF/resolve/main/Qwen2.5-7B-Instruct-Q4_K_M.gguf",
        shape: { layers: 28, embd: 3584, ff: 18944, heads: 28, kvHeads: 4, vocab: 152064, tied: false }
    },
    {
        id: "llama-3.1-8b-instruct-q4_k_m", title: "Llama 3.1 8B Instruct", sizeClass: "3–9B", architecture: "llama",
        url: "https://huggingface.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF/resolve/main/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        shape: MODEL_FAMILIES["llama-8b"]!
    },
    {
        id: "qwen3-8b-q4_k_m", title: "Qwen3 8B", sizeClass: "3–9B", architecture: "qwen3",
        url: "https://huggingface.co/Qwen/Qwen3-8B-GGUF/resolve/main/Qwen3-8B-Q4_K_M.gguf",
        shape: { layers: 36, embd: 4096, ff: 12288, heads: 32, kvHeads: 8, vocab: 151936, tied: false }
    },
    {
        id: "qwen3-14b-q4_k_m", title: "Qwen3 14B", sizeClass: "9–27B", architecture: "qwen3",
        url: "https://huggingface.co/Qwen/Qwen3-14B-GGUF/resolve/main/Qwen3-14B-Q4_K_M.gguf",
        shape: { layers: 40, embd: 5120, ff: 17408, heads: 40, kvHeads: 8, vocab: 151936, tied: false }
    },
    {
        id: "qwen2.5-14b-instruct-q4_k_m", title: "Qwen2.5 14B Instruct", sizeClass: "9–27B", architecture: "qwen2",
        url: "https://huggingface.co/bartowski/Qwen2.5-14B-Instruct-GGUF/resolve/main/Qwen2.5-14B-Instruct-Q4_K_M.gguf",
        shape: { layers: 48, embd: 5120, ff: 13824, heads: 40, kvHeads: 8, vocab: 152064, tied: false }
    },
    {
        id: "qwen2.5-32b-instruct-q4_k_m", title: "Qwen2.5 32B Instruct", sizeClass: "27B+", architecture: "qwen2",
        url: "https://huggingface.co/bartowski/Qwen2.5-32B-Instruct-GGUF/resolve/main/Qwen2.5-32B-Instruct-Q4_K_M.gguf",
        shape: { layers: 64, embd: 5120, ff: 27648, heads: 40, kvHeads: 8, vocab: 152064, tied: false }
    },
    {
        id: "llama-3.3-70b-instruct-q4_k_m", title: "Llama 3.3 70B Instruct", sizeClass: "27B+", architecture: "llama",
        url: "https://huggingface.co/bartowski/Llama-3.3-70B-Instruct-GGUF/resolve/main/Llama-3.3-70B-Instruct-Q4_K_M.gguf",
        shape: MODEL_FAMILIES["llama-70b"]!
    }
];

/** The shape the planner places for a catalogue model (its architecture, its quantization). */
export function catalogueShape(model: Pick<CatalogueModel, "architecture" | "shape">): ModelShape {
    return { ...describeModel(model.shape), architecture: model.architecture };
}

/** The recommended models, smallest first. */
export const CATALOGUE: readonly CatalogueModel[] = Object.freeze(MODELS.map((m): CatalogueModel => {
    const shape: SyntheticModelSpec = { ...m.shape, name: m.title, quantization: QUANTIZATION };
    return Object.freeze({
        id: m.id, title: m.title, sizeClass: m.sizeClass, architecture: m.architecture, quantization: QUANTIZATION,
        sizeBytes: catalogueShape({ architecture: m.architecture, shape }).totalBytes,
        url: m.url, shape: Object.freeze(shape)
    });
}));

/** The plan options of the fit; what is not given is as the host plans (PLAN_OPTION_DEFAULTS: 4096 tokens × 4 sequences, f32 activations). */
export type CatalogueFitOptions = Partial<LivePlanOptions>;

/**
 * The catalogue with each model's fit on `members` (the members that answer now, as the host
 * plans over them): `fits` when the planner places it, else the memory one more machine would have
 * to bring (explainNoFit's shortfall, through planOverMembers). Pure.
 */
export function catalogueWithFit(members: readonly LiveMember[], options: CatalogueFitOptions = {}): CatalogueEntry[] {
    const plan: LivePlanOptions = {
        contextSize: options.contextSize ?? PLAN_OPTION_DEFAULTS.contextSize,
        maxSequences: options.maxSequences ?? PLAN_OPTION_DEFAULTS.maxSequences,
        batchSize: options.batchSize ?? PLAN_OPTION_DEFAULTS.batchSize,
        activationBytesPerValue: options.activationBytesPerValue ?? PLAN_OPTION_DEFAULTS.activationBytesPerValue,
        ...(options.objective != null ? { objective: options.objective } : {})
    };
    return CATALOGUE.map((m) => {
        let fits = true, shortfallBytes = 0;
        try {
            planOverMembers(catalogueShape(m), members, plan);
        } catch (e) {
            if (!(e instanceof LivePlanError)) throw e;
            fits = false;
            shortfallBytes = e.shortfallBytes;
        }
        return {
            id: m.id, title: m.title, sizeClass: m.sizeClass, architecture: m.architecture, quantization: m.quantization,
            sizeBytes: m.sizeBytes, url: m.url, fits, shortfallBytes
        };
    });
}
