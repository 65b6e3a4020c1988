// A Hearth node: hosts pipeline stages for the cluster. Composes the gRPC service (service.ts),
// the stage store and uploads (stage-store.ts), memory reservations (resources.ts), and the
// hosted stages with their executors, leases and downstream links (hosted-stage.ts).
import os from "node:os";
import * as grpc from "@grpc/grpc-js";
import { loadAddon, type NativeAddon } from "../native/addon.ts";
import { getLlamaInstance } from "../native/llama.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { estimateStageGpuMemory, estimateStageMemory } from "../placement/memory.ts";
import { StageRuntime } from "../stage/runtime.ts";
import { ModelFileError, checkModelHeader } from "../stage/model-check.ts";
import { resolveStageOptions, StageOptionsError, type StageOptions } from "../stage/options.ts";
import { GgufError, readGgufHeaderFromBytes } from "../gguf/reader.ts";
import { formatBytes } from "../util/format.ts";
import { EventHub } from "../util/event-hub.ts";
import { HEARTH_VERSION } from "../version.ts";
import { ADMISSION_PATH_PREFIX, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, type NodeInfo, type PrepareStageReply, type PrepareStageRequest__Output } from "../protocol/proto.ts";
import { nodeServerCredentials } from "../cluster/credentials.ts";
import { membersOnly } from "../cluster/members-only.ts";
import { formatHostPort } from "../cluster/host-port.ts";
import { Inventory } from "../cluster/inventory.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { CLUSTER_CA_CAPABILITY, ClusterRuntime } from "./cluster-runtime.ts";
import { ModelHost, type PlannedStage } from "../host/model-host.ts";
import type { HostedModelWire } from "../cluster/cluster-view.ts";
import { DownstreamLink } from "./downstream.ts";
import { NodeError, invalid } from "./errors.ts";
import { applyNodeEvent, initialNodeState, type NodeEvent, type NodeState } from "./events.ts";
import { HostedStage } from "./hosted-stage.ts";
import { MemoryLedger } from "./resources.ts";
import { NodeService, type Caller } from "./service.ts";
import { SHA256_RE, StageStore } from "./stage-store.ts";
import { bytesPerValue } from "./activations.ts";

export interface NodeOptions {
    /** shown to peers and in messages */
    name: string;
    /** the address to listen on (and advertise). Defaults to 0.0.0.0: every interface, advertising the LAN ones */
    host?: string;
    /** 0: any free port. */
    port: number;
    dataDir: string;
    /** this node's cluster (node-cluster.ts): its certificates and member list */
    cluster: NodeCluster;
    /** whether to advertise and browse on the LAN with mDNS. Defaults to true */
    discovery?: boolean;
    /** whether to measure this machine's speed profile (once; then cached in the data dir). Defaults to true */
    measureSpeed?: boolean;
    /** how long a join code made here can be used. Defaults to 10 minutes */
    inviteValidityMs?: number;
    /** how often the member list is exchanged with every member. Defaults to 15000 ms */
    memberSyncMs?: number;
    /** called when this node is removed from its cluster (it stops serving) */
    onRemovedFromCluster?: () => void;
    /** the most memory this node lets its stages use. Defaults to the machine's RAM less a safety share */
    memoryLimitBytes?: number;
    /** the most GPU memory this node lets its stages use. Defaults to the GPU's memory less a reserve (max(10 %, 512 MiB)) */
    gpuMemoryLimitBytes?: number;
    /** how long a stage stays loaded while no coordinator holds it. Defaults to 30 s */
    leaseMs?: number;
    log?: (line: string) => void;
}

const PIPELINE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PIPELINE_KEY = /^[A-Za-z0-9_-]{16,128}$/;
const ADDRESS = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;
/** bytes of an activation message besides its hidden states */
const MESSAGE_OVERHEAD = 64 * 1024;

export class HearthNode {
    private readonly server: grpc.Server;
    private runtimeRef: ClusterRuntime | null = null;
    private inventoryRef: Inventory | null = null;
    private hostRef: ModelHost | null = null;
    readonly stages = new Map<string, HostedStage>();
    private readonly preparing = new Map<string, Promise<PrepareStageReply>>();
    /** pipelines closed by their owner while a stage of theirs was still being prepared: that stage is dropped when it is ready */
    private readonly closedWhilePreparing = new Map<string, string>();
    readonly store: StageStore;
    readonly memory: MemoryLedger;
    readonly events: EventHub<NodeState, NodeEvent>;
    private readonly started = performance.now();
    private addonRef: NativeAddon | null = null;
    private backendName = "cpu";
    private disposed = false;
    port = 0;

