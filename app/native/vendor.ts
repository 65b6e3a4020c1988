// Files taken at build time from the llama.cpp source bundle inside node-llama-cpp.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unpackedPath } from "../util/package-paths.ts";

const vendorRootInSources = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "native", "vendor");

export const TEST_VOCABULARIES = ["llama-spm", "llama-bpe", "qwen2", "phi-3", "gpt-2"] as const;
export type TestVocabulary = (typeof TEST_VOCABULARIES)[number];

export function vocabularyFile(name: TestVocabulary): string {
    const vendorRoot = unpackedPath(vendorRootInSources);
    const dirs = fs.existsSync(vendorRoot) ? fs.readdirSync(vendorRoot).filter((d) => d.startsWith("llama.cpp-")) : [];
    for (const d of dirs) {
        const file = path.join(vendorRoot, d, "models", `ggml-vocab-${name}.gguf`);
        if (fs.existsSync(file)) return file;
    }
    throw new Error(`the ${name} vocabulary is missing from ${vendorRoot}: run 'npm run build:native' to extract it from node-llama-cpp's llama.cpp bundle`);
}
