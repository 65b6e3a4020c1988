// Hostile peers: at least 2,000 mutated messages for every gRPC method, sent raw (authenticated
// and not) to a real node process. The node must answer every one (no hang), never crash, and keep
// its memory bounded; a real pipeline through it must still work afterwards.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { NodeClient } from "../app/protocol/node-client.ts";
import { nodeContract } from "../app/protocol/proto.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import { generate } from "../app/engine/generate.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { startNode, stopNode, type NodeProcess } from "./helpers/nodes.ts";
import { memberChannel, memberClient, testCoordinator } from "./helpers/test-cluster.ts";
import { admissionChannelCredentials } from "../app/cluster/credentials.ts";


const PER_METHOD = Number(process.env.FUZZ_GRPC_PER_METHOD ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const dir = tempDir("fuzz-grpc");
let node: NodeProcess;
let client: NodeClient;
let model = "";

before(async () => {
    node = await startNode("fuzzed", path.join(dir, "node"), ["--lease-ms", "1000"]);
    client = await memberClient(node.address);
    await client.connect();
    model = await buildModel(dir, "m", { arch: "llama", vocab: "llama-spm", layers: 2, type: "f32", tied: false, ...SMALL });
});
after(async () => {
    client?.close();
    await stopNode(node);
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Deterministic random numbers (mulberry32). */
function rng(seed: number) {
    let a = seed >>> 0;
    return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

function mutate(valid: Buffer, r: () => number): Buffer {
    const b = Buffer.from(valid);
    switch (Math.floor(r() * 6)) {
        case 0: { for (let i = 0; i < 1 + Math.floor(r() * 4); i++) if (b.length > 0) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8); return b; }
        case 1: return b.subarray(0, Math.floor(r() * b.length));
        case 2: return Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
        case 3: { if (b.length > 0) b[Math.floor(r() * b.length)] = [0x00, 0xff, 0x7f, 0x80][Math.floor(r() * 4)]!; return b; }
        case 4: return Buffer.concat([b, Buffer.from([Math.floor(r() * 256), 0xff, 0xff, 0xff, 0xff, 0x0f])]);
        default: { const i = Math.floor(r() * (b.length + 1)); return Buffer.concat([b.subarray(0, i), Buffer.from([0x0a, 0xff, 0xff, 0x03]), b.subarray(i)]); }
    }
}

const rawBytes = (b: Buffer) => b;
const methods = { ...nodeContract().hearth.v1.Node.service, ...nodeContract().hearth.v1.Admission.service };
const RawNode = grpc.makeGenericClientConstructor(Object.fromEntries(Object.entries(methods).map(([name, m]) => [name, {
    path: m.path, requestStream: m.requestStream, responseStream: m.responseStream,
    requestSerialize: rawBytes, requestDeserialize: rawBytes, responseSerialize: rawBytes, responseDeserialize: rawBytes
}])), "RawNode");

function rssMb(pid: number): number {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

test(`fuzz: ${PER_METHOD} mutated messages per gRPC method; no crash, no hang, bounded memory`, { timeout: 600000 }, async () => {
    const r = rng(SEED);
    // As a member (mutual TLS with a member certificate) and as a machine that has not joined (TLS without one).
    type RawClient = Record<string, (...args: unknown[]) => grpc.ClientUnaryCall & grpc.ClientWritableStream<Buffer> & grpc.ClientReadableStream<Buffer>>;
    const member = await memberChannel();
    const options = { ...member.options, "grpc.max_send_message_length": 64 * 1024 * 1024 };
    const memberRaw = new RawNode(node.address, member.credentials, options) as unknown as RawClient;
    const strangerRaw = new RawNode(node.address, admissionChannelCredentials(), options) as unknown as RawClient;
    const sha = "ab".repeat(32);
    const valid: Record<string, Buffer> = {
        Hello: methods.Hello!.requestSerialize({}) as Buffer,
        JoinCluster: methods.JoinCluster!.requestSerialize({ request: { protocol: "hearth-join-1", name: "x", nodeId: "ab".repeat(16), publicKeyPem: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", joinerNonce: "A".repeat(43), proof: "B".repeat(43) } }) as Buffer,
        SyncMembers: methods.SyncMembers!.requestSerialize({ members: [{ nodeId: "cd".repeat(16), name: "ghost", address: "127.0.0.1:1", removed: true, changedAtMs: 1 }] }) as Buffer,
        RemoveMember: methods.RemoveMember!.requestSerialize({ nodeId: "ef".repeat(16) }) as Buffer,
        CreateInvite: methods.CreateInvite!.requestSerialize({}) as Buffer,
        GetPeers: methods.GetPeers!.requestSerialize({}) as Buffer,
        GetInfo: methods.GetInfo!.requestSerialize({}) as Buffer,
        Health: methods.Health!.requestSerialize({}) as Buffer,
        Probe: methods.Probe!.requestSerialize({ payload: Buffer.alloc(64, 1) }) as Buffer,
        LoadModel: methods.LoadModel!.requestSerialize({ modelPath: model, contextSize: 64, maxSequences: 1, layers: "auto" }) as Buffer,
        Chat: methods.Chat!.requestSerialize({ messages: [{ role: "user", content: "hi" }], maxTokens: 2 }) as Buffer,
        PrepareStage: methods.PrepareStage!.requestSerialize({ pipelineId: "p1", pipelineKey: "k".repeat(20), stageIndex: 0, stageCount: 1, modelSha256: sha, layers: { start: 0, end: 1 }, layerTotal: 2, stageSha256: sha, stageBytes: 4096, options: { contextSize: 64, maxSequences: 2, batchSize: 8 }, activations: "F32", stageHeader: fs.readFileSync(model).subarray(0, 2048) }) as Buffer,
        ClosePipeline: methods.ClosePipeline!.requestSerialize({ pipelineId: "p1" }) as Buffer,
        Attach: methods.Attach!.requestSerialize({ pipelineId: "p1", stageIndex: 0 }) as Buffer,
        UploadStage: methods.UploadStage!.requestSerialize({ header: { modelSha256: sha, layers: { start: 0, end: 1 }, stageSha256: sha, stageBytes: 64 }, offset: 0, data: Buffer.alloc(32, 7) }) as Buffer,
        Forward: methods.Forward!.requestSerialize({ activation: { pipelineId: "p1", stageIndex: 0, seqId: 0, epoch: 1, pos: 0, nTokens: 2, tokens: [1, 2], dtype: "F32", sample: true, step: 1 } }) as Buffer
    };
    const rssBefore = rssMb(node.child.pid!);
    let passed = 0;
    let failed = 0;
    const failures: string[] = [];
    const deadline = () => ({ deadline: Date.now() + 10000 });
    const one = (method: string, msg: Buffer, authed: boolean): Promise<void> => new Promise((resolve) => {
        const md = new grpc.Metadata();
        if (authed && method === "Forward") md.set("x-hearth-pipeline-key", "k".repeat(20));
        const raw = authed ? memberRaw : strangerRaw;
        const m = methods[method]!;
        let settled = false;
        const settle = (e: grpc.ServiceError | null | undefined) => {
            if (settled) return;
            settled = true;
            // Answered: OK, or a status that is not INTERNAL/UNKNOWN/DEADLINE (a hang or a crash shows as those).
            const code = e?.code ?? grpc.status.OK;
            if (code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.UNAVAILABLE || code === grpc.status.UNKNOWN) { failed++; if (failures.length < 5) failures.push(`${method}: ${code} ${e?.details}`); } else passed++;
            resolve();
        };
        if (!m.requestStream && !m.responseStream) raw[method]!(msg, md, deadline(), (e: grpc.ServiceError | null) => settle(e));
        else if (m.requestStream && m.responseStream) {
            const call = raw[method]!(md, deadline());
            call.on("data", () => {});
            call.on("error", (e: grpc.ServiceError) => settle(e.code === grpc.status.CANCELLED ? null : e));
            call.on("end", () => settle(null));
            call.write(msg);
            call.end();
        } else if (m.requestStream && !m.responseStream) {
            const call = raw[method]!(md, deadline(), (e: grpc.ServiceError | null) => settle(e));
            call.write(msg);
            call.end();
        } else {
            const call = raw[method]!(msg, md, deadline());
            call.on("data", () => call.cancel());
            call.on("error", (e: grpc.ServiceError) => settle(e.code === grpc.status.CANCELLED ? null : e));
            call.on("end", () => settle(null));
        }
    });
    for (const method of Object.keys(valid)) {
        const batch: Promise<void>[] = [];
        for (let i = 0; i < PER_METHOD; i++) {
            batch.push(one(method, mutate(valid[method]!, r), r() < 0.7));
            if (batch.length >= 32) { await Promise.all(batch); batch.length = 0; }
        }
        await Promise.all(batch);
        assert.equal(node.child.exitCode, null, `the node is still running after ${method}`);
        assert.equal((await client.health()).serving, true, `the node still serves after ${method}`);
    }
    const rssAfter = rssMb(node.child.pid!);
    (memberRaw as unknown as grpc.Client).close();
    (strangerRaw as unknown as grpc.Client).close();
    console.log(`fuzz-grpc: seed ${SEED}, ${Object.keys(valid).length} methods × ${PER_METHOD}; RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`);
    console.log(`fuzz-grpc: ${passed} passed, ${failed} failed`);
    assert.deepEqual(failures, []);
    assert.equal(failed, 0);
    assert.ok(rssAfter < rssBefore + 256, `RSS stays bounded: ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`);
    // A real pipeline still works through the fuzzed node.
    const p = await connectPipeline({ modelPath: model, peers: [node.address], layers: [{ start: 0, end: 2 }], cluster: await testCoordinator(), dataDir: path.join(dir, "coord"), stage: { contextSize: 64, maxSequences: 1 } });
    try {
        assert.equal((await generate(p, { promptTokens: [1, 2, 3], maxTokens: 3 }).result).tokens.length, 3);
    } finally {
        await p.dispose();
    }
});