    private constructor(readonly options: NodeOptions) {
        this.server = new grpc.Server({
            "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
            "grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.keepalive_permit_without_calls": 1,
            "grpc.http2.min_ping_interval_without_data_ms": 5000, "grpc.max_concurrent_streams": 256,
            interceptors: [membersOnly(this.options.cluster.members, { isOpen: (p) => p.startsWith(ADMISSION_PATH_PREFIX) })]
        });
        this.events = new EventHub(initialNodeState(options.name), applyNodeEvent);
        this.store = new StageStore(options.dataDir, (p) => this.events.emit(p.done
            ? { type: "uploadFinished", stageSha256: p.stageSha256, bytes: p.bytesTotal }
            : { type: "uploadProgress", stageSha256: p.stageSha256, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }));
        this.memory = new MemoryLedger({
            ...(options.memoryLimitBytes != null ? { limitBytes: options.memoryLimitBytes } : {}),
            ...(options.gpuMemoryLimitBytes != null ? { gpuLimitBytes: options.gpuMemoryLimitBytes } : {})
        });
    }

    static async start(options: NodeOptions): Promise<HearthNode> {
        const node = new HearthNode(options);
        node.addonRef = await loadAddon();
        const gpu = (await getLlamaInstance()).gpu;
        node.backendName = gpu === false ? "cpu" : gpu;
        await node.memory.refresh();
        node.inventoryRef = await Inventory.start({ dataDir: options.dataDir, measureSpeed: options.measureSpeed ?? true });
        const service = new NodeService(node);
        node.server.addService(...service.definition());
        node.server.addService(...service.admission());
        const host = options.host ?? "0.0.0.0";
        try {
            node.port = await new Promise<number>((resolve, reject) =>
                node.server.bindAsync(formatHostPort({ host, port: options.port }), nodeServerCredentials(options.cluster.identity, options.cluster.membership),
                    (e, port) => (e ? reject(e) : resolve(port))));
        } catch (e) {
            await node.inventoryRef.dispose();
            throw new Error(`cannot listen on ${host}:${options.port} (${(e as Error).message}): another program may use the port (is Hearth running already?) — choose another port (hearth node --port, or $HEARTH_PORT for the app)`);
        }
        node.runtimeRef = new ClusterRuntime({
            cluster: options.cluster, name: options.name, port: node.port, host, inventory: node.inventoryRef,
            ...(options.discovery != null ? { discovery: options.discovery } : {}),
            ...(options.inviteValidityMs != null ? { inviteValidityMs: options.inviteValidityMs } : {}),
            ...(options.memberSyncMs != null ? { syncIntervalMs: options.memberSyncMs } : {}),
            onRemoved: (nodeId) => node.memberRemoved(nodeId),
            log: (line) => node.log(line)
        });
        node.hostRef = new ModelHost({
            cluster: options.cluster, nodeId: node.nodeId, name: options.name, dataDir: options.dataDir,
            candidates: () => node.clusterRuntime.liveMembers(),
            refreshCandidates: async () => {
                await node.clusterRuntime.refreshPeers();
                const own = await node.info();
                return node.clusterRuntime.liveMembers().map((m) => ({
                    ...m, info: m.nodeId === node.nodeId ? {
                        totalMemoryBytes: Number(own.totalMemoryBytes ?? 0), freeMemoryBytes: Number(own.freeMemoryBytes ?? 0), backend: own.backend ?? "cpu", inventoryJson: own.inventoryJson ?? "",
                        gpuTotalBytes: Number(own.gpuTotalBytes ?? 0), gpuFreeBytes: Number(own.gpuFreeBytes ?? 0),
                        links: node.clusterRuntime.links().map((l) => ({ nodeId: l.nodeId, latencyMs: l.latencyMs, bandwidthMbs: l.bandwidthMBs ?? 0, measuredAtMs: l.measuredAtMs }))
                    } : node.clusterRuntime.infoOf(m.nodeId)!
                })).filter((m) => m.info != null);
            },
            log: (line) => node.log(line)
        });
        node.runtimeRef.view.subscribe(() => node.hostRef?.candidatesChanged());
        node.hostRef.events.subscribe(() => node.runtimeRef?.ownModelChanged(node.hostedModel()));
        node.events.emit({ type: "started", name: options.name, port: node.port });
        return node;
    }

