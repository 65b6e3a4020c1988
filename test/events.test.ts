// The event surface a UI subscribes to: a node's events (in this process) and a pipeline's,
// through a whole generation's lifecycle: upload progress, the stage loading and held, the
// pipeline opening, a sequence starting and finishing, a sequence failing, the pipeline closing.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { HearthNode } from "../app/node/node.ts";
import type { NodeEvent } from "../app/node/events.ts";
import { connectPipeline } from "../app/coordinator/connect.ts";
import type { PipelineEvent } from "../app/engine/pipeline-events.ts";
import { generate } from "../app/engine/generate.ts";
import { nodeContract } from "../app/protocol/proto.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";
import { enroll, memberChannel, testCoordinator } from "./helpers/test-cluster.ts";
import { loadNodeCluster } from "../app/cluster/node-cluster.ts";

const dir = tempDir("events");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("a node's and a pipeline's events show a full generation's lifecycle, state first", { timeout: 120000 }, async () => {
    const model = await buildModel(dir, "ev", { arch: "llama", vocab: "llama-spm", layers: 3, type: "f32", tied: false, ...SMALL });
    await testCoordinator();
    for (const name of ["one", "two"]) await enroll(path.join(dir, name), name);
    const nodes = await Promise.all(["one", "two"].map((name) => HearthNode.start({ name, host: "127.0.0.1", port: 0, dataDir: path.join(dir, name), cluster: loadNodeCluster(path.join(dir, name))!, discovery: false, measureSpeed: false })));
    const seen: NodeEvent[][] = nodes.map(() => []);
    const first: string[] = [];
    nodes.forEach((n, i) => n.events.subscribe((m) => { if (first.length < 2 && first.length === i) first.push(m.type); if (m.type !== "state") seen[i]!.push(m); }));
    assert.deepEqual(first, ["state", "state"], "a subscriber gets the state first");
    const pipelineEvents: PipelineEvent[] = [];
    try {
        const p = await connectPipeline({
            modelPath: model, peers: nodes.map((n) => `127.0.0.1:${n.port}`), layers: [{ start: 0, end: 1 }, { start: 1, end: 3 }], cluster: await testCoordinator(),
            dataDir: path.join(dir, "coord"), stage: { contextSize: 64, maxSequences: 2 }, onEvent: (e) => pipelineEvents.push(e)
        });
        try {
            const r = await generate(p, { promptTokens: [1, 2, 3, 4], maxTokens: 5 }).result;
            assert.equal(r.tokens.length, 5);
            // A step that fails on the second node: its sequence fails there, and the node says so.
            const Raw = grpc.makeGenericClientConstructor({ Forward: { ...nodeContract().hearth.v1.Node.service.Forward!, requestSerialize: (b: Buffer) => b } }, "Raw");
            const member = await memberChannel();
            const client = new Raw(`127.0.0.1:${nodes[1]!.port}`, member.credentials, member.options);
            const md = p.clients[1]!.metadata();
            md.set("x-hearth-pipeline-key", p.options.pipelineKey);
            await new Promise<void>((resolve) => {
                const call = (client as unknown as { Forward(md: grpc.Metadata, cb: () => void): grpc.ClientWritableStream<Buffer> }).Forward(md, () => resolve());
                call.write(nodeContract().hearth.v1.Node.service.Forward!.requestSerialize({ activation: { pipelineId: p.pipelineId, stageIndex: 1, seqId: 1, epoch: 1, pos: 0, nTokens: 1, hidden: Buffer.from(new Float32Array(64).fill(NaN).buffer), dtype: "F32", step: 77 } }) as Buffer);
                call.end();
            });
            client.close();
            const deadline = Date.now() + 10000;
            while (!seen[1]!.some((e) => e.type === "stepFailed") && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
        } finally {
            await p.dispose();
        }
    } finally {
        await Promise.all(nodes.map((n) => n.dispose()));
    }
    const types = (i: number) => seen[i]!.map((e) => e.type);
    for (const i of [0, 1]) {
        const t = types(i);
        const order = ["uploadProgress", "uploadFinished", "stageLoading", "stageLoaded", "stageHeld", "sequenceStarted", "sequenceFinished", "pipelineClosed"];
        let at = -1;
        for (const type of order) {
            const next = t.indexOf(type as NodeEvent["type"], at + 1);
            assert.ok(next > at, `node ${i}: ${type} after the events before it (${t.join(", ")})`);
            at = next;
        }
        assert.equal(nodes[i]!.events.state.stages.length, 0, "the folded state shows the stage gone");
    }
    const failed = seen[1]!.find((e) => e.type === "stepFailed");
    assert.ok(failed != null && failed.type === "stepFailed" && /not finite/.test(failed.message), "the failed sequence is reported");
    const pt = pipelineEvents.map((e) => e.type);
    for (const type of ["hashing", "uploading", "stageReady", "opened", "sequenceStarted", "sequenceFinished", "closed"]) assert.ok(pt.includes(type as PipelineEvent["type"]), `pipeline: ${type} in ${pt.join(", ")}`);
    const finished = pipelineEvents.find((e) => e.type === "sequenceFinished");
    assert.ok(finished?.type === "sequenceFinished" && finished.stopReason === "maxTokens" && finished.stats.generatedTokens === 5 && finished.stats.stageComputeMs.length === 2, "a finished sequence carries its stats");
    assert.ok(pt.indexOf("opened") > pt.lastIndexOf("stageReady") && pt.indexOf("closed") > pt.indexOf("opened"));
});
