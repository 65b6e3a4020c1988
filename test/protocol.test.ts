// Every gRPC method validates its input and its caller: garbage, truncated, oversized and
// out-of-range messages get INVALID_ARGUMENT, unknown pipelines NOT_FOUND, machines without a
// member certificate UNAUTHENTICATED (or no handshake), other members PERMISSION_DENIED on what
// they did not open; a bad step fails its sequence only.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { NodeClient } from "../app/protocol/node-client.ts";
import { nodeContract, type ForwardMessage, type PipelineEvent__Output } from "../app/protocol/proto.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import type { RemotePipeline } from "../app/coordinator/remote-pipeline.ts";
import { generate } from "../app/engine/generate.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";
import { enroll, memberChannel, memberClient, testCoordinator } from "./helpers/test-cluster.ts";
import { admissionChannelCredentials, nodeServerCredentials } from "../app/cluster/credentials.ts";
import { createNodeCluster } from "../app/cluster/node-cluster.ts";
import { NODE_CHANNEL_OPTIONS } from "../app/protocol/node-client.ts";

import { referenceGreedy } from "./helpers/reference.ts";
import { readGgufHeader } from "../app/gguf/reader.ts";
import { layoutGguf } from "../app/gguf/writer.ts";
import { u32 } from "../app/gguf/format.ts";
import { sliceStage } from "../app/stage/slice.ts";
import { ensureStageFiles, fileSha256 } from "../app/model/stage-cache.ts";

const dir = tempDir("proto");
let nodes: NodeProcess[] = [];
let pipeline: RemotePipeline;
let last: NodeClient;
let prompt: number[] = [];
let model = "";
const N_EMBD = 64;

const raw = (b: Buffer) => b;
const RawNode = grpc.makeGenericClientConstructor({
    Forward: { path: "/hearth.v1.Node/Forward", requestStream: true, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    PrepareStage: { path: "/hearth.v1.Node/PrepareStage", requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw }
}, "RawNode");

const forwardType = () => nodeContract().hearth.v1.Node.service.Forward!;
const encode = (m: ForwardMessage): Buffer => forwardType().requestSerialize(m) as Buffer;
const activation = (m: Record<string, unknown>): Buffer => encode({ activation: { pipelineId: pipeline.pipelineId, stageIndex: 1, epoch: 1, dtype: "F32", ...m } });

before(async () => {
    nodes = await Promise.all(["first", "last"].map((n) => startNode(n, path.join(dir, n))));
    model = await buildModel(dir, "p", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL });
    const tok = await Tokenizer.load(model);
    prompt = tok.encode("Hello there");
    await tok.dispose();
    pipeline = await connectPipeline({
        modelPath: model, peers: nodes.map((n) => n.address), layers: [{ start: 0, end: 1 }, { start: 1, end: 3 }], cluster: await testCoordinator(),
        dataDir: path.join(dir, "coord"), stage: { contextSize: 128, maxSequences: 4, batchSize: 16, threads: 1 }
    });
    last = await memberClient(nodes[1]!.address);
    await last.connect();
});
after(async () => {
    last?.close();
    await pipeline?.dispose();
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

/** A Forward stream to the last stage's node with the given frames; resolves with the call's status. */
async function forwardRaw(frames: Buffer[], metadata?: grpc.Metadata, credentials?: grpc.ChannelCredentials): Promise<grpc.StatusObject> {
    const md = metadata ?? (() => { const m = last.metadata(); m.set("x-hearth-pipeline-key", pipeline.options.pipelineKey); return m; })();
    const member = await memberChannel();
    const client = new RawNode(nodes[1]!.address, credentials ?? member.credentials, member.options);
    return new Promise((resolve) => {
        const call = (client as unknown as { Forward(md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer> }).Forward(md, () => {});
        const timer = setTimeout(() => call.cancel(), 3000);
        call.on("status", (s: grpc.StatusObject) => { clearTimeout(timer); client.close(); resolve(s); });
        for (const f of frames) call.write(f);
        call.end();
    });
}

const hidden = (rows: number) => Buffer.from(new Float32Array(rows * N_EMBD).fill(0.25).buffer);

test("malformed forward messages end that stream with INVALID_ARGUMENT (NOT_FOUND for an unknown pipeline); the node keeps serving", { timeout: 60000 }, async () => {
    const cases: Array<[string, Buffer[], grpc.status, RegExp]> = [
        ["garbage bytes", [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02])], grpc.status.INVALID_ARGUMENT, /malformed Forward message/],
        ["a truncated message", [activation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1) }).subarray(0, 40)], grpc.status.INVALID_ARGUMENT, /malformed Forward message/],
        ["an empty message", [encode({})], grpc.status.INVALID_ARGUMENT, /needs an activation or a release/],
        ["wrong hidden size", [activation({ seqId: 2, pos: 0, nTokens: 2, hidden: hidden(1) })], grpc.status.INVALID_ARGUMENT, /do not match 2 tokens × 64 values × 4 bytes = 512/],
        ["oversized batch", [activation({ seqId: 2, pos: 0, nTokens: 17, hidden: hidden(17) })], grpc.status.INVALID_ARGUMENT, /n_tokens 17 is out of range 1-16/],
        ["unknown sequence", [activation({ seqId: 9, pos: 0, nTokens: 1, hidden: hidden(1) })], grpc.status.INVALID_ARGUMENT, /unknown sequence 9/],
        ["unknown pipeline", [encode({ activation: { pipelineId: "nope", stageIndex: 1, seqId: 0, nTokens: 1 } })], grpc.status.NOT_FOUND, /unknown pipeline 'nope'/],
        ["token ids into a later stage", [activation({ seqId: 2, pos: 0, nTokens: 1, tokens: [1] })], grpc.status.INVALID_ARGUMENT, /takes hidden states, not token ids/],
        ["no dtype", [activation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1), dtype: "DTYPE_UNSPECIFIED" })], grpc.status.INVALID_ARGUMENT, /need a dtype/]
    ];
    for (const [name, frames, code, message] of cases) {
        const status = await forwardRaw(frames);
        assert.equal(status.code, code, `${name}: ${status.details}`);
        assert.match(status.details, message, name);
        assert.equal((await last.health()).serving, true, `${name}: the node still serves`);
    }
    const noKey = await forwardRaw([activation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1) })], last.metadata());
    assert.equal(noKey.code, grpc.status.PERMISSION_DENIED, "a stream without the pipeline's key");
    const r = await generate(pipeline, { promptTokens: prompt, maxTokens: 4 }).result;
    assert.equal(r.tokens.length, 4, "the pipeline still generates");
});

