// This machine's inventory, as it joins a cluster: OS and CPU (read once, from systeminformation),
// RAM and GPU memory (node-llama-cpp, re-read every few seconds), the llama.cpp backend and GPU
// devices, and the speed profile (cached in the data folder, measured in the background when the
// hardware or the llama.cpp build changed). systeminformation's graphics() is never called: on
// NVIDIA it runs nvidia-smi through execSync, which blocks the event loop; the GPU facts come from
// llama.cpp, which is what runs the layers anyway.
import os from "node:os";
import si from "systeminformation";
import { getLlamaInstance } from "../native/llama.ts";
import { defaultDataDir } from "../model/stage-cache.ts";
import { EventHub } from "../util/event-hub.ts";
import { backendName, type LlamaBackend, type SpeedHardware } from "./speed-fingerprint.ts";
import { loadOrMeasureSpeedProfile, type SpeedMeasureOptions, type SpeedProfile } from "./speed-profile.ts";

export interface InventoryOs {
    /** node's os.platform(): "linux", "darwin", "win32" */
    platform: string;
    /** e.g. "Debian GNU/Linux", "macOS", "Microsoft Windows 11 Pro" */
    distro: string;
    /** the distribution's release, e.g. "12", "15.1" */
    release: string;
    kernel: string;
    arch: string;
    hostname: string;
}

export interface InventoryCpu {
    manufacturer: string;
    brand: string;
    physicalCores: number;
    logicalCores: number;
}

export interface InventoryMemory {
    totalBytes: number;
    freeBytes: number;
}

export interface InventoryGpu {
    /** the llama.cpp backend in use ("cpu" when node-llama-cpp loaded no GPU build) */
    backend: LlamaBackend;
    deviceNames: string[];
    /** GPU memory over all devices (0 without a GPU) */
    totalBytes: number;
    freeBytes: number;
    /** whether the GPU memory is the system RAM (Apple silicon, integrated GPUs) */
    unified: boolean;
    /** bytes shared between CPU and GPU (node-llama-cpp's unifiedSize) */
    unifiedBytes: number;
}

export type InventorySpeed =
    | { status: "off"; profile: null }
    | { status: "measuring"; profile: null }
    | { status: "ready"; profile: SpeedProfile }
    | { status: "failed"; profile: null; error: string };

export interface MachineInventory {
    /** Date.now() of the memory figures */
    takenAt: number;
    os: InventoryOs;
    cpu: InventoryCpu;
    memory: InventoryMemory;
    gpu: InventoryGpu;
    speed: InventorySpeed;
}

export type InventoryEvent = { type: "updated"; inventory: MachineInventory };

export interface InventoryOptions {
    /** How often memory is re-read. Defaults to 5000 ms. */
    refreshMs?: number;
    /** Whether to load (or measure) the speed profile in the background. Defaults to true. */
    measureSpeed?: boolean;
    /** Folder that caches the speed profile. Defaults to $HEARTH_DATA_DIR or ~/.hearth. */
    dataDir?: string;
    /** Options of the measurement (shapes and limits). Defaults to measureSpeedProfile's defaults. */
    speed?: Omit<SpeedMeasureOptions, "hardware" | "signal">;
}

/** The hardware a speed profile is keyed by, from an inventory. */
export function speedHardwareOf(inventory: MachineInventory): SpeedHardware {
    const { cpu, memory, gpu } = inventory;
    return {
        cpuBrand: `${cpu.manufacturer} ${cpu.brand}`.trim(),
        physicalCores: cpu.physicalCores, logicalCores: cpu.logicalCores,
        ramTotalBytes: memory.totalBytes, gpuNames: gpu.deviceNames, backend: gpu.backend
    };
}

async function readOs(): Promise<InventoryOs> {
    const info = await si.osInfo().catch(() => null);
    return {
        platform: os.platform(),
        distro: info?.distro || os.type(),
        release: info?.release || os.release(),
        kernel: info?.kernel || os.release(),
        arch: os.arch(),
        hostname: info?.hostname || os.hostname()
    };
}

async function readCpu(): Promise<InventoryCpu> {
    const cpu = await si.cpu().catch(() => null);
    const cores = os.availableParallelism();
    return {
        manufacturer: cpu?.manufacturer ?? "",
        brand: cpu?.brand || (os.cpus()[0]?.model ?? "unknown"),
        physicalCores: cpu?.physicalCores || cores,
        logicalCores: cpu?.cores || cores
    };
}

