// The exactness tests run their stages where llama.cpp runs best on this machine: on the GPU when
// node-llama-cpp finds one (CUDA, Metal, Vulkan), so that a GPU machine proves the GPU path with
// the same assertions, and on the CPU otherwise. HEARTH_TEST_GPU_LAYERS=0 forces the CPU.
import { getLlamaInstance } from "../../app/native/llama.ts";

/** Every layer (and the head): llama.cpp takes n_gpu_layers above a stage's layers as all of them. */
const ALL_LAYERS = 100000;

let cached: Promise<number> | null = null;

/** n_gpu_layers for test stages and the reference: all of them when this machine has a GPU llama.cpp uses, else 0. */
export function testGpuLayers(): Promise<number> {
    cached ??= (async () => {
        const forced = process.env.HEARTH_TEST_GPU_LAYERS;
        if (forced != null && forced !== "") {
            const n = Number(forced);
            if (!Number.isInteger(n) || n < 0) throw new Error(`HEARTH_TEST_GPU_LAYERS must be a whole number (got '${forced}')`);
            return n;
        }
        return (await getLlamaInstance()).gpu === false ? 0 : ALL_LAYERS;
    })();
    return cached;
}