test("a step that is well formed but cannot run (non-finite values, a wrong position) fails its sequence only; a generation running meanwhile stays exact", { timeout: 60000 }, async () => {
    const ref = await referenceGreedy(model, prompt, 10, { contextSize: 128 });
    const events: PipelineEvent__Output[] = [];
    const stage1 = pipeline.stages[1]!.hold;
    const onData = (e: PipelineEvent__Output) => events.push(e);
    stage1.on("data", onData);
    const running = generate(pipeline, { promptTokens: prompt, maxTokens: 10, sampler: { temperature: 0 } });
    const status = await forwardRaw([
        activation({ seqId: 3, pos: 0, nTokens: 1, hidden: Buffer.from(new Float32Array(64).fill(NaN).buffer), step: 9001 }),
        activation({ seqId: 2, pos: 5, nTokens: 1, hidden: hidden(1), step: 9002 })
    ]);
    assert.equal(status.code, grpc.status.OK, `the stream itself is fine: ${status.details}`);
    const result = await running.result;
    assert.deepEqual(result.tokens, ref, "the other sequence is untouched");
    stage1.off("data", onData);
    const errors = events.filter((e) => e.error != null).map((e) => e.error!);
    assert.ok(errors.some((e) => e.step === 9001 && e.seqId === 3 && /not finite/.test(e.message) && e.grpcCode === grpc.status.INVALID_ARGUMENT), JSON.stringify(errors));
    assert.ok(errors.some((e) => e.step === 9002 && e.seqId === 2 && /does not follow its cache: the next position is 0/.test(e.message)), JSON.stringify(errors));
});

test("malformed unary requests are INVALID_ARGUMENT too", { timeout: 30000 }, async () => {
    const member = await memberChannel();
    const client = new RawNode(nodes[1]!.address, member.credentials, member.options);
    const call = (req: Buffer) => new Promise<grpc.ServiceError | null>((resolve) =>
        (client as unknown as { PrepareStage(b: Buffer, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void): void }).PrepareStage(req, last.metadata(), (e) => resolve(e)));
    const garbage = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(garbage?.code, grpc.status.INVALID_ARGUMENT);
    const prepare = nodeContract().hearth.v1.Node.service.PrepareStage!;
    const base = { pipelineId: "x", pipelineKey: "k".repeat(20), modelSha256: "a".repeat(64), stageSha256: "b".repeat(64), layerTotal: 4, stageBytes: 10, stageCount: 1, options: { contextSize: 1, maxSequences: 1, batchSize: 1 } };
    for (const [req, message] of [
        [{ ...base, layers: { start: 3, end: 9 } }, /layer range out of bounds/],
        [{ ...base, layers: { start: 0, end: 1 }, options: { contextSize: 1 << 21, maxSequences: 1, batchSize: 1 } }, /contextSize must be an integer from 1 to 1048576/],
        [{ ...base, layers: { start: 0, end: 1 }, options: { contextSize: 65536, maxSequences: 256, batchSize: 1 } }, /KV cells is over the limit/],
        [{ ...base, layers: { start: 0, end: 1 }, stageHeader: Buffer.from("not a gguf header at all, no") }, /stage header sent ahead is not usable/]
    ] as const) {
        const r = await call(prepare.requestSerialize(req as never) as Buffer);
        assert.equal(r?.code, grpc.status.INVALID_ARGUMENT, String(message));
        assert.match(r!.details, message);
    }
    client.close();
});

