// Placement of mixture-of-experts models (pure, no files): a MoE layer holds every expert in
// memory, but a token reads only expert_used_count of expert_count of them. The shape read from the
// header keeps both figures per layer; the cost model counts all bytes for memory and the active
// bytes for time, so a 30B-A3B model is placed by its 17 GB but predicted at the speed of its ~1.5 GB
// read per token. The header is Qwen3-30B-A3B's (48 layers, 128 experts, 8 used, its tensor shapes).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { str, u32, type GgufHeader, type GgufTensorInfo, type GgufValue } from "../app/gguf/format.ts";
import { tensorBytes } from "../app/gguf/ggml-types.ts";
import { estimateStageMemory } from "../app/placement/memory.ts";
import { makeLinks, resolvePlanOptions, StageCosts, deviceMsPerByte, type Member, type PlanOptions } from "../app/placement/cost-model.ts";
import { kvBytesPerTokenOfLayer, modelShapeFromHeader, requantizedShape, type ModelShape } from "../app/placement/model-shape.ts";
import { bandwidthBoundMsPerToken, findPlan, type Plan } from "../app/placement/planner.ts";
import { quantizationByName } from "../app/placement/quantization.ts";

const GiB = 1024 ** 3;
const T = { timeout: 30_000 };
const F32 = 0, Q8_0 = 8, Q4_K = 12, Q6_K = 14, MXFP4 = 39;

interface Built { header: GgufHeader; expertBytes: number[]; otherBytes: number[] }

/** A header: `layers` of attention + a router + `experts` stacked experts (+ a shared expert when `sharedFf` > 0). */
function moeHeader(o: {
    arch: string; layers: number; embd: number; heads: number; kvHeads: number; headDim: number; expertFf: number;
    experts: number; used: number | null; count: number | null; vocab: number; sharedFf?: number; expertType?: number; expertBias?: boolean;
    /** of the other matrices (attention, shared experts, token table, head); Q4_K with Q4_K_M's Q6_K ones by default */
    denseType?: number;
}): Built {
    const a = o.arch;
    const kv = new Map<string, GgufValue>([
        ["general.architecture", str(a)], ["general.name", str(`${a}-test`)], ["general.file_type", u32(15)],
        [`${a}.block_count`, u32(o.layers)], [`${a}.embedding_length`, u32(o.embd)], [`${a}.feed_forward_length`, u32(6144)],
        [`${a}.expert_feed_forward_length`, u32(o.expertFf)], [`${a}.attention.head_count`, u32(o.heads)],
        [`${a}.attention.head_count_kv`, u32(o.kvHeads)], [`${a}.attention.key_length`, u32(o.headDim)],
        [`${a}.attention.value_length`, u32(o.headDim)], [`${a}.vocab_size`, u32(o.vocab)], [`${a}.context_length`, u32(40960)]
    ]);
    if (o.count !== null) kv.set(`${a}.expert_count`, u32(o.count));
    if (o.used !== null) kv.set(`${a}.expert_used_count`, u32(o.used));
    const tensors: GgufTensorInfo[] = [];
    const expertBytes = new Array<number>(o.layers).fill(0), otherBytes = new Array<number>(o.layers).fill(0);
    let offset = 0n;
    const add = (name: string, type: number, dims: number[]) => {
        const size = tensorBytes(type, dims);
        tensors.push({ name, dims: dims.map(BigInt), type, offset, size });
        offset += (size + 31n) / 32n * 32n;
        const m = /^blk\.(\d+)\./.exec(name);
        if (m !== null) (/_exps\./.test(name) ? expertBytes : otherBytes)[Number(m[1])]! += Number(size);
    };
    const E = o.embd, Q = o.heads * o.headDim, K = o.kvHeads * o.headDim, X = o.experts, xt = o.expertType ?? Q4_K, dt = o.denseType ?? Q4_K;
    const wide = dt === Q4_K ? Q6_K : dt;
    add("token_embd.weight", dt, [E, o.vocab]);
    for (let l = 0; l < o.layers; l++) {
        const p = `blk.${l}.`;
        add(`${p}attn_norm.weight`, F32, [E]);
        add(`${p}attn_q.weight`, dt, [E, Q]);
        add(`${p}attn_k.weight`, dt, [E, K]);
        add(`${p}attn_v.weight`, l % 2 === 0 ? wide : dt, [E, K]); // Q4_K_M keeps half the attn_v in Q6_K
        add(`${p}attn_output.weight`, dt, [Q, E]);
        add(`${p}attn_q_norm.weight`, F32, [o.headDim]);
        add(`${p}attn_k_norm.weight`, F32, [o.headDim]);
        add(`${p}ffn_norm.weight`, F32, [E]);
        add(`${p}ffn_gate_inp.weight`, F32, [E, X]);
        add(`${p}ffn_gate_exps.weight`, xt, [E, o.expertFf, X]);
        add(`${p}ffn_up_exps.weight`, xt, [E, o.expertFf, X]);
        add(`${p}ffn_down_exps.weight`, l % 2 === 0 && xt === Q4_K ? Q6_K : xt, [o.expertFf, E, X]);
        if (o.expertBias === true) {
            add(`${p}ffn_gate_exps.bias`, F32, [o.expertFf, X]);
            add(`${p}ffn_up_exps.bias`, F32, [o.expertFf, X]);
            add(`${p}ffn_down_exps.bias`, F32, [E, X]);
        }
        if ((o.sharedFf ?? 0) > 0) {
            add(`${p}ffn_gate_inp_shexp.weight`, F32, [E]);
            add(`${p}ffn_gate_shexp.weight`, dt, [E, o.sharedFf!]);
            add(`${p}ffn_up_shexp.weight`, dt, [E, o.sharedFf!]);
            add(`${p}ffn_down_shexp.weight`, dt, [o.sharedFf!, E]);
        }
    }
    add("output_norm.weight", F32, [E]);
    add("output.weight", wide, [E, o.vocab]);
    const dataOffset = 6n * 1024n * 1024n; // about what a 151936-token vocabulary takes
    return { header: { version: 3, kv, tensors, alignment: 32, dataOffset, fileSize: dataOffset + offset }, expertBytes, otherBytes };
}

