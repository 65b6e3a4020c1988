// A distributed pipeline from a model file and a list of nodes: connect to them (mutual TLS,
// checking versions),
// plan the layer ranges, distribute the stages, open the pipeline. Anything that fails on the way
// leaves nothing loaded on any node.
import crypto from "node:crypto";
import os from "node:os";
import { readGgufHeader } from "../gguf/reader.ts";
import { kvString } from "../gguf/format.ts";
import { checkArchitectureSupported } from "../stage/architectures.ts";
import { modelLayerCount, type LayerRange } from "../stage/slice.ts";
import { resolveStageOptions, type StageOptions } from "../stage/options.ts";
import { estimateStageMemory } from "../placement/memory.ts";
import { rangesByMemory } from "../placement/ranges.ts";
import { PipelineError } from "../engine/pipeline.ts";
import { EventHub } from "../util/event-hub.ts";
import { NodeClient, ProtocolMismatchError, grpcMessage } from "../protocol/node-client.ts";
import type { NodeInfo__Output } from "../protocol/proto.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { distributeStages } from "./distributor.ts";
import { applyPipelineEvent, initialPipelineState, type PipelineEvent, type PipelineState } from "../engine/pipeline-events.ts";
import { RemotePipeline } from "./remote-pipeline.ts";
import { restrictedSplitPoints } from "../stage/architectures.ts";

export interface ConnectOptions {
    modelPath: string;
    /** host:port of each node, in pipeline order */
    peers: string[];
    /** one range per peer, or "auto" (by free memory). Defaults to "auto" */
    layers?: LayerRange[] | "auto";
    /** this machine's cluster: the nodes must be members of it, and this machine too */
    cluster: Pick<NodeCluster, "identity" | "membership">;
    /** the coordinator's data folder (stage cache, hashes) */
    dataDir: string;
    /**
     * The address each node uses to reach the next one (one fewer than peers), when it is not the
     * address this machine uses. Defaults to the next peer's address.
     */
    linkAddresses?: string[];
    /** this machine's name, shown to the nodes. Defaults to the host name */
    name?: string;
    /** how hidden states travel: "f32" is exact, "f16" half the bytes. Defaults to "f32" */
    activations?: "f32" | "f16";
    /** stage options, the same for every stage; see stage/options.ts for the defaults */
    stage?: Partial<StageOptions>;
    /** layers of each stage on its node's GPU (n_gpu_layers, as a plan chose them). Defaults to stage.gpuLayers for every stage */
    stageGpuLayers?: number[];
    signal?: AbortSignal;
    /** distribution progress and the pipeline's life */
    onEvent?: (e: PipelineEvent) => void;
}

/** Connects to every node over mutual TLS; refuses any of another protocol version or cluster, naming it. */
export async function connectNodes(peers: string[], cluster: Pick<NodeCluster, "identity" | "membership">): Promise<{ clients: NodeClient[]; infos: NodeInfo__Output[] }> {
    const clients = peers.map((p) => new NodeClient(p, { cluster }));
    try {
        const infos = await Promise.all(clients.map(async (c) => {
            try {
                return await c.connect();
            } catch (e) {
                if (e instanceof ProtocolMismatchError) throw new PipelineError(e.message, c.address);
                throw new PipelineError(`cannot use node at ${c.address}: ${grpcMessage(e)}`, c.address);
            }
        }));
        return { clients, infos };
    } catch (e) {
        for (const c of clients) c.close();
        throw e;
    }
}

/** Bytes of each layer's tensors plus its KV cache with these options (for placement). */
export function layerBytes(modelPath: string, options: StageOptions): number[] {
    const header = readGgufHeader(modelPath);
    const total = modelLayerCount(header, modelPath);
    const perLayer = new Array<number>(total).fill(0);
    for (const t of header.tensors) {
        const m = /^blk\.(\d+)\./.exec(t.name);
        if (m != null && Number(m[1]) < total) perLayer[Number(m[1])]! += Number(t.size);
    }
    const kvPerLayer = estimateStageMemory(header, 0, options).kvBytes / total;
    return perLayer.map((b) => b + kvPerLayer);
}

export async function connectPipeline(o: ConnectOptions): Promise<RemotePipeline> {
    if (o.peers.length === 0) throw new PipelineError("no nodes given: pass at least one host:port");
    const header = readGgufHeader(o.modelPath);
    const total = modelLayerCount(header, o.modelPath);
    checkArchitectureSupported(kvString(header, "general.architecture"), o.modelPath);
    const stage = resolveStageOptions({ ...o.stage });
    const events = new EventHub<PipelineState, PipelineEvent>(initialPipelineState(), applyPipelineEvent);
    if (o.onEvent != null) events.subscribe((m) => { if (m.type !== "state") o.onEvent!(m); });
    const name = o.name ?? os.hostname();
    const { clients, infos } = await connectNodes(o.peers, o.cluster);
    try {
        const ranges = o.layers == null || o.layers === "auto"
            ? rangesByMemory(layerBytes(o.modelPath, stage), infos.map((info) => ({ name: info.name, freeBytes: info.freeMemoryBytes })), restrictedSplitPoints(header.kv)?.points)
            : o.layers;
        if (ranges.length !== clients.length) throw new PipelineError(`${ranges.length} layer ranges for ${clients.length} nodes: give one range per node`);
        if (ranges.at(-1)!.end !== total) throw new PipelineError(`the layer ranges end at ${ranges.at(-1)!.end} but the model has ${total} layers`);
        const pipelineId = crypto.randomBytes(9).toString("base64url");
        const pipelineKey = crypto.randomBytes(24).toString("base64url");
        const activations = o.activations === "f16" ? "F16" : "F32";
        const stages = await distributeStages({
            modelPath: o.modelPath, dataDir: o.dataDir, clients, ranges, layerTotal: total, stage, activations, pipelineId, pipelineKey,
            ...(o.stageGpuLayers != null ? { stageGpuLayers: o.stageGpuLayers } : {}),
            ...(o.linkAddresses != null ? { linkAddresses: o.linkAddresses } : {}),
            coordinatorName: name, ...(o.signal != null ? { signal: o.signal } : {}), emit: (e) => events.emit(e)
        });
        try {
            return await RemotePipeline.open({
                pipelineId, pipelineKey, stages, activations, events,
                shape: { stageCount: stages.length, maxSequences: stage.maxSequences, contextSize: stage.contextSize, batchSize: stage.batchSize }
            });
        } catch (e) {
            await Promise.all(clients.map((c) => c.closePipeline(pipelineId).catch(() => {})));
            throw e;
        }
    } catch (e) {
        for (const c of clients) c.close();
        throw e;
    }
}