test("a stage whose hidden-state messages would exceed the gRPC size limit is refused at prepare, with the batch size that fits", { timeout: 60000 }, async () => {
    // The header of a middle stage 16,384 values wide (a 400B-class width), sent ahead: only the
    // header exists; the node refuses before any transfer.
    const mid = (await sliceStage(model, { start: 1, end: 2 }, path.join(dir, "mid-wide.gguf"))).path;
    const h = readGgufHeader(mid);
    const E = 16384;
    const kv = new Map(h.kv);
    kv.set("llama.embedding_length", u32(E));
    kv.set("llama.rope.dimension_count", u32(E / 4));
    const widen = (d: bigint) => (d === 64n ? BigInt(E) : d === 32n ? BigInt(E / 2) : d);
    const layout = layoutGguf(kv, h.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims.map(widen) })), h.alignment);
    const req = {
        pipelineId: "wide", pipelineKey: "k".repeat(20), stageIndex: 1, stageCount: 3, modelSha256: "c".repeat(64), stageSha256: "d".repeat(64),
        layers: { start: 1, end: 2 }, layerTotal: 3, stageBytes: Number(layout.end), nextAddress: nodes[1]!.address, nextNodeId: last.serverNodeId!, activations: "F32" as const,
        options: { contextSize: 64, maxSequences: 1, batchSize: 8192 }, stageHeader: layout.header
    };
    await assert.rejects(last.prepareStage(req), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT &&
        /a step of 8192 tokens × 16384 values would exceed the 64\.0 MB message limit; use a batch size of at most 1023/.test(e.details));
});

test("one node may host two stages of one pipeline (a machine with two GPUs, or a GPU and a CPU stage)", { timeout: 60000 }, async () => {
    const ref = await referenceGreedy(model, prompt, 6, { contextSize: 64 });
    const p = await connectPipeline({ modelPath: model, peers: [nodes[0]!.address, nodes[0]!.address], layers: [{ start: 0, end: 1 }, { start: 1, end: 3 }], cluster: await testCoordinator(), dataDir: path.join(dir, "coord"), stage: { contextSize: 64, maxSequences: 1 } });
    try {
        assert.deepEqual((await generate(p, { promptTokens: prompt, maxTokens: 6, sampler: { temperature: 0 } }).result).tokens, ref);
        assert.deepEqual((await p.nodeInfos())[0]!.stages.filter((s) => s.pipelineId === p.pipelineId).map((s) => s.stageIndex).sort(), [0, 1]);
    } finally {
        await p.dispose();
    }
});

test("a partial upload larger than its stage is discarded, and the stage is sent whole", { timeout: 60000 }, async () => {
    const fresh = await startNode("partial", path.join(dir, "partial"));
    try {
        const [stage] = await ensureStageFiles(model, [{ start: 0, end: 3 }], path.join(dir, "coord"));
        const sha = await fileSha256(stage!.path, path.join(dir, "coord"));
        const bytes = fs.statSync(stage!.path).size;
        const stages = path.join(dir, "partial", "stages", "v1");
        fs.mkdirSync(stages, { recursive: true });
        fs.writeFileSync(path.join(stages, `${sha}.gguf.partial`), Buffer.alloc(bytes + 4096, 1));
        const p = await connectPipeline({ modelPath: model, peers: [fresh.address], layers: [{ start: 0, end: 3 }], cluster: await testCoordinator(), dataDir: path.join(dir, "coord"), stage: { contextSize: 64, maxSequences: 1 } });
        try {
            assert.equal(p.stages[0]!.bytesUploaded, bytes, "sent from byte 0");
            assert.equal((await generate(p, { promptTokens: prompt, maxTokens: 2 }).result).tokens.length, 2);
        } finally {
            await p.dispose();
        }
    } finally {
        await stopNode(fresh);
    }
});