const QWEN3_30B_A3B = { arch: "qwen3moe", layers: 48, embd: 2048, heads: 32, kvHeads: 4, headDim: 128, expertFf: 768, experts: 128, used: 8, count: 128, vocab: 151936 };
const qwen = moeHeader(QWEN3_30B_A3B);
const moe = modelShapeFromHeader(qwen.header);
/** The same file read as if it were dense: every byte of every layer read per token. */
const dense: ModelShape = { ...moe, name: "dense of the same size" };
delete dense.layerActiveBytes;
delete dense.experts;

const sum = (xs: readonly number[], from = 0, to = xs.length) => xs.slice(from, to).reduce((a, b) => a + b, 0);
/** What a token of Qwen3-30B-A3B reads of layer l, reckoned here: the other tensors, and 8 of the 128 experts. */
const activeOf = (b: Built, used: number, count: number, l: number) => b.otherBytes[l]! + (b.expertBytes[l]! * used) / count;

const cpu = (name: string, ramGiB: number, freeGiB: number, bandwidthGBs: number): Member =>
    ({ name, backend: "cpu", ram: { totalBytes: ramGiB * GiB, freeBytes: freeGiB * GiB }, gpu: null, cpuSpeed: { kind: "bandwidth", bandwidthGBs }, gpuSpeed: null });

