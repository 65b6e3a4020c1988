// The recommended-models catalogue (app/models/catalogue.ts): entries that say what they are
// (size class from the parameters, a Hugging Face .gguf of a supported architecture, a size near
// the published file's), and their fit on simulated members through the planner.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CATALOGUE, SIZE_CLASSES, catalogueShape, catalogueWithFit, sizeClassOf } from "../app/models/catalogue.ts";
import { parseModelUrl } from "../app/models/model-downloads.ts";
import { MODEL_FAMILIES, kvBytesPerToken } from "../app/placement/model-shape.ts";
import { SUPPORTED_ARCHITECTURES } from "../app/stage/architectures.ts";
import type { LiveMember } from "../app/host/live-plan.ts";

const T = { timeout: 30000 };
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** A CPU machine as its node reports it: `usable` is what its stages may still use (the node keeps the OS's share). */
function machine(nodeId: string, totalBytes: number, usable: number): LiveMember {
    return {
        nodeId, name: nodeId, address: `${nodeId}.local:7420`,
        info: { totalMemoryBytes: totalBytes, freeMemoryBytes: usable, backend: "cpu", inventoryJson: "", gpuTotalBytes: 0, gpuFreeBytes: 0, links: [] }
    };
}
const laptop16 = () => machine("laptop", 16 * GiB, 12 * GiB);
const byId = (id: string) => CATALOGUE.find((m) => m.id === id)!;

test("every entry's size class is the one its parameters fall in, and its title's size agrees", T, () => {
    assert.deepEqual([...new Set(CATALOGUE.map((m) => m.sizeClass))], SIZE_CLASSES.map((c) => c.sizeClass), "every size class has a model, smallest first");
    for (const m of CATALOGUE) {
        const shape = catalogueShape(m);
        assert.equal(m.sizeClass, sizeClassOf(shape.parameters), `${m.title}: ${(shape.parameters / 1e9).toFixed(2)} B parameters`);
        const nominal = Number(/(\d+(?:\.\d+)?)B\b/.exec(m.title)![1]) * 1e9;
        assert.ok(Math.abs(shape.parameters - nominal) / nominal < 0.3, `${m.title}: the shape's ${(shape.parameters / 1e9).toFixed(2)} B is near the name's`);
    }
    const parameters = CATALOGUE.map((m) => catalogueShape(m).parameters);
    assert.deepEqual(parameters, [...parameters].sort((a, b) => a - b), "smallest first");
    assert.equal(sizeClassOf(3.2e9), "1–3B");
    assert.equal(sizeClassOf(8e9), "3–9B");
    assert.equal(sizeClassOf(14.8e9), "9–27B");
    assert.equal(sizeClassOf(32.8e9), "27B+");
});

test("every entry is a Q4_K_M single-file GGUF on Hugging Face (bartowski or Qwen), of an architecture Hearth splits", T, () => {
    assert.equal(new Set(CATALOGUE.map((m) => m.id)).size, CATALOGUE.length, "ids are unique");
    for (const m of CATALOGUE) {
        assert.match(m.url, /^https:\/\/huggingface\.co\/(bartowski|Qwen)\/[^/]+-GGUF\/resolve\/main\/[^/]+-Q4_K_M\.gguf$/, m.title);
        assert.equal(parseModelUrl(m.url).url, m.url, `${m.title}: the downloader takes its URL as it is`);
        assert.ok((SUPPORTED_ARCHITECTURES as readonly string[]).includes(m.architecture), `${m.title}: ${m.architecture}`);
        assert.equal(m.quantization, "Q4_K_M");
        assert.equal(catalogueShape(m).architecture, m.architecture);
        assert.equal(m.sizeBytes, catalogueShape(m).totalBytes, "the size is the shape's, which the planner places");
    }
    // The architectures enabled later (test/architectures.test.ts) have no catalogue entry yet.
    for (const a of ["llama", "qwen2", "qwen3"]) assert.ok(CATALOGUE.some((m) => m.architecture === a), `a ${a} model`);
    assert.deepEqual(byId("llama-3.1-8b-instruct-q4_k_m").shape, { ...MODEL_FAMILIES["llama-8b"], name: "Llama 3.1 8B Instruct", quantization: "Q4_K_M" });
});

test("the estimated sizes are within 10% of the published files'", T, () => {
    // Published sizes of these files on Hugging Face.
    const published: Record<string, number> = {
        "llama-3.2-1b-instruct-q4_k_m": 807_694_464,
        "llama-3.1-8b-instruct-q4_k_m": 4.92e9,
        "qwen3-14b-q4_k_m": 9_001_752_960,
        "llama-3.3-70b-instruct-q4_k_m": 42.52e9
    };
    for (const [id, bytes] of Object.entries(published)) {
        const m = byId(id);
        assert.ok(Math.abs(m.sizeBytes - bytes) / bytes < 0.1, `${m.title}: estimated ${(m.sizeBytes / 1e9).toFixed(2)} GB, published ${(bytes / 1e9).toFixed(2)} GB`);
    }
});

test("fit on a 16 GB machine: the 8B models fit, 70B does not and lacks about the difference; one more machine of that shortfall makes it fit", T, () => {
    const members = [laptop16()];
    const entries = catalogueWithFit(members);
    assert.deepEqual(entries.map((e) => e.id), CATALOGUE.map((m) => m.id));
    assert.deepEqual(Object.keys(entries[0]!).sort(), ["architecture", "fits", "id", "quantization", "shortfallBytes", "sizeBytes", "sizeClass", "title", "url"], "the contract's fields, no more");
    const entry = (id: string) => entries.find((e) => e.id === id)!;
    for (const id of ["llama-3.1-8b-instruct-q4_k_m", "qwen3-8b-q4_k_m", "llama-3.2-1b-instruct-q4_k_m"]) {
        assert.equal(entry(id).fits, true, id);
        assert.equal(entry(id).shortfallBytes, 0, id);
    }
    const big = entry("llama-3.3-70b-instruct-q4_k_m");
    assert.equal(big.fits, false);
    const usable = 12 * GiB;
    const kv = kvBytesPerToken(catalogueShape(byId(big.id))) * 4096 * 4;
    assert.ok(big.shortfallBytes >= big.sizeBytes - usable, `at least the weights that do not fit (${(big.shortfallBytes / GiB).toFixed(1)} GiB)`);
    assert.ok(big.shortfallBytes <= big.sizeBytes + kv + 3 * GiB - usable, `about the difference: weights and KV cache less the usable 12 GiB, buffers aside (${(big.shortfallBytes / GiB).toFixed(1)} GiB)`);
    assert.ok(entries.filter((e) => !e.fits).every((e) => e.shortfallBytes > 0), "what does not fit says what it lacks");

    const withOne = (bytes: number) => catalogueWithFit([...members, machine("desktop", bytes, bytes)]).find((e) => e.id === big.id)!;
    assert.equal(withOne(big.shortfallBytes).fits, true, "a machine that brings the shortfall makes it fit");
    assert.equal(withOne(big.shortfallBytes - 256 * MiB).fits, false, "and one that brings less does not");
});

test("the plan options reach the fit, and no members fit nothing", T, () => {
    const longContext = catalogueWithFit([laptop16()], { contextSize: 32768 });
    assert.equal(longContext.find((e) => e.id === "llama-3.1-8b-instruct-q4_k_m")!.fits, false, "4 sequences of 32768 tokens need 16 GiB of KV cache for Llama 3.1 8B");
    assert.equal(catalogueWithFit([laptop16()], { contextSize: 32768, maxSequences: 1 }).find((e) => e.id === "llama-3.1-8b-instruct-q4_k_m")!.fits, true);
    const none = catalogueWithFit([]);
    assert.ok(none.every((e) => !e.fits && e.shortfallBytes >= e.sizeBytes), "with no members every model lacks at least its weights");
});
