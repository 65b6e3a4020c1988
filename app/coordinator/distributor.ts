// Ships a pipeline's stages: slices the model (cached), sends each node the stage file it lacks
// (in parallel, resumable), has each load its stage, and holds each stage as soon as it is
// loaded. When anything fails, every stage already prepared is closed again: nothing is left
// loaded on any node.
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { ensureStageFiles, fileSha256 } from "../model/stage-cache.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import type { LayerRange } from "../stage/slice.ts";
import type { StageOptions } from "../stage/options.ts";
import { PipelineError } from "../engine/pipeline.ts";
import { raceSignal } from "../util/abort.ts";
import { formatBytes } from "../util/format.ts";
import { grpcMessage, type NodeClient } from "../protocol/node-client.ts";
import type { DType, FlashAttention, PipelineEvent__Output, PrepareStageRequest } from "../protocol/proto.ts";
import type { PipelineEvent } from "../engine/pipeline-events.ts";

export interface PreparedStage {
    client: NodeClient;
    range: LayerRange;
    bytesUploaded: number;
    memoryBytes: number;
    loadMs: number;
    /** the Attach stream that holds the stage (paused after its first event) */
    hold: grpc.ClientReadableStream<PipelineEvent__Output>;
}

export interface DistributeOptions {
    modelPath: string;
    dataDir: string;
    clients: NodeClient[];
    ranges: LayerRange[];
    layerTotal: number;
    stage: StageOptions;
    /** layers of each stage on its node's GPU (n_gpu_layers), when they differ by stage. Defaults to stage.gpuLayers for all */
    stageGpuLayers?: number[];
    activations: DType;
    pipelineId: string;
    pipelineKey: string;
    coordinatorName: string;
    /** how each node reaches the next (defaults to the next client's address) */
    linkAddresses?: string[];
    signal?: AbortSignal;
    emit?: (e: PipelineEvent) => void;
}

const FA: Record<StageOptions["flashAttention"], FlashAttention> = { auto: "FLASH_ATTENTION_AUTO", on: "FLASH_ATTENTION_ON", off: "FLASH_ATTENTION_OFF" };

function holdStage(client: NodeClient, pipelineId: string, stageIndex: number, timeoutMs = 10000): Promise<grpc.ClientReadableStream<PipelineEvent__Output>> {
    return new Promise((resolve, reject) => {
        const stream = client.attach(pipelineId, stageIndex);
        const timer = setTimeout(() => { stream.cancel(); reject(new PipelineError(`node '${client.name}' did not confirm holding its stage within ${timeoutMs / 1000} s`, client.name)); }, timeoutMs);
        const onError = (e: Error) => { clearTimeout(timer); reject(new PipelineError(`node '${client.name}' refused to hold its stage: ${grpcMessage(e)}`, client.name)); };
        stream.once("error", onError);
        stream.once("data", (ev: PipelineEvent__Output) => {
            clearTimeout(timer);
            stream.pause();
            stream.off("error", onError);
            stream.on("error", () => {}); // until the pipeline listens
            if (ev.attached == null) { stream.cancel(); reject(new PipelineError(`node '${client.name}' answered the hold with something else`, client.name)); return; }
            resolve(stream);
        });
    });
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
    const fh = await fs.promises.open(file, "r");
    try {
        const buf = Buffer.alloc(bytes);
        const { bytesRead } = await fh.read(buf, 0, bytes, 0);
        return buf.subarray(0, bytesRead);
    } finally {
        await fh.close();
    }
}