describe("mixture-of-experts shape from the header", () => {
    test("Qwen3-30B-A3B: every expert byte is in the layer, 8/128 of them are active", T, () => {
        assert.deepEqual(moe.experts, { count: 128, used: 8 });
        assert.equal(moe.nLayer, 48);
        for (let l = 0; l < 48; l++) {
            assert.equal(moe.layerBytes[l], qwen.otherBytes[l]! + qwen.expertBytes[l]!, `layer ${l} holds all its tensors`);
            assert.ok(Math.abs(moe.layerActiveBytes![l]! - activeOf(qwen, 8, 128, l)) < 1e-6, `layer ${l} active bytes`);
        }
        const held = sum(moe.layerBytes), read = sum(moe.layerActiveBytes!);
        // Qwen3-30B-A3B at about Q4_K_M: ~17 GB of layers, ~1.5 GB of them read per token (3.3 B active parameters).
        assert.ok(held > 15 * GiB && held < 18 * GiB, `layers hold ${(held / GiB).toFixed(2)} GiB`);
        assert.ok(read > 1.2 * GiB && read < 1.8 * GiB, `a token reads ${(read / GiB).toFixed(2)} GiB of layers`);
        assert.equal(moe.totalBytes, Number(qwen.header.tensors.reduce((a, t) => a + t.size, 0n)));
    });

    test("shared experts and the router are always read; expert biases are experts; counts from the tensors when the key is missing", T, () => {
        const base = { arch: "qwen2moe", layers: 4, embd: 1024, heads: 8, kvHeads: 2, headDim: 128, expertFf: 512, experts: 60, vocab: 1000, sharedFf: 2048, expertBias: true };
        const b = moeHeader({ ...base, used: 4, count: 60 });
        const shape = modelShapeFromHeader(b.header);
        const shared = b.header.tensors.filter((t) => t.name.startsWith("blk.1.") && t.name.includes("shexp")).reduce((a, t) => a + Number(t.size), 0);
        assert.ok(shared > 0 && b.otherBytes[1]! > shared, "the shared expert is counted with the layer's other tensors");
        for (let l = 0; l < 4; l++) assert.ok(Math.abs(shape.layerActiveBytes![l]! - activeOf(b, 4, 60, l)) < 1e-6);
        // Without <arch>.expert_count the experts the tensors stack; without a used count every expert is read (the slowest it can be).
        const noKeys = modelShapeFromHeader(moeHeader({ ...base, used: null, count: null }).header);
        assert.deepEqual(noKeys.experts, { count: 60, used: 60 });
        assert.deepEqual(noKeys.layerActiveBytes, noKeys.layerBytes);
        assert.throws(() => modelShapeFromHeader(moeHeader({ ...base, used: 61, count: 60 }).header), /expert_used_count is 61, expected 1 to qwen2moe.expert_count \(60\)/);
    });

    test("gpt-oss-like MXFP4 experts: the same rule, whatever the type", T, () => {
        const b = moeHeader({ arch: "gpt-oss", layers: 2, embd: 2880, heads: 64, kvHeads: 8, headDim: 64, expertFf: 2880, experts: 32, used: 4, count: 32, vocab: 1000, expertType: MXFP4, denseType: Q8_0, expertBias: true });
        const shape = modelShapeFromHeader(b.header);
        assert.ok(b.header.tensors.some((t) => t.type === MXFP4));
        for (let l = 0; l < 2; l++) assert.ok(Math.abs(shape.layerActiveBytes![l]! - activeOf(b, 4, 32, l)) < 1e-6);
    });

    test("a dense model has no active bytes of its own (time reads layerBytes), and another quantization scales both figures", T, () => {
        const q3 = requantizedShape(moe, quantizationByName("Q3_K_M")!);
        const ratio = q3.layerBytes[5]! / moe.layerBytes[5]!;
        assert.ok(ratio < 0.9);
        assert.ok(Math.abs(q3.layerActiveBytes![5]! / moe.layerActiveBytes![5]! - ratio) < 1e-3);
        assert.deepEqual(q3.experts, moe.experts);
    });
});