test("members only: a machine without a member certificate gets UNAUTHENTICATED on every method, one of another cluster no handshake, another member PERMISSION_DENIED on a pipeline it did not open", { timeout: 60000 }, async () => {
    // No client certificate (a machine that has not joined): TLS completes, every Node method is refused.
    const stranger = new NodeClient(nodes[1]!.address, { cluster: await testCoordinator() });
    (stranger as unknown as { raw: unknown }).raw = new (nodeContract().hearth.v1.Node)(nodes[1]!.address, admissionChannelCredentials(), NODE_CHANNEL_OPTIONS);
    const isUnauth = (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /serves only members/.test(e.details);
    await assert.rejects(stranger.getInfo(), isUnauth);
    await assert.rejects(stranger.health(), isUnauth);
    await assert.rejects(stranger.closePipeline(pipeline.pipelineId), isUnauth);
    await assert.rejects(stranger.prepareStage({ pipelineId: "x" }), isUnauth);
    await assert.rejects(stranger.syncMembers([]), isUnauth);
    await assert.rejects(stranger.removeMember("0".repeat(32)), isUnauth);
    await assert.rejects(stranger.createInvite(), isUnauth);
    await assert.rejects(stranger.getPeers(), isUnauth);
    await assert.rejects(stranger.upload(model, { modelSha256: "a".repeat(64), layers: { start: 0, end: 1 }, stageSha256: "a".repeat(64), stageBytes: 10 }, 0), isUnauth);
    await assert.rejects(new Promise((_, reject) => stranger.attach(pipeline.pipelineId, 1).on("error", reject)), isUnauth);
    const status = await forwardRaw([activation({ seqId: 0, pos: 0, nTokens: 1, hidden: hidden(1) })], undefined, admissionChannelCredentials());
    assert.equal(status.code, grpc.status.UNAUTHENTICATED);
    stranger.close();
    // A member of another cluster: its certificate is not signed by this cluster's CA, so no call gets through; the error says why.
    const other = await createNodeCluster(path.join(dir, "other-cluster"), { nodeName: "neighbour" });
    const foreign = new NodeClient(nodes[1]!.address, { cluster: other });
    await assert.rejects(foreign.connect(5000), /is a member of another cluster .* run 'hearth leave' on it, then join this cluster/);
    await assert.rejects(foreign.health(3000), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    foreign.close();
    // Another member: served, but not the owner of this pipeline.
    const otherMember = new NodeClient(nodes[1]!.address, { cluster: await enroll(path.join(dir, "other-member"), "other-coordinator") });
    await otherMember.connect();
    await assert.rejects(otherMember.closePipeline(pipeline.pipelineId), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /belongs to 'test-coordinator'/.test(e.details));
    await assert.rejects(new Promise((_, reject) => otherMember.attach(pipeline.pipelineId, 1).on("error", reject)), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    await assert.rejects(otherMember.createInvite(), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /'last' does not hold the cluster's keys; ask the machine that created the cluster/.test(e.details));
    otherMember.close();
    // A stage links downstream only to a member, named by its node id (never to whatever host a caller names).
    const base = {
        pipelineId: "link", pipelineKey: "k".repeat(20), stageIndex: 0, stageCount: 2, modelSha256: "c".repeat(64), stageSha256: "d".repeat(64),
        layers: { start: 0, end: 1 }, layerTotal: 3, stageBytes: 4096, nextAddress: "127.0.0.1:9", activations: "F32" as const, options: { contextSize: 64, maxSequences: 1, batchSize: 8 }
    };
    for (const nextNodeId of ["", "ab".repeat(16)])
        await assert.rejects(last.prepareStage({ ...base, nextNodeId }), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /is not a member of this cluster: a stage links only to members/.test(e.details), `next node '${nextNodeId}'`);
    assert.equal((await generate(pipeline, { promptTokens: prompt, maxTokens: 2 }).result).tokens.length, 2, "the owner's pipeline still works");
});

test("a coordinator refuses a node of another protocol version, naming it", { timeout: 30000 }, async () => {
    // A stand-in member node that answers GetInfo with protocol 1.
    const server = new grpc.Server();
    const Node = nodeContract().hearth.v1.Node;
    const oldie = await enroll(path.join(dir, "oldie"), "oldie");
    server.addService(Node.service, { getInfo: (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { name: "oldie", version: "0.0.1", protocol: 1, nodeId: oldie.identity.nodeId }) } as never);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", nodeServerCredentials(oldie.identity, oldie.membership), (e, p) => (e ? reject(e) : resolve(p))));
    try {
        await assert.rejects(connectPipeline({ modelPath: model, peers: [`127.0.0.1:${port}`], layers: [{ start: 0, end: 3 }], cluster: await testCoordinator(), dataDir: path.join(dir, "coord") }),
            /node 'oldie' .* runs Hearth 0\.0\.1 with protocol 1; this machine speaks protocol 5 — update Hearth/);
    } finally {
        server.forceShutdown();
    }
});