    get name(): string { return this.options.name; }
    get nodeId(): string { return this.options.cluster.identity.nodeId; }
    get cluster(): NodeCluster { return this.options.cluster; }
    /** The node's life in its cluster; UNAVAILABLE in the moment between listening and having it. */
    get clusterRuntime(): ClusterRuntime {
        if (this.runtimeRef == null) throw new NodeError(grpc.status.UNAVAILABLE, "the node is starting; try again in a moment");
        return this.runtimeRef;
    }
    get inventory(): Inventory { return this.inventoryRef!; }
    /** The cluster's model, when this node hosts it. */
    get host(): ModelHost {
        if (this.hostRef == null) throw new NodeError(grpc.status.UNAVAILABLE, "the node is starting; try again in a moment");
        return this.hostRef;
    }

    /** A member was removed: its pipelines here are closed; when it is this node, it stops serving. */
    private memberRemoved(nodeId: string): void {
        for (const s of [...this.stages.values()]) if (s.options.ownerNodeId === nodeId) void s.close("its coordinator was removed from the cluster");
        if (nodeId === this.nodeId) {
            this.log("stopping: this node is no longer a member (run 'hearth leave' to forget the cluster, then join again with a new code)");
            // Pass the news on first (the members still take this node's calls until they hear it).
            void this.clusterRuntime.syncAll().finally(() => this.options.onRemovedFromCluster?.());
        }
    }
    get addon(): NativeAddon { return this.addonRef!; }
    get leaseMs(): number { return this.options.leaseMs ?? 30000; }
    get uptimeSeconds(): number { return (performance.now() - this.started) / 1000; }

    log(line: string) { this.options.log?.(`[${this.options.name}] ${line}`); }

    async info(): Promise<NodeInfo> {
        await this.memory.refresh();
        const mem = this.memory.snapshot();
        return {
            name: this.options.name, version: HEARTH_VERSION, protocol: PROTOCOL_VERSION, os: `${process.platform} ${process.arch}`,
            backend: this.backendName, totalMemoryBytes: mem.totalBytes, freeMemoryBytes: mem.freeBytes, reservedMemoryBytes: mem.reservedBytes,
            cpuThreads: os.availableParallelism(),
            capabilities: ["f16-activations", "resumable-upload", "in-band-release", ...(this.options.cluster.authority != null ? [CLUSTER_CA_CAPABILITY] : [])],
            stages: [...this.stages.values()].map((s) => s.status()),
            nodeId: this.nodeId, clusterId: this.options.cluster.membership.clusterId,
            inventoryJson: this.inventoryRef == null ? "" : JSON.stringify(this.inventoryRef.snapshot),
            hostedModel: this.hostedModel(),
            gpuTotalBytes: mem.gpuTotalBytes, gpuFreeBytes: mem.gpuFreeBytes,
            links: this.runtimeRef == null ? [] : this.runtimeRef.links().map((l) => ({ nodeId: l.nodeId, latencyMs: l.latencyMs, bandwidthMbs: l.bandwidthMBs ?? 0, measuredAtMs: l.measuredAtMs }))
        };
    }

    /** The cluster's model as NodeInfo carries it, when this node hosts one. */
    hostedModel(): HostedModelWire | null {
        const m = this.hostRef?.state;
        if (m == null) return null;
        const stages = (list: PlannedStage[]) => list.map((st) => ({
            nodeId: st.nodeId, name: st.name, layerStart: st.layers[0], layerEnd: st.layers[1], memoryBytes: st.memoryBytes,
            gpuLayers: st.gpuLayers, predictedMsPerToken: st.predictedMsPerToken ?? 0
        }));
        return {
            name: m.name, modelSha256: m.modelSha256, hostNodeId: this.nodeId, hostName: this.options.name, state: m.state, message: m.message, planVersion: m.planVersion,
            predictedTokensPerSecond: m.predictedTokensPerSecond ?? 0, stages: stages(m.stages),
            proposed: m.proposed == null ? null : { reason: m.proposed.reason, predictedTokensPerSecond: m.proposed.predictedTokensPerSecond ?? 0, stages: stages(m.proposed.stages) }
        };
    }

    /** The hosted stage for a message; NOT_FOUND when this node does not hold it (it restarted, or the lease ran out). */
    stage(pipelineId: string, stageIndex: number): HostedStage {
        const s = this.stages.get(`${pipelineId}/${stageIndex}`);
        if (s == null) throw new NodeError(grpc.status.NOT_FOUND, `unknown pipeline '${String(pipelineId).slice(0, 64)}' stage ${stageIndex} (prepare it first; it may have been freed)`);
        return s;
    }