export class Inventory {
    readonly events: EventHub<MachineInventory, InventoryEvent>;
    private timer: NodeJS.Timeout | null = null;
    private refreshing: Promise<MachineInventory> | null = null;
    private speedRun: Promise<void> | null = null;
    private readonly abort = new AbortController();
    private isDisposed = false;

    private constructor(initial: MachineInventory, private readonly options: Readonly<InventoryOptions>) {
        this.events = new EventHub<MachineInventory, InventoryEvent>(initial, (_, event) => event.inventory);
    }

    /** Reads the machine once, then re-reads memory every `refreshMs` and loads the speed profile in the background. */
    static async start(options: InventoryOptions = {}): Promise<Inventory> {
        const refreshMs = options.refreshMs ?? 5000;
        if (!(refreshMs >= 10) || !Number.isFinite(refreshMs)) throw new RangeError(`inventory refreshMs must be at least 10 ms (got ${refreshMs})`);
        const llama = await getLlamaInstance();
        const [osInfo, cpu, deviceNames] = await Promise.all([readOs(), readCpu(), llama.getGpuDeviceNames().catch(() => [])]);
        const measureSpeed = options.measureSpeed ?? true;
        const blank: MachineInventory = {
            takenAt: 0, os: osInfo, cpu,
            memory: { totalBytes: os.totalmem(), freeBytes: os.freemem() },
            gpu: { backend: backendName(llama.gpu), deviceNames, totalBytes: 0, freeBytes: 0, unified: false, unifiedBytes: 0 },
            speed: measureSpeed ? { status: "measuring", profile: null } : { status: "off", profile: null }
        };
        const inventory = new Inventory({ ...blank, ...await Inventory.readMemory(blank) }, { ...options, refreshMs });
        inventory.timer = setInterval(() => { inventory.refresh().catch(() => {}); }, refreshMs);
        inventory.timer.unref();
        if (measureSpeed) inventory.speedRun = inventory.loadSpeed();
        return inventory;
    }

    private static async readMemory(previous: MachineInventory): Promise<Pick<MachineInventory, "takenAt" | "memory" | "gpu">> {
        const llama = await getLlamaInstance();
        const ram = await llama.getRamState().catch(() => ({ total: os.totalmem(), free: os.freemem() }));
        const vram = await llama.getVramState().catch(() => ({ total: 0, free: 0, unifiedSize: 0 }));
        return {
            takenAt: Date.now(),
            memory: { totalBytes: ram.total, freeBytes: Math.min(ram.free, ram.total) },
            gpu: {
                ...previous.gpu,
                totalBytes: vram.total, freeBytes: Math.min(vram.free, vram.total),
                unified: vram.unifiedSize > 0, unifiedBytes: vram.unifiedSize
            }
        };
    }

    /** The latest snapshot. */
    get snapshot(): MachineInventory { return this.events.state; }

    get disposed(): boolean { return this.isDisposed; }

    /** Re-reads memory now (one read at a time; concurrent calls share it) and sends `updated`. */
    refresh(): Promise<MachineInventory> {
        if (this.isDisposed) return Promise.resolve(this.snapshot);
        this.refreshing ??= Inventory.readMemory(this.snapshot).then((memory) => {
            if (!this.isDisposed) this.update(memory);
            return this.snapshot;
        }).finally(() => { this.refreshing = null; });
        return this.refreshing;
    }

    /** Resolves when the speed profile is loaded or measured (or failed); at once when it is off. */
    async speedSettled(): Promise<InventorySpeed> {
        await this.speedRun;
        return this.snapshot.speed;
    }

    private update(change: Partial<MachineInventory>) {
        this.events.emit({ type: "updated", inventory: { ...this.snapshot, ...change } });
    }

    private async loadSpeed(): Promise<void> {
        try {
            const profile = await loadOrMeasureSpeedProfile(this.options.dataDir ?? defaultDataDir(), {
                ...this.options.speed, hardware: speedHardwareOf(this.snapshot), signal: this.abort.signal
            });
            if (!this.isDisposed) this.update({ speed: { status: "ready", profile } });
        } catch (e) {
            if (!this.isDisposed) this.update({ speed: { status: "failed", profile: null, error: e instanceof Error ? e.message : String(e) } });
        }
    }

    /** Stops the refresh timer and any measurement in progress (its temporary files are removed). */
    async dispose(): Promise<void> {
        if (this.isDisposed) return;
        this.isDisposed = true;
        if (this.timer != null) clearInterval(this.timer);
        this.timer = null;
        this.abort.abort(new Error("the inventory was disposed"));
        await this.speedRun;
        await this.refreshing?.catch(() => {});
    }
}
