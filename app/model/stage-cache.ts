// Stage files cached on the coordinator by (stage format version, model content hash, layer
// range), so a model is sliced once; each file's SHA-256 is kept beside it.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { STAGE_FORMAT_VERSION, sliceStage, type LayerRange, type SliceProgress } from "../stage/slice.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";

export function defaultDataDir(): string {
    return process.env.HEARTH_DATA_DIR ?? path.join(os.homedir(), ".hearth");
}

export interface HashProgress { phase: "hashing"; file: string; bytesDone: number; bytesTotal: number }

async function hashFile(file: string, onProgress?: (p: HashProgress) => void): Promise<string> {
    const st = await fs.promises.stat(file);
    const hash = crypto.createHash("sha256");
    let done = 0;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
        hash.update(chunk as Buffer);
        done += (chunk as Buffer).length;
        onProgress?.({ phase: "hashing", file, bytesDone: done, bytesTotal: st.size });
    }
    return hash.digest("hex");
}

/**
 * SHA-256 of a file's content, remembered beside it (`<file>.sha256`, with its size and mtime) when
 * the file is in the data folder, or in the data folder's hash index for a model file elsewhere.
 */
export async function fileSha256(file: string, dataDir: string, onProgress?: (p: HashProgress) => void): Promise<string> {
    const st = await fs.promises.stat(file);
    const stamp = `${st.size}|${st.mtimeMs}`;
    const inData = path.resolve(file).startsWith(path.resolve(dataDir) + path.sep);
    const sidecar = inData ? `${file}.sha256` : path.join(dataDir, "hashes", `${crypto.createHash("sha256").update(path.resolve(file)).digest("hex").slice(0, 32)}.sha256`);
    const known = await fs.promises.readFile(sidecar, "utf8").catch(() => "");
    const [hash, knownStamp] = known.split(" ");
    if (hash != null && /^[0-9a-f]{64}$/.test(hash) && knownStamp === stamp) return hash;
    const digest = await hashFile(file, onProgress);
    await writeFileAtomic(sidecar, `${digest} ${stamp}`);
    return digest;
}

export function stageFilePath(dataDir: string, modelSha256: string, range: LayerRange): string {
    return path.join(dataDir, "stages", `v${STAGE_FORMAT_VERSION}`, modelSha256, `${range.start}-${range.end}.gguf`);
}

export interface EnsuredStage { path: string; range: LayerRange; sliced: boolean }

export async function ensureStageFiles(modelPath: string, ranges: LayerRange[], dataDir: string,
    onProgress?: (p: SliceProgress | HashProgress) => void, modelSha?: string, signal?: AbortSignal): Promise<EnsuredStage[]> {
    const hash = modelSha ?? await fileSha256(modelPath, dataDir, onProgress);
    const out: EnsuredStage[] = [];
    for (const range of ranges) {
        const file = stageFilePath(dataDir, hash, range);
        if (fs.existsSync(file)) { out.push({ path: file, range, sliced: false }); continue; }
        await sliceStage(modelPath, range, file, { ...(onProgress != null ? { onProgress } : {}), ...(signal != null ? { signal } : {}) });
        out.push({ path: file, range, sliced: true });
    }
    return out;
}
