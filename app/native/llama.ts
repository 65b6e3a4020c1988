// The one node-llama-cpp instance of this process. It selects the llama.cpp build (CPU, CUDA,
// Vulkan, Metal) and loads its libraries, which the stage addon then shares.
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";

let instance: Promise<Llama> | null = null;

function logLevelFromEnv(): LlamaLogLevel {
    const wanted = process.env.HEARTH_LLAMA_LOG as LlamaLogLevel | undefined;
    return wanted != null && Object.values(LlamaLogLevel).includes(wanted) ? wanted : LlamaLogLevel.error;
}

export function getLlamaInstance(): Promise<Llama> {
    instance ??= getLlama({ logLevel: logLevelFromEnv(), gpu: "auto" });
    return instance;
}
