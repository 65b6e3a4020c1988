// Stage files cached on disk by (model content hash, layer range), so a model is sliced once.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sliceStage, type LayerRange, type SliceProgress } from "../stage/slice.ts";

export function defaultDataDir(): string {
    return process.env.HEARTH_DATA_DIR ?? path.join(os.homedir(), ".hearth");
}

export interface HashProgress { phase: "hashing"; file: string; bytesDone: number; bytesTotal: number }

/** SHA-256 of a file's content, remembered per (path, size, mtime) in the data folder. */
export async function modelHash(file: string, dataDir: string, onProgress?: (p: HashProgress) => void): Promise<string> {
    const st = await fs.promises.stat(file);
    const key = `${path.resolve(file)}|${st.size}|${st.mtimeMs}`;
    const indexFile = path.join(dataDir, "hashes.json");
    let index: Record<string, string> = {};
    try { index = JSON.parse(await fs.promises.readFile(indexFile, "utf8")) as Record<string, string>; } catch { /* none yet */ }
    const known = index[key];
    if (known != null) return known;
    const hash = crypto.createHash("sha256");
    let done = 0;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
        hash.update(chunk as Buffer);
        done += (chunk as Buffer).length;
        onProgress?.({ phase: "hashing", file, bytesDone: done, bytesTotal: st.size });
    }
    const digest = hash.digest("hex");
    index[key] = digest;
    await fs.promises.mkdir(dataDir, { recursive: true });
    const tmp = `${indexFile}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(index, null, 1));
    await fs.promises.rename(tmp, indexFile);
    return digest;
}

export function stageFilePath(dataDir: string, modelHashHex: string, range: LayerRange): string {
    return path.join(dataDir, "stages", modelHashHex, `${range.start}-${range.end}.gguf`);
}

export interface EnsuredStage { path: string; range: LayerRange; sliced: boolean }

export async function ensureStageFiles(modelPath: string, ranges: LayerRange[], dataDir: string,
    onProgress?: (p: SliceProgress | HashProgress) => void): Promise<EnsuredStage[]> {
    const hash = await modelHash(modelPath, dataDir, onProgress);
    const out: EnsuredStage[] = [];
    for (const range of ranges) {
        const file = stageFilePath(dataDir, hash, range);
        if (fs.existsSync(file)) { out.push({ path: file, range, sliced: false }); continue; }
        await sliceStage(modelPath, range, file, onProgress != null ? { onProgress } : {});
        out.push({ path: file, range, sliced: true });
    }
    return out;
}