    // ---- preparing a stage ---------------------------------------------------------------------

    async prepareStage(req: PrepareStageRequest__Output, caller: Caller): Promise<PrepareStageReply> {
        if (this.disposed) throw new NodeError(grpc.status.UNAVAILABLE, "the node is shutting down");
        const options = this.validatePrepare(req);
        const key = `${req.pipelineId}/${req.stageIndex}`;
        const existing = this.stages.get(key);
        if (existing != null) {
            if (existing.options.stageSha256 !== req.stageSha256 || existing.options.ownerNodeId !== caller.nodeId)
                throw new NodeError(grpc.status.ALREADY_EXISTS, `pipeline ${req.pipelineId} stage ${req.stageIndex} already holds another stage here`);
            return { status: "READY", resumeOffset: 0, loadMs: 0, memoryBytes: existing.reservation.bytes };
        }
        const inFlight = this.preparing.get(key);
        if (inFlight != null) return inFlight;
        const run = this.prepareNew(req, options, caller).finally(() => this.preparing.delete(key));
        this.preparing.set(key, run);
        return run;
    }

    private validatePrepare(req: PrepareStageRequest__Output): StageOptions {
        if (!PIPELINE_ID.test(req.pipelineId)) throw invalid("pipeline id must be 1-64 characters of [A-Za-z0-9_-]");
        if (!PIPELINE_KEY.test(req.pipelineKey)) throw invalid("pipeline key must be 16-128 characters of [A-Za-z0-9_-]");
        if (!SHA256_RE.test(req.modelSha256) || !SHA256_RE.test(req.stageSha256)) throw invalid("model and stage hashes must be 64 lowercase hex characters");
        const r = req.layers;
        if (r == null || r.end <= r.start || r.end > req.layerTotal || req.layerTotal > 4096) throw invalid("layer range out of bounds");
        if (req.stageCount < 1 || req.stageCount > 256 || req.stageIndex >= req.stageCount) throw invalid(`stage ${req.stageIndex} of ${req.stageCount} is out of range`);
        if (req.stageBytes <= 0 || req.stageBytes > 2 ** 45) throw invalid("stage size out of range");
        if (req.nextAddress !== "" && !ADDRESS.test(req.nextAddress)) throw invalid(`bad next address '${req.nextAddress.slice(0, 100)}'`);
        if ((req.nextAddress === "") !== (req.stageIndex === req.stageCount - 1)) throw invalid("every stage but the last needs the next stage's address");
        if (req.nextAddress !== "" && !this.options.cluster.members.isMember(req.nextNodeId))
            throw new NodeError(grpc.status.PERMISSION_DENIED, `the next stage's node ${String(req.nextNodeId).slice(0, 32) || "(none given)"} is not a member of this cluster: a stage links only to members`);
        if (req.nextAddress !== "" && bytesPerValue(req.activations) == null) throw invalid("activations must be F32 or F16");
        const o = req.options;
        if (o == null) throw invalid("stage options are missing");
        try {
            return resolveStageOptions({
                contextSize: o.contextSize, maxSequences: o.maxSequences, batchSize: o.batchSize, threads: o.threads, gpuLayers: Math.max(0, o.gpuLayers),
                flashAttention: o.flashAttention === "FLASH_ATTENTION_ON" ? "on" : o.flashAttention === "FLASH_ATTENTION_OFF" ? "off" : "auto"
            });
        } catch (e) {
            if (e instanceof StageOptionsError) throw invalid(e.message);
            throw e;
        }
    }

