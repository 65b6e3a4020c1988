// A pipeline's events (in this process or over nodes): distribution progress, the pipeline
// opening, each sequence starting and finishing with its stats, failing, closing.
import type { GenerationStats, StopReason } from "./generate.ts";

export interface PipelineStageView { node: string; address: string; layers: [number, number] }

export interface PipelineState {
    status: "distributing" | "ready" | "failed" | "closed";
    /** sequences generating now */
    activeSequences: number;
    /** generations finished on this pipeline */
    finishedSequences: number;
    stages: PipelineStageView[];
    uploads: Array<{ node: string; bytesDone: number; bytesTotal: number }>;
    error: string | null;
}

export type PipelineEvent =
    | { type: "slicing"; layers: [number, number]; bytesDone: number; bytesTotal: number }
    | { type: "hashing"; bytesDone: number; bytesTotal: number }
    | { type: "uploading"; node: string; layers: [number, number]; bytesDone: number; bytesTotal: number }
    | { type: "stageReady"; node: string; layers: [number, number]; bytesUploaded: number; loadMs: number; memoryBytes: number }
    | { type: "opened"; pipelineId: string; stages: PipelineStageView[] }
    | { type: "linkChanged"; stageIndex: number; nextAddress: string; connected: boolean; message: string }
    | { type: "sequenceStarted"; seqId: number; epoch: number }
    | { type: "sequenceFinished"; seqId: number; epoch: number; stopReason: StopReason; error?: string; stats: GenerationStats }
    | { type: "failed"; message: string; node?: string }
    | { type: "closed" };

export function initialPipelineState(): PipelineState {
    return { status: "distributing", activeSequences: 0, finishedSequences: 0, stages: [], uploads: [], error: null };
}

export function applyPipelineEvent(state: PipelineState, event: PipelineEvent): PipelineState {
    switch (event.type) {
        case "uploading": return { ...state, uploads: [...state.uploads.filter((u) => u.node !== event.node), { node: event.node, bytesDone: event.bytesDone, bytesTotal: event.bytesTotal }] };
        case "stageReady": return { ...state, uploads: state.uploads.filter((u) => u.node !== event.node) };
        case "opened": return { ...state, status: "ready", stages: event.stages, uploads: [] };
        case "sequenceStarted": return { ...state, activeSequences: state.activeSequences + 1 };
        case "sequenceFinished": return { ...state, activeSequences: Math.max(0, state.activeSequences - 1), finishedSequences: state.finishedSequences + 1 };
        case "failed": return { ...state, status: "failed", error: event.message };
        case "closed": return { ...state, status: state.status === "failed" ? "failed" : "closed" };
        default: return state;
    }
}
