// The node's event surface: what a UI or a test subscribes to (state first, then changes). The
// cluster (members, discovered machines, their inventory) has its own: ClusterRuntime's view.

export interface StageSummary {
    pipelineId: string;
    stageIndex: number;
    layers: [number, number];
    memoryBytes: number;
    holders: number;
}

export interface NodeState {
    name: string;
    port: number;
    stages: StageSummary[];
    uploads: Array<{ stageSha256: string; bytesDone: number; bytesTotal: number }>;
    liveSequences: number;
}

export type NodeEvent =
    | { type: "started"; name: string; port: number }
    | { type: "uploadProgress"; stageSha256: string; bytesDone: number; bytesTotal: number }
    | { type: "uploadFinished"; stageSha256: string; bytes: number }
    | { type: "stageLoading"; pipelineId: string; stageIndex: number; layers: [number, number] }
    | { type: "stageLoaded"; pipelineId: string; stageIndex: number; layers: [number, number]; loadMs: number; memoryBytes: number }
    | { type: "stageHeld"; pipelineId: string; stageIndex: number; holders: number }
    | { type: "pipelineClosed"; pipelineId: string; stageIndex: number; reason: string }
    | { type: "sequenceStarted"; pipelineId: string; stageIndex: number; seqId: number; epoch: number }
    | { type: "sequenceFinished"; pipelineId: string; stageIndex: number; seqId: number; epoch: number; steps: number; tokens: number; computeMs: number }
    | { type: "stepFailed"; pipelineId: string; stageIndex: number; seqId: number; epoch: number; message: string }
    | { type: "linkChanged"; pipelineId: string; stageIndex: number; nextAddress: string; connected: boolean; message: string }
    | { type: "error"; message: string };

export function initialNodeState(name: string): NodeState {
    return { name, port: 0, stages: [], uploads: [], liveSequences: 0 };
}

/** The state after `event` (pure). */
export function applyNodeEvent(state: NodeState, event: NodeEvent): NodeState {
    const key = (s: { pipelineId: string; stageIndex: number }) => `${s.pipelineId}/${s.stageIndex}`;
    switch (event.type) {
        case "started": return { ...state, name: event.name, port: event.port };
        case "uploadProgress": return { ...state, uploads: [...state.uploads.filter((u) => u.stageSha256 !== event.stageSha256), { stageSha256: event.stageSha256, bytesDone: event.bytesDone, bytesTotal: event.bytesTotal }] };
        case "uploadFinished": return { ...state, uploads: state.uploads.filter((u) => u.stageSha256 !== event.stageSha256) };
        case "stageLoaded": return { ...state, stages: [...state.stages.filter((s) => key(s) !== key(event)), { pipelineId: event.pipelineId, stageIndex: event.stageIndex, layers: event.layers, memoryBytes: event.memoryBytes, holders: 0 }] };
        case "stageHeld": return { ...state, stages: state.stages.map((s) => (key(s) === key(event) ? { ...s, holders: event.holders } : s)) };
        case "pipelineClosed": return { ...state, stages: state.stages.filter((s) => key(s) !== key(event)) };
        case "sequenceStarted": return { ...state, liveSequences: state.liveSequences + 1 };
        case "sequenceFinished": return { ...state, liveSequences: Math.max(0, state.liveSequences - 1) };
        default: return state;
    }
}