    private async prepareNew(req: PrepareStageRequest__Output, options: StageOptions, caller: Caller): Promise<PrepareStageReply> {
        const range = req.layers!;
        const file = await this.store.verified(req.stageSha256, req.stageBytes);
        let header;
        if (file == null) {
            // Not here yet: check the header sent ahead, and refuse what could not fit before any transfer.
            try {
                header = readGgufHeaderFromBytes(req.stageHeader, `stage ${req.stageSha256.slice(0, 12)}`, BigInt(req.stageBytes));
                checkModelHeader(header, `the stage file of layers ${range.start}-${range.end}`, { role: "stage" });
            } catch (e) {
                throw invalid(`the stage header sent ahead is not usable: ${(e as Error).message}`);
            }
        } else {
            try {
                header = readGgufHeader(file);
            } catch (e) {
                await this.store.remove(req.stageSha256);
                throw new NodeError(grpc.status.DATA_LOSS, `the cached stage file was unreadable and was removed (${(e as Error).message}); send it again`);
            }
        }
        // Memory from the stage's own header and the options: a peer's number is never trusted.
        const nEmbd = Number(header.tensors.find((t) => t.name === "output_norm.weight")?.dims[0] ?? 0n);
        const need = estimateStageMemory(header, req.stageBytes, options);
        const outBytes = options.batchSize * nEmbd * (bytesPerValue(req.activations) ?? 4) + MESSAGE_OVERHEAD;
        if (outBytes > MAX_MESSAGE_BYTES || options.batchSize * nEmbd * 4 + MESSAGE_OVERHEAD > MAX_MESSAGE_BYTES)
            throw new NodeError(grpc.status.INVALID_ARGUMENT, `a step of ${options.batchSize} tokens × ${nEmbd} values would exceed the ${formatBytes(MAX_MESSAGE_BYTES)} message limit; ` +
                `use a batch size of at most ${Math.floor((MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD) / (nEmbd * 4))}`);
        const gpu = estimateStageGpuMemory(header, options);
        await this.memory.refresh();
        const before = this.memory.snapshot();
        if (gpu.totalBytes > 0 && before.gpuTotalBytes === 0)
            throw new NodeError(grpc.status.RESOURCE_EXHAUSTED, `node '${this.options.name}' has no GPU that llama.cpp can use (backend ${this.backendName}); layers ${range.start}-${range.end} were sent with ` +
                `${options.gpuLayers} GPU layers — plan again (hearth load places layers by each machine's GPU memory) or give this node 0 GPU layers`);
        if (gpu.totalBytes > before.gpuFreeBytes)
            throw new NodeError(grpc.status.RESOURCE_EXHAUSTED, `node '${this.options.name}' has ${formatBytes(before.gpuFreeBytes)} of GPU memory free; layers ${range.start}-${range.end} with ` +
                `${gpu.gpuLayers} on the GPU${gpu.outputOnGpu ? " (and the output head)" : ""} need ${formatBytes(gpu.totalBytes)} there (${formatBytes(gpu.totalBytes - before.gpuFreeBytes)} more) — ` +
                `put fewer of its layers on the GPU, use a shorter context, or choose a smaller quantization`);
        // RAM: on a GPU of its own the GPU part is not in RAM; unified memory holds both.
        const ramBytes = before.unified ? need.totalBytes : Math.max(0, need.totalBytes - gpu.weightsBytes - gpu.kvBytes);
        const fits = () => ramBytes <= this.memory.snapshot().freeBytes && gpu.totalBytes <= this.memory.snapshot().gpuFreeBytes;
        const reservation = file == null ? null : this.memory.tryReserve(ramBytes, `${req.pipelineId}/${req.stageIndex}`, gpu.totalBytes);
        if (file == null ? !fits() : reservation == null) {
            const now = this.memory.snapshot();
            if (gpu.totalBytes > now.gpuFreeBytes)
                throw new NodeError(grpc.status.RESOURCE_EXHAUSTED, `node '${this.options.name}' has ${formatBytes(now.gpuFreeBytes)} of GPU memory free now; layers ${range.start}-${range.end} need ` +
                    `${formatBytes(gpu.totalBytes)} there — another stage took it meanwhile; plan again`);
            const free = now.freeBytes;
            throw new NodeError(grpc.status.RESOURCE_EXHAUSTED, `node '${this.options.name}' has ${formatBytes(free)} free; layers ${range.start}-${range.end} need ${formatBytes(ramBytes)}` +
                ` (${formatBytes(ramBytes - free)} more) — add a machine, give this one fewer layers, use a shorter context, or choose a smaller quantization`);
        }
        if (file == null || reservation == null) return { status: "NEED_UPLOAD", resumeOffset: await this.store.resumeOffset(req.stageSha256, req.stageBytes), loadMs: 0, memoryBytes: 0 };
        const t0 = performance.now();
        this.events.emit({ type: "stageLoading", pipelineId: req.pipelineId, stageIndex: req.stageIndex, layers: [range.start, range.end] });
        let stage: StageRuntime;
        try {
            stage = await StageRuntime.load(file, options);
        } catch (e) {
            reservation.release();
            if (e instanceof ModelFileError || e instanceof GgufError || /could not load|input embedding table|truncated/.test((e as Error).message)) {
                await this.store.remove(req.stageSha256);
                throw new NodeError(grpc.status.FAILED_PRECONDITION, `the stage file could not be loaded and was removed: ${(e as Error).message}`);
            }
            throw e;
        }
        if (stage.range.start !== range.start || stage.range.end !== range.end || stage.layerTotal !== req.layerTotal || stage.last !== (req.nextAddress === "")) {
            await stage.dispose();
            reservation.release();
            await this.store.remove(req.stageSha256);
            throw new NodeError(grpc.status.DATA_LOSS, `the stage file holds layers ${stage.range.start}-${stage.range.end} of ${stage.layerTotal}, not ${range.start}-${range.end} of ${req.layerTotal}; it was removed`);
        }
        let downstream: DownstreamLink | null = null;
        let hosted: HostedStage | null = null;
        if (req.nextAddress !== "") {
            try {
                downstream = await DownstreamLink.open({
                    address: req.nextAddress, nodeId: req.nextNodeId, cluster: this.options.cluster, pipelineKey: req.pipelineKey,
                    onStatus: (connected, message) => hosted?.linkChanged(connected, message)
                });
            } catch (e) {
                await stage.dispose();
                reservation.release();
                throw new NodeError(grpc.status.UNAVAILABLE, `cannot reach the next stage at ${req.nextAddress}: ${(e as Error).message}`);
            }
        }
        if (this.disposed || this.closedWhilePreparing.get(req.pipelineId) === caller.nodeId) {
            downstream?.close();
            await stage.dispose();
            reservation.release();
            if (this.disposed) throw new NodeError(grpc.status.UNAVAILABLE, "the node is shutting down");
            throw new NodeError(grpc.status.CANCELLED, `pipeline ${req.pipelineId} was closed while its stage was being prepared`);
        }
        hosted = new HostedStage(stage, reservation, downstream, {
            pipelineId: req.pipelineId, stageIndex: req.stageIndex, stageCount: req.stageCount, modelSha256: req.modelSha256, stageSha256: req.stageSha256,
            ownerNodeId: caller.nodeId, ownerName: caller.name, pipelineKey: req.pipelineKey, nodeName: this.options.name,
            activations: req.activations === "F16" ? "F16" : "F32", leaseMs: this.leaseMs, addon: this.addon,
            emit: (e) => this.events.emit(e), onClosed: (s) => { if (this.stages.get(s.key) === s) this.stages.delete(s.key); }
        });
        this.stages.set(hosted.key, hosted);
        const loadMs = performance.now() - t0;
        this.events.emit({ type: "stageLoaded", pipelineId: req.pipelineId, stageIndex: req.stageIndex, layers: [range.start, range.end], loadMs, memoryBytes: reservation.bytes });
        this.log(`pipeline ${req.pipelineId}: stage ${req.stageIndex + 1}/${req.stageCount}, layers ${range.start}-${range.end} of ${req.layerTotal} loaded (${formatBytes(reservation.bytes)} reserved)${req.nextAddress ? `, next ${req.nextAddress}` : ", last stage"}`);
        return { status: "READY", resumeOffset: 0, loadMs, memoryBytes: reservation.bytes };
    }

    async closePipeline(pipelineId: string, callerNodeId: string | null, reason: string): Promise<void> {
        if (callerNodeId != null && [...this.preparing.keys()].some((k) => k.startsWith(`${pipelineId}/`))) {
            this.closedWhilePreparing.set(pipelineId, callerNodeId);
            setTimeout(() => this.closedWhilePreparing.delete(pipelineId), 10 * 60 * 1000).unref();
        }
        for (const s of [...this.stages.values()]) {
            if (s.options.pipelineId !== pipelineId) continue;
            if (callerNodeId != null && s.options.ownerNodeId !== callerNodeId)
                throw new NodeError(grpc.status.PERMISSION_DENIED, `pipeline ${pipelineId} belongs to '${s.options.ownerName}'; only it may close it`);
            await s.close(reason);
        }
    }

    /** Closes every stage, then the server (calls in flight get 2 s). */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        await this.hostRef?.dispose();
        await Promise.all([...this.stages.values()].map((s) => s.close("the node is shutting down")));
        await this.runtimeRef?.dispose();
        await this.inventoryRef?.dispose();
        const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
        await Promise.race([graceful, new Promise((r) => setTimeout(r, 2000).unref())]);
        this.server.forceShutdown();
    }
}
