// Test models, made once per test file in a temporary folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeModel, type MakeModelOptions } from "../../app/model/make-model.ts";

export type ModelSpec = Omit<MakeModelOptions, "out" | "onProgress">;

export const SMALL: Pick<ModelSpec, "embd" | "heads" | "kvHeads" | "ff" | "seed"> = { embd: 64, heads: 4, kvHeads: 2, ff: 128, seed: 7 };

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `hearth-${prefix}-`));
}

export async function buildModel(dir: string, name: string, spec: ModelSpec): Promise<string> {
    const out = path.join(dir, `${name}.gguf`);
    await makeModel({ ...spec, out });
    return out;
}
