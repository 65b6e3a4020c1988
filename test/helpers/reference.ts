// Greedy generation by node-llama-cpp on the whole model in one context: the reference. Options
// left out are node-llama-cpp's defaults (flash attention "auto", its thread count); its layers go
// where the pipeline's test stages go (testGpuLayers: the GPU when this machine has one).
import { getLlamaInstance } from "../../app/native/llama.ts";
import { testGpuLayers } from "./gpu.ts";

export interface ReferenceOptions { contextSize: number; threads?: number; flashAttention?: boolean; /** defaults to testGpuLayers() */ gpuLayers?: number }

export async function referenceGreedy(modelPath: string, promptTokens: number[], maxTokens: number, o: ReferenceOptions): Promise<number[]> {
    const llama = await getLlamaInstance();
    const gpuLayers = o.gpuLayers ?? await testGpuLayers();
    const model = await llama.loadModel({ modelPath, gpuLayers: gpuLayers > 0 ? "max" : 0 });
    try {
        const context = await model.createContext({
            contextSize: o.contextSize, sequences: 1,
            ...(o.threads != null ? { threads: o.threads } : {}), ...(o.flashAttention != null ? { flashAttention: o.flashAttention } : {})
        });
        try {
            const sequence = context.getSequence();
            const out: number[] = [];
            for await (const token of sequence.evaluate(promptTokens as never[], { temperature: 0 })) {
                out.push(token as number);
                if (out.length >= maxTokens) break;
            }
            return out;
        } finally {
            await context.dispose();
        }
    } finally {
        await model.dispose();
    }
}
