// What a speed profile depends on: the hardware (CPU, RAM, GPUs, the llama.cpp backend) and the
// llama.cpp build. A cached profile is used only while its fingerprint still matches.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import si from "systeminformation";
import { getLlamaInstance } from "../native/llama.ts";

export type { LlamaBackend } from "./cluster-view-types.ts";
import type { LlamaBackend } from "./cluster-view-types.ts";

/** The hardware a speed profile was measured on. */
export interface SpeedHardware {
    cpuBrand: string;
    physicalCores: number;
    logicalCores: number;
    ramTotalBytes: number;
    gpuNames: string[];
    backend: LlamaBackend;
}

/** The llama.cpp build that ran the measurement. */
export interface SpeedBuild {
    nodeLlamaCppVersion: string;
    llamaCppTag: string;
}

/** Bumped when the measurement itself changes, so older cached profiles are measured again. */
export const SPEED_PROFILE_FORMAT = 1;

const GIB = 1024 ** 3;

/** Fingerprint of hardware and build: RAM is rounded to whole GiB so that a few MiB reserved by firmware or a driver update do not count. */
export function speedFingerprint(hardware: SpeedHardware, build: SpeedBuild, extra: unknown = null): string {
    const key = {
        format: SPEED_PROFILE_FORMAT,
        cpu: `${hardware.cpuBrand.trim()} ${hardware.physicalCores}/${hardware.logicalCores}`,
        ramGiB: Math.round(hardware.ramTotalBytes / GIB),
        gpus: [...hardware.gpuNames].sort(),
        backend: hardware.backend,
        nodeLlamaCpp: build.nodeLlamaCppVersion,
        llamaCpp: build.llamaCppTag,
        extra
    };
    return crypto.createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 32);
}

function packageDir(name: string): string | null {
    for (const base of createRequire(import.meta.url).resolve.paths(name) ?? []) {
        const dir = path.join(base, name);
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    }
    return null;
}

/** node-llama-cpp's version and the llama.cpp release it bundles ("unknown" where a file is missing). */
export function readSpeedBuild(): SpeedBuild {
    const dir = packageDir("node-llama-cpp");
    const read = (file: string, field: string): string => {
        try {
            const value = (JSON.parse(fs.readFileSync(path.join(dir ?? "", file), "utf8")) as Record<string, unknown>)[field];
            return typeof value === "string" ? value : "unknown";
        } catch {
            return "unknown";
        }
    };
    return dir == null ? { nodeLlamaCppVersion: "unknown", llamaCppTag: "unknown" }
        : { nodeLlamaCppVersion: read("package.json", "version"), llamaCppTag: read(path.join("llama", "llama.cpp.info.json"), "tag") };
}

/** The llama.cpp backend node-llama-cpp loaded: its `gpu`, with `false` as "cpu". */
export function backendName(gpu: "metal" | "cuda" | "vulkan" | false): LlamaBackend {
    return gpu === false ? "cpu" : gpu;
}

/** Reads this machine's hardware: the CPU from systeminformation (falling back to node:os), the rest from node-llama-cpp. */
export async function readSpeedHardware(): Promise<SpeedHardware> {
    const llama = await getLlamaInstance();
    const cpu = await si.cpu().catch(() => null);
    const ram = await llama.getRamState().catch(() => ({ total: os.totalmem() }));
    return {
        cpuBrand: cpu != null && cpu.brand !== "" ? `${cpu.manufacturer} ${cpu.brand}`.trim() : (os.cpus()[0]?.model ?? "unknown"),
        physicalCores: cpu?.physicalCores || os.availableParallelism(),
        logicalCores: cpu?.cores || os.availableParallelism(),
        ramTotalBytes: ram.total,
        gpuNames: await llama.getGpuDeviceNames().catch(() => []),
        backend: backendName(llama.gpu)
    };
}
