// Every gRPC method validates its input: garbage, truncated, oversized and out-of-range messages
// get INVALID_ARGUMENT, peers that have not joined get UNAUTHENTICATED, and the node keeps serving.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { NodeClient } from "../app/net/client.ts";
import { NodeClientConstructor, type ActivationMsg } from "../app/net/proto.ts";
import { RemotePipeline } from "../app/net/remote-pipeline.ts";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { CLUSTER_KEY, startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";

const dir = tempDir("proto");
let nodes: NodeProcess[] = [];
let pipeline: RemotePipeline;
let last: NodeClient;
let prompt: number[] = [];
const N_EMBD = 64;

const raw = (b: Buffer) => b;
const RawNode = grpc.makeGenericClientConstructor({
    Forward: { path: "/hearth.v1.Node/Forward", requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    PrepareStage: { path: "/hearth.v1.Node/PrepareStage", requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw }
}, "RawNode");

const encodeActivation = (m: Partial<ActivationMsg>): Buffer =>
    NodeClientConstructor.service.Forward!.requestSerialize({ pipelineId: pipeline.pipelineId, dtype: "F32", ...m }) as Buffer;

before(async () => {
    nodes = await Promise.all(["first", "last"].map((n) => startNode(n, path.join(dir, n))));
    const model = await buildModel(dir, "p", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL });
    const tok = await Tokenizer.load(model);
    prompt = tok.encode("Hello there");
    await tok.dispose();
    pipeline = await RemotePipeline.connect({
        modelPath: model, peers: nodes.map((n) => n.address), layers: [{ start: 0, end: 1 }, { start: 1, end: 3 }], clusterKey: CLUSTER_KEY,
        dataDir: path.join(dir, "coord"), stage: { contextSize: 128, maxSequences: 4, batchSize: 16, threads: 1 }
    });
    last = new NodeClient(nodes[1]!.address);
    await last.join(CLUSTER_KEY, "protocol-test");
});
after(async () => {
    last?.close();
    await pipeline?.close();
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens a Forward stream to the last stage's node, sends the given frames, and returns the final status. */
function forwardRaw(frames: Buffer[], metadata = last.metadata()): Promise<grpc.StatusObject> {
    const client = new RawNode(nodes[1]!.address, grpc.credentials.createInsecure());
    return new Promise((resolve) => {
        const call = (client as unknown as { Forward(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }).Forward(metadata);
        const timer = setTimeout(() => call.cancel(), 5000);
        call.on("data", () => {});
        call.on("status", (s: grpc.StatusObject) => { clearTimeout(timer); client.close(); resolve(s); });
        call.on("error", () => {});
        for (const f of frames) call.write(f);
    });
}

const hidden = (rows: number) => Buffer.from(new Float32Array(rows * N_EMBD).fill(0.25).buffer);

test("malformed activations are answered with INVALID_ARGUMENT and the node keeps serving", async () => {
    const valid = encodeActivation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1) });
    const cases: Array<[string, Buffer[], RegExp]> = [
        ["garbage bytes", [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02])], /malformed Forward message/],
        ["a truncated message", [valid.subarray(0, valid.length - 7)], /malformed Forward message/],
        ["wrong hidden size", [encodeActivation({ seqId: 2, pos: 0, nTokens: 2, hidden: hidden(1) })], /do not match 2 tokens × 64 values × 4 bytes = 512/],
        ["oversized batch", [encodeActivation({ seqId: 2, pos: 0, nTokens: 17, hidden: hidden(17) })], /n_tokens 17 is out of range 1-16/],
        ["unknown sequence", [encodeActivation({ seqId: 9, pos: 0, nTokens: 1, hidden: hidden(1) })], /unknown sequence 9/],
        ["unknown pipeline", [encodeActivation({ pipelineId: "nope", seqId: 0, pos: 0, nTokens: 1, hidden: hidden(1) })], /unknown pipeline 'nope'/],
        ["token ids into a later stage", [encodeActivation({ seqId: 2, pos: 0, nTokens: 1, tokens: [1] })], /takes hidden states, not token ids|the first stage/],
        ["no dtype", [encodeActivation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1), dtype: "DTYPE_UNSPECIFIED" })], /need a dtype/],
        ["non-finite values", [encodeActivation({ seqId: 2, pos: 0, nTokens: 1, hidden: Buffer.from(new Float32Array(64).fill(NaN).buffer) })], /not finite/],
        ["positions going backwards", [valid, encodeActivation({ seqId: 2, pos: 0, nTokens: 1, hidden: hidden(1) })], /positions may not go backwards/]
    ];
    for (const [name, frames, message] of cases) {
        const status = await forwardRaw(frames);
        assert.equal(status.code, grpc.status.INVALID_ARGUMENT, `${name}: ${status.details}`);
        assert.match(status.details, message, name);
        assert.equal((await last.health()).serving, true, `${name}: the node still serves`);
    }
    await last.releaseSequence(pipeline.pipelineId, 2);
    // The pipeline still generates.
    const out: number[] = [];
    for await (const t of pipeline.generate({ promptTokens: prompt, maxTokens: 4 })) out.push(t);
    assert.equal(out.length, 4);
});

test("malformed unary requests are INVALID_ARGUMENT too", async () => {
    const client = new RawNode(nodes[1]!.address, grpc.credentials.createInsecure());
    const call = (req: Buffer) => new Promise<grpc.ServiceError | null>((resolve) =>
        (client as unknown as { PrepareStage(b: Buffer, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void): void }).PrepareStage(req, last.metadata(), (e) => resolve(e)));
    const garbage = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(garbage?.code, grpc.status.INVALID_ARGUMENT);
    const badRange = NodeClientConstructor.service.PrepareStage!.requestSerialize({ pipelineId: "x", modelSha256: "a".repeat(64), stageSha256: "b".repeat(64), layers: { start: 3, end: 9 }, layerTotal: 4, stageBytes: 10, options: { contextSize: 1, maxSequences: 1, batchSize: 1 } }) as Buffer;
    const r = await call(badRange);
    assert.equal(r?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(r!.details, /layer range out of bounds/);
    client.close();
});

test("nothing is served to a peer that has not joined", async () => {
    const stranger = new NodeClient(nodes[1]!.address);
    await assert.rejects(stranger.getInfo(), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
    await assert.rejects(stranger.health(), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
    const status = await forwardRaw([encodeActivation({ seqId: 0, pos: 0, nTokens: 1, hidden: hidden(1) })], new grpc.Metadata());
    assert.equal(status.code, grpc.status.UNAUTHENTICATED);
    await assert.rejects(stranger.join(Buffer.from("00".repeat(16), "hex"), "intruder"), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /wrong cluster key/.test(e.details));
    stranger.close();
});