export async function distributeStages(o: DistributeOptions): Promise<PreparedStage[]> {
    const emit = o.emit ?? (() => {});
    const modelSha = await fileSha256(o.modelPath, o.dataDir, (p) => emit({ type: "hashing", bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }));
    const files = await ensureStageFiles(o.modelPath, o.ranges, o.dataDir, (p) => {
        if (p.phase === "slicing") emit({ type: "slicing", layers: [0, 0], bytesDone: p.bytesDone, bytesTotal: p.bytesTotal });
    }, modelSha, o.signal);
    const prepared: Array<PreparedStage | undefined> = [];
    // The first failure stops the other stages' transfers too.
    const stop = new AbortController();
    const signal = o.signal != null ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
    try {
        const results = await Promise.allSettled(o.clients.map(async (client, i) => {
            const range = o.ranges[i]!;
            const file = files[i]!.path;
            const bytes = (await fs.promises.stat(file)).size;
            const stageSha = await fileSha256(file, o.dataDir);
            const stageHeader = await readHead(file, Number(readGgufHeader(file).dataOffset));
            const request: PrepareStageRequest = {
                pipelineId: o.pipelineId, pipelineKey: o.pipelineKey, stageIndex: i, stageCount: o.clients.length, modelSha256: modelSha,
                layers: range, layerTotal: o.layerTotal, stageSha256: stageSha, stageBytes: bytes,
                options: { contextSize: o.stage.contextSize, maxSequences: o.stage.maxSequences, batchSize: o.stage.batchSize, threads: o.stage.threads, gpuLayers: o.stageGpuLayers?.[i] ?? o.stage.gpuLayers, flashAttention: FA[o.stage.flashAttention] },
                nextAddress: i === o.clients.length - 1 ? "" : o.linkAddresses?.[i] ?? o.clients[i + 1]!.address,
                nextNodeId: i === o.clients.length - 1 ? "" : nodeIdOf(o.clients[i + 1]!), coordinatorName: o.coordinatorName, activations: o.activations,
                stageHeader
            };
            const prepare = () => raceSignal(client.prepareStage(request), signal).catch((e: unknown) => {
                throw e instanceof PipelineError || signal.aborted ? e : new PipelineError(grpcMessage(e), client.name);
            });
            let reply = await prepare();
            let uploaded = 0;
            if (reply.status === "NEED_UPLOAD") {
                const layers: [number, number] = [range.start, range.end];
                try {
                    const r = await client.upload(file, { modelSha256: modelSha, layers: range, stageSha256: stageSha, stageBytes: bytes }, reply.resumeOffset, {
                        signal,
                        onProgress: (done) => emit({ type: "uploading", node: client.name, layers, bytesDone: done, bytesTotal: bytes })
                    });
                    if (!r.complete) throw new Error("the node did not receive the whole file");
                    uploaded = r.bytesReceived;
                } catch (e) {
                    if (signal.aborted) throw e;
                    throw new PipelineError(`sending layers ${range.start}-${range.end} (${formatBytes(bytes)}) to node '${client.name}' failed: ${grpcMessage(e)}`, client.name);
                }
                reply = await prepare();
            }
            if (reply.status !== "READY") throw new PipelineError(`node '${client.name}' did not load its stage`, client.name);
            const hold = await holdStage(client, o.pipelineId, i);
            prepared[i] = { client, range, bytesUploaded: uploaded, memoryBytes: reply.memoryBytes, loadMs: reply.loadMs, hold };
            emit({ type: "stageReady", node: client.name, layers: [range.start, range.end], bytesUploaded: uploaded, loadMs: reply.loadMs, memoryBytes: reply.memoryBytes });
        }).map((p) => p.catch((e: unknown) => { stop.abort(e); throw e; })));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed != null) throw o.signal?.aborted ? o.signal.reason : failed.reason;
        return prepared as PreparedStage[];
    } catch (e) {
        // Nothing stays loaded: close the pipeline on every node (prepared or still preparing).
        for (const p of prepared) p?.hold.cancel();
        await Promise.all(o.clients.map((c) => c.closePipeline(o.pipelineId).catch(() => {})));
        throw e;
    }
}

/** The node id of a connected node, proven by its certificate. */
function nodeIdOf(client: NodeClient): string {
    const id = client.serverNodeId;
    if (id == null || id !== client.node?.nodeId) throw new PipelineError(`node at ${client.address} has not been connected to (or its certificate and its answer name different nodes)`, client.address);
    return id;
}
