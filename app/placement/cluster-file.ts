// A cluster described in a file, for `hearth plan --simulate cluster.json` (pure: the caller
// reads the file). Memory sizes in "GB" are GiB (2^30 bytes, as RAM is sold and as Hearth prints
// sizes); bandwidths are decimal (GB/s = 10^9 bytes/s, MB/s = 10^6 bytes/s). Every field is
// checked, unknown fields are refused (a typo would otherwise be silently ignored).
//
// {
//   "description": "anything",                       optional
//   "machines": [                                     one or more
//     {
//       "name": "pc",                                 unique, required
//       "ramGB": 32,            or "ramBytes": …      total RAM, required
//       "ramFreeGB": 26,        or "ramFreeBytes": …  free for Hearth; defaults to the total
//       "backend": "cuda",                            cpu | metal | cuda | vulkan; defaults to cpu
//                                                     without a GPU (required with one)
//       "memoryBandwidthGBs": 50,                     the RAM's bandwidth
//       "cpuBandwidthGBs": 40,                        what the CPU reaches of it; defaults to memoryBandwidthGBs
//       "gpu": {                                      optional: a GPU llama.cpp uses
//         "vramGB": 12,         or "vramBytes": …     its memory; for a unified GPU, the GPU's working-set
//                                                     limit within the RAM (defaults to 75% of the RAM)
//         "vramFreeGB": 11.5,   or "vramFreeBytes": … defaults to vramGB
//         "unified": false,                           the GPU's memory is the RAM (Apple silicon)
//         "bandwidthGBs": 360                         its memory bandwidth; a unified GPU defaults to memoryBandwidthGBs
//       },
//       "unified": true,                              shorthand for "gpu": { "unified": true }
//       "speed": {                                    optional: measured decode speed instead of a bandwidth
//         "cpu": { "decodeMsPerLayer": 2.1, "layerBytes": 122716160 },
//         "gpu": { "decodeMsPerLayer": 0.4, "layerBytes": 122716160 }
//       },
//       "speedProfile": { … },                        optional: a speed profile as Hearth caches it
//                                                     (speed-profile.ts); it gives the GPU's speed when it
//                                                     ran on the GPU, else the CPU's
//       "overheadMsPerToken": 0.5                     optional: fixed ms per token of a stage here
//     }
//   ],
//   "links": [                                        optional; links are symmetric
//     { "between": ["mac", "pc"], "latencyMs": 1, "bandwidthMBs": 117 }
//   ],
//   "defaultLink": { "latencyMs": 4, "bandwidthMBs": 100 }   between machines not in links; defaults to 2 ms, 100 MB/s
// }
//
// Each machine needs a CPU speed (cpuBandwidthGBs, memoryBandwidthGBs, speed.cpu, or a CPU
// speedProfile) and, with a GPU, a GPU speed (gpu.bandwidthGBs, speed.gpu, a GPU speedProfile,
// or for a unified GPU memoryBandwidthGBs).
import { DEFAULT_LINK, deviceSpeedFromProfile, makeLinks, type Backend, type DeviceSpeed, type Link, type Links, type Member } from "./cost-model.ts";
import type { SpeedProfile } from "../cluster/speed-profile.ts";

export interface ClusterFile {
    description: string | null;
    members: Member[];
    links: Links;
}

export class ClusterFileError extends Error {
    constructor(message: string) { super(message); this.name = "ClusterFileError"; }
}

const GiB = 1024 ** 3;
const BACKENDS: readonly Backend[] = ["cpu", "metal", "cuda", "vulkan"];
const UNIFIED_GPU_SHARE = 0.75;

type Obj = Record<string, unknown>;