describe("mixture-of-experts cost model and plans", () => {
    const options: Partial<PlanOptions> = {}; // the host's defaults: 4096 tokens × 4 sequences
    const resolved = resolvePlanOptions(options);
    const member = cpu("big", 64, 64, 60);

    test("stage memory counts every expert byte: the same as a dense model of the same bytes, and estimateStageMemory's file bytes", T, () => {
        const a = new StageCosts(moe, [member], makeLinks(), resolved), d = new StageCosts(dense, [member], makeLinks(), resolved);
        for (const [s, e] of [[0, 16], [16, 40], [40, 48], [0, 48]] as const) {
            const est = a.estimate(0, s, e, 0);
            const layers = sum(qwen.otherBytes, s, e) + sum(qwen.expertBytes, s, e);
            const want = layers + moe.globalBytes + moe.stageFileOverheadBytes + (s === 0 ? moe.inputEmbeddingBytes : 0) + (e === 48 ? moe.outputHeadBytes : 0);
            assert.equal(est.weightsBytes, want, `stage ${s}-${e} holds all its experts`);
            assert.equal(est.ramBytes, d.estimate(0, s, e, 0).ramBytes, "memory does not depend on how many experts a token uses");
        }
        const whole = a.estimate(0, 0, 48, 0);
        const node = estimateStageMemory(qwen.header, Number(qwen.header.fileSize), resolved);
        assert.ok(node.weightsBytes >= sum(qwen.expertBytes), "the node's own estimate counts the experts too");
        assert.ok(whole.weightsBytes >= node.weightsBytes);
    });

    test("ms per token scales with the active bytes: 8/128 of the experts + the dense part + KV + head", T, () => {
        const a = new StageCosts(moe, [member], makeLinks(), resolved), d = new StageCosts(dense, [member], makeLinks(), resolved);
        const msPerByte = deviceMsPerByte(member.cpuSpeed, resolved);
        const readTokens = resolved.contextSize * resolved.decodeContextFraction;
        for (const [s, e] of [[0, 20], [20, 48], [0, 48]] as const) {
            let active = 0, all = 0, kv = 0;
            for (let l = s; l < e; l++) { active += activeOf(qwen, 8, 128, l); all += qwen.otherBytes[l]! + qwen.expertBytes[l]!; kv += kvBytesPerTokenOfLayer(moe, l) * readTokens; }
            const head = e === 48 ? moe.outputHeadBytes : 0;
            const want = resolved.overheadMsPerToken + (active + kv + head) * msPerByte;
            const got = a.msPerToken(0, s, e, 0);
            assert.ok(Math.abs(got - want) <= 1e-9 * want, `stage ${s}-${e}: ${got} ms vs ${want} ms`);
            const wantDense = resolved.overheadMsPerToken + (all + kv + head) * msPerByte;
            assert.ok(Math.abs(d.msPerToken(0, s, e, 0) - wantDense) <= 1e-9 * wantDense);
            assert.equal(a.estimate(0, s, e, 0).activeWeightsBytes, active + head);
        }
        // At 60 GB/s × 0.75: ~40 ms a token for Qwen3-30B-A3B, ~400 ms if it were dense.
        const ratio = d.msPerToken(0, 0, 48, 0) / a.msPerToken(0, 0, 48, 0);
        assert.ok(ratio > 6 && ratio < 12, `dense/MoE ms per token ${ratio.toFixed(2)}`);
    });

    test("24 GB + 16 GB + 12 GB: placed without overfilling any machine (none holds it alone), predicted by its active bytes", T, (t) => {
        // CPU machines with what is typically free on them.
        const members = [cpu("desktop-24", 24, 19, 60), cpu("laptop-16", 16, 12, 50), cpu("mini-12", 12, 9, 40)];
        for (const m of members) assert.equal(findPlan({ model: moe, members: [m], options }), null, `${m.name} alone cannot hold 17 GB of weights`);
        const plans: Record<"moe" | "dense", Plan> = {
            moe: findPlan({ model: moe, members, options })!,
            dense: findPlan({ model: dense, members, options })!
        };
        assert.ok(plans.moe !== null && plans.dense !== null);
        const costs = new StageCosts(moe, members, makeLinks(), resolved);
        for (const plan of [plans.moe, plans.dense]) {
            assert.ok(plan.stages.length >= 2);
            assert.equal(plan.stages.at(-1)!.layers[1], 48);
            for (const s of plan.stages) {
                assert.ok(s.memory.ramLeftBytes >= 0, `${s.member}: ${s.memory.ramUsedBytes} of ${s.memory.ramUsableBytes} usable`);
                assert.equal(s.memory.ramUsedBytes, costs.ramBytes(s.layers[0], s.layers[1], 0), "the MoE's memory as a dense stage's");
            }
        }
        // Every expert is held somewhere; a token reads about a tenth of it.
        const held = sum(plans.moe.stages.map((s) => s.weightsBytes));
        assert.ok(held >= moe.totalBytes);
        assert.equal(plans.moe.experts!.weightsBytes, held);
        const readPerToken = sum(moe.layerActiveBytes!) + moe.outputHeadBytes;
        assert.ok(Math.abs(plans.moe.experts!.activeWeightsBytes - readPerToken) <= 1e-6 * readPerToken);
        assert.match(plans.moe.summary, /mixture of experts: 8 of 128 per token, so a token reads 1\.\d+ GB of the 1\d\.\d GB of weights held/);
        assert.equal(plans.dense.experts, undefined);
        assert.doesNotMatch(plans.dense.summary, /experts/);
        // The prediction, reckoned here from the plan's stages: each stage's active bytes at its member's speed, and the hops.
        let want = 0;
        for (const s of plans.moe.stages) {
            const m = members.find((x) => x.name === s.member)!;
            let bytes = s.layers[1] === 48 ? moe.outputHeadBytes : 0;
            for (let l = s.layers[0]; l < s.layers[1]; l++) bytes += activeOf(qwen, 8, 128, l) + kvBytesPerTokenOfLayer(moe, l) * resolved.contextSize * resolved.decodeContextFraction;
            want += resolved.overheadMsPerToken + bytes * deviceMsPerByte(m.cpuSpeed, resolved) + s.hopMsPerToken;
        }
        assert.ok(Math.abs(plans.moe.predictedMsPerToken - want) <= 1e-9 * want, `${plans.moe.predictedMsPerToken} vs ${want}`);
        const speedup = plans.dense.predictedMsPerToken / plans.moe.predictedMsPerToken;
        assert.ok(speedup > 5, `the MoE is predicted ${speedup.toFixed(1)}× faster than a dense model of its size`);
        for (const [kind, plan] of Object.entries(plans))
            t.diagnostic(`${kind}: ${plan.layers} on ${plan.stages.map((s) => `${s.member} (${(s.memory.ramUsedBytes / GiB).toFixed(1)} of ${(s.memory.ramUsableBytes / GiB).toFixed(1)} GiB)`).join(", ")}: ` +
                `${plan.predictedMsPerToken.toFixed(1)} ms/token`);
        // The bandwidth bound reads active bytes as well.
        const bound = bandwidthBoundMsPerToken(plans.moe, { model: moe, members, options })!;
        const denseBound = bandwidthBoundMsPerToken(plans.dense, { model: dense, members, options })!;
        assert.ok(bound > 0 && bound < plans.moe.predictedMsPerToken && denseBound / bound > 5);
    });

    test("a GPU that holds a third of the model but would stream it fastest: the MoE still goes where it fits", T, () => {
        // A 12 GB GPU desktop (32 GB RAM), and a 16 GB CPU laptop: the planner fills the GPU, the rest on CPU, never over.
        const members: Member[] = [
            { name: "rtx-12", backend: "cuda", ram: { totalBytes: 32 * GiB, freeBytes: 12 * GiB }, gpu: { totalBytes: 12 * GiB, freeBytes: 11 * GiB, unified: false },
                cpuSpeed: { kind: "bandwidth", bandwidthGBs: 50 }, gpuSpeed: { kind: "bandwidth", bandwidthGBs: 360 } },
            cpu("laptop-16", 16, 12, 50)
        ];
        const plan = findPlan({ model: moe, members, options })!;
        assert.ok(plan !== null);
        for (const s of plan.stages) assert.ok(s.memory.ramLeftBytes >= 0 && s.memory.vramLeftBytes >= 0, `${s.member} not overfilled`);
        const gpuStage = plan.stages.find((s) => s.member === "rtx-12")!;
        assert.ok(gpuStage.gpuLayers > 0, "layers go to the GPU");
        assert.ok(gpuStage.memory.vramUsedBytes > 6 * GiB, `the GPU holds ${(gpuStage.memory.vramUsedBytes / GiB).toFixed(1)} GiB`);
        const densePlan = findPlan({ model: dense, members, options })!;
        assert.ok(densePlan.predictedMsPerToken / plan.predictedMsPerToken > 4);
    });
});