function show(v: unknown): string {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function closest(key: string, allowed: readonly string[]): string | null {
    const k = key.toLowerCase();
    return allowed.find((a) => a.toLowerCase() === k) ?? allowed.find((a) => a.toLowerCase().startsWith(k.slice(0, 3))) ?? null;
}

class Reader {
    constructor(private readonly source: string) {}

    fail(path: string, message: string): never {
        throw new ClusterFileError(`${this.source}: ${path === "" ? "" : `${path} `}${message}`);
    }

    object(v: unknown, path: string, allowed: readonly string[]): Obj {
        if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, `must be an object (got ${show(v)})`);
        for (const key of Object.keys(v)) {
            if (allowed.includes(key)) continue;
            const hint = closest(key, allowed);
            this.fail(path === "" ? "" : path, `has an unknown field '${key}'${hint !== null ? ` (did you mean '${hint}'?)` : ""}; allowed: ${allowed.join(", ")}`);
        }
        return v as Obj;
    }

    number(o: Obj, key: string, path: string, opts: { min?: number; positive?: boolean } = {}): number | undefined {
        const v = o[key];
        if (v === undefined) return undefined;
        if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${path}.${key}`, `must be a number (got ${show(v)})`);
        if (opts.positive && !(v > 0)) this.fail(`${path}.${key}`, `must be above 0 (got ${v})`);
        if (opts.min !== undefined && v < opts.min) this.fail(`${path}.${key}`, `must be at least ${opts.min} (got ${v})`);
        return v;
    }

    /** `${base}GB` (GiB) or `${base}Bytes`, not both. */
    bytes(o: Obj, base: string, path: string, required: boolean): number | undefined {
        const gb = this.number(o, `${base}GB`, path, { positive: true });
        const bytes = this.number(o, `${base}Bytes`, path, { positive: true });
        if (gb !== undefined && bytes !== undefined) this.fail(path, `gives both ${base}GB and ${base}Bytes: give one`);
        if (bytes !== undefined && !Number.isInteger(bytes)) this.fail(`${path}.${base}Bytes`, `must be a whole number of bytes (got ${bytes})`);
        const out = gb !== undefined ? Math.round(gb * GiB) : bytes;
        if (out === undefined && required) this.fail(path, `needs ${base}GB (or ${base}Bytes)`);
        return out;
    }

    string(o: Obj, key: string, path: string): string | undefined {
        const v = o[key];
        if (v === undefined) return undefined;
        if (typeof v !== "string" || v.trim() === "") this.fail(`${path}.${key}`, `must be a non-empty string (got ${show(v)})`);
        return v;
    }

    boolean(o: Obj, key: string, path: string): boolean | undefined {
        const v = o[key];
        if (v === undefined) return undefined;
        if (typeof v !== "boolean") this.fail(`${path}.${key}`, `must be true or false (got ${show(v)})`);
        return v;
    }

    measured(v: unknown, path: string): DeviceSpeed {
        const o = this.object(v, path, ["decodeMsPerLayer", "layerBytes"]);
        const decodeMsPerLayer = this.number(o, "decodeMsPerLayer", path, { positive: true });
        const layerBytes = this.number(o, "layerBytes", path, { positive: true });
        if (decodeMsPerLayer === undefined || layerBytes === undefined) this.fail(path, "needs decodeMsPerLayer and layerBytes");
        return { kind: "measured", decodeMsPerLayer, layerBytes };
    }

    link(v: unknown, path: string, allowed: readonly string[]): Link {
        const o = this.object(v, path, allowed);
        const latencyMs = this.number(o, "latencyMs", path, { min: 0 });
        const bandwidthMBs = this.number(o, "bandwidthMBs", path, { positive: true });
        if (latencyMs === undefined || bandwidthMBs === undefined) this.fail(path, "needs latencyMs and bandwidthMBs");
        return { latencyMs, bandwidthMBs };
    }
}

const MACHINE_KEYS = ["name", "description", "ramGB", "ramBytes", "ramFreeGB", "ramFreeBytes", "backend", "memoryBandwidthGBs", "cpuBandwidthGBs", "gpu", "unified", "speed", "speedProfile", "overheadMsPerToken"] as const;
const GPU_KEYS = ["vramGB", "vramBytes", "vramFreeGB", "vramFreeBytes", "unified", "bandwidthGBs"] as const;

function parseMachine(r: Reader, v: unknown, path: string): Member {
    const o = r.object(v, path, MACHINE_KEYS);
    const name = r.string(o, "name", path) ?? r.fail(path, "needs a name");
    const at = `${path} (${name})`;
    r.string(o, "description", at);
    const ramTotal = r.bytes(o, "ram", at, true)!;
    const ramFree = r.bytes(o, "ramFree", at, false) ?? ramTotal;
    if (ramFree > ramTotal) r.fail(at, `has more RAM free (${ramFree} bytes) than in all (${ramTotal} bytes)`);
    const memoryBandwidthGBs = r.number(o, "memoryBandwidthGBs", at, { positive: true });
    const cpuBandwidthGBs = r.number(o, "cpuBandwidthGBs", at, { positive: true });
    const overheadMsPerToken = r.number(o, "overheadMsPerToken", at, { min: 0 });
    const unifiedShorthand = r.boolean(o, "unified", at);

    let gpuObj: Obj | null = null;
    if (o.gpu !== undefined) gpuObj = r.object(o.gpu, `${at}.gpu`, GPU_KEYS);
    else if (unifiedShorthand === true) gpuObj = {};
    const unified = (gpuObj === null ? false : r.boolean(gpuObj, "unified", `${at}.gpu`)) || unifiedShorthand === true;
    if (unifiedShorthand === false && gpuObj !== null && r.boolean(gpuObj, "unified", `${at}.gpu`) === true) r.fail(at, "says unified: false but gpu.unified: true");

    const backendText = r.string(o, "backend", at);
    if (backendText !== undefined && !(BACKENDS as readonly string[]).includes(backendText)) r.fail(`${at}.backend`, `must be one of ${BACKENDS.join(", ")} (got ${show(backendText)})`);
    if (gpuObj !== null && backendText === undefined) r.fail(at, `has a GPU: say which backend runs it ("backend": "metal", "cuda" or "vulkan")`);
    if (gpuObj !== null && backendText === "cpu") r.fail(at, `has a GPU but backend "cpu": llama.cpp would not use it; give its backend or drop the gpu`);
    const backend = (backendText ?? "cpu") as Backend;

    let profileSpeed: { gpu: boolean; speed: DeviceSpeed } | null = null;
    if (o.speedProfile !== undefined) {
        const p = o.speedProfile as Partial<SpeedProfile>;
        if (typeof p !== "object" || p === null || !Array.isArray(p.layers)) r.fail(`${at}.speedProfile`, "must be a speed profile (an object with layers: [...])");
        try {
            profileSpeed = { gpu: p.gpu === true, speed: deviceSpeedFromProfile(p as SpeedProfile) };
        } catch (e) {
            r.fail(`${at}.speedProfile`, `is not usable: ${(e as Error).message}`);
        }
    }
    let measuredCpu: DeviceSpeed | null = null, measuredGpu: DeviceSpeed | null = null;
    if (o.speed !== undefined) {
        const sp = r.object(o.speed, `${at}.speed`, ["cpu", "gpu"]);
        if (sp.cpu !== undefined) measuredCpu = r.measured(sp.cpu, `${at}.speed.cpu`);
        if (sp.gpu !== undefined) measuredGpu = r.measured(sp.gpu, `${at}.speed.gpu`);
    }

    const cpuBW = cpuBandwidthGBs ?? memoryBandwidthGBs;
    const cpuSpeed: DeviceSpeed | null = measuredCpu ?? (profileSpeed !== null && !profileSpeed.gpu ? profileSpeed.speed : null) ??
        (cpuBW !== undefined ? { kind: "bandwidth", bandwidthGBs: cpuBW } : null);
    if (cpuSpeed === null) r.fail(at, "needs a CPU speed: memoryBandwidthGBs (or cpuBandwidthGBs), speed.cpu, or a speedProfile measured on the CPU");

    let gpu: Member["gpu"] = null;
    let gpuSpeed: DeviceSpeed | null = null;
    let gpuBandwidthGBs: number | undefined;
    if (gpuObj !== null) {
        const gpath = `${at}.gpu`;
        const vramTotal = r.bytes(gpuObj, "vram", gpath, !unified) ?? Math.round(ramTotal * UNIFIED_GPU_SHARE);
        const vramFree = r.bytes(gpuObj, "vramFree", gpath, false) ?? vramTotal;
        if (vramFree > vramTotal) r.fail(gpath, `has more memory free (${vramFree} bytes) than in all (${vramTotal} bytes)`);
        if (unified && vramTotal > ramTotal) r.fail(gpath, `is unified, so its vramGB (the GPU's share of the RAM) cannot exceed ramGB`);
        gpu = { totalBytes: vramTotal, freeBytes: vramFree, unified };
        gpuBandwidthGBs = r.number(gpuObj, "bandwidthGBs", gpath, { positive: true }) ?? (unified ? memoryBandwidthGBs : undefined);
        gpuSpeed = measuredGpu ?? (profileSpeed !== null && profileSpeed.gpu ? profileSpeed.speed : null) ??
            (gpuBandwidthGBs !== undefined ? { kind: "bandwidth", bandwidthGBs: gpuBandwidthGBs } : null);
        if (gpuSpeed === null) r.fail(at, `needs a GPU speed: gpu.bandwidthGBs, speed.gpu, or a speedProfile measured on the GPU${unified ? " (or memoryBandwidthGBs, for a unified GPU)" : ""}`);
    } else if (measuredGpu !== null || (profileSpeed?.gpu ?? false)) {
        r.fail(at, "gives a GPU speed but no gpu");
    }
    return {
        name, backend, ram: { totalBytes: ramTotal, freeBytes: ramFree }, gpu, cpuSpeed, gpuSpeed,
        ...(overheadMsPerToken !== undefined ? { overheadMsPerToken } : {}),
        ...(memoryBandwidthGBs !== undefined ? { memoryBandwidthGBs } : {}),
        ...(gpuBandwidthGBs !== undefined ? { gpuBandwidthGBs } : {})
    };
}

/** Checks a parsed cluster file and turns it into members and links; ClusterFileError names the field. */
export function parseClusterFile(json: unknown, source = "cluster file"): ClusterFile {
    const r = new Reader(source);
    const top = r.object(json, "", ["description", "machines", "links", "defaultLink"]);
    const description = r.string(top, "description", "") ?? null;
    if (!Array.isArray(top.machines) || top.machines.length === 0) r.fail("machines", "must be a list of one or more machines");
    const members = (top.machines as unknown[]).map((m, i) => parseMachine(r, m, `machines[${i}]`));
    const names = new Set<string>();
    for (const m of members) {
        if (names.has(m.name)) r.fail("machines", `name two machines '${m.name}': names must be unique`);
        names.add(m.name);
    }
    const defaultLink = top.defaultLink === undefined ? DEFAULT_LINK : r.link(top.defaultLink, "defaultLink", ["latencyMs", "bandwidthMBs"]);
    const pairs: Array<{ between: [string, string]; link: Link }> = [];
    if (top.links !== undefined) {
        if (!Array.isArray(top.links)) r.fail("links", "must be a list");
        const seen = new Set<string>();
        (top.links as unknown[]).forEach((l, i) => {
            const path = `links[${i}]`;
            const link = r.link(l, path, ["between", "latencyMs", "bandwidthMBs", "description"]);
            const between = (l as Obj).between;
            if (!Array.isArray(between) || between.length !== 2 || between.some((n) => typeof n !== "string"))
                r.fail(`${path}.between`, `must name two machines, like ["mac", "pc"] (got ${show(between)})`);
            const [a, b] = between as [string, string];
            for (const n of [a, b]) if (!names.has(n)) r.fail(`${path}.between`, `names '${n}', which is not one of the machines (${[...names].join(", ")})`);
            if (a === b) r.fail(`${path}.between`, `names '${a}' twice: a link joins two machines`);
            const key = [a, b].sort().join(" ↔ ");
            if (seen.has(key)) r.fail(path, `repeats the link ${key}`);
            seen.add(key);
            pairs.push({ between: [a, b], link });
        });
    }
    return { description, members, links: makeLinks(defaultLink, pairs) };
}

/** parseClusterFile of a file's text (JSON), with the JSON error named. */
export function parseClusterFileText(text: string, source = "cluster file"): ClusterFile {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (e) {
        throw new ClusterFileError(`${source}: not valid JSON (${(e as Error).message})`);
    }
    return parseClusterFile(json, source);
}
