// This machine's memory as the node sees it, and the reservations its stages hold: RAM and, on a
// machine with a GPU that llama.cpp uses, GPU memory. Free memory comes from node-llama-cpp
// (getRamState: the OS's real free memory, on macOS too, not libuv's free-pages count;
// getVramState: the GPU's, or Metal's working set on Apple silicon); reservations are taken
// synchronously, so two prepares can never both take the same bytes.
import os from "node:os";
import { getLlamaInstance } from "../native/llama.ts";

export interface MemoryLedgerOptions {
    /** the most memory this node lets its stages use; defaults to the machine's RAM */
    limitBytes?: number;
    /** kept free for the OS and the app itself when no limit is given. Defaults to 10% of RAM, at least 512 MiB */
    safetyBytes?: number;
    /** the most GPU memory this node lets its stages use; defaults to the GPU's memory less gpuReserveBytes */
    gpuLimitBytes?: number;
}

export interface MemorySnapshot {
    totalBytes: number;
    /** what stages may still take */
    freeBytes: number;
    reservedBytes: number;
    /** GPU memory stages may use in all (0 without a GPU), what they may still take, and what they hold */
    gpuTotalBytes: number;
    gpuFreeBytes: number;
    gpuReservedBytes: number;
    /** whether the GPU's memory is the RAM (Apple silicon): GPU bytes are then RAM bytes too */
    unified: boolean;
}

/** The GPU memory kept free for the OS, the display and other programs: max(10 %, 512 MiB). */
export function gpuReserveBytes(totalBytes: number): number {
    return Math.max(0.1 * totalBytes, 512 * 1024 * 1024);
}

export class Reservation {
    private released = false;
    /** `bytes`: RAM (for a unified GPU, everything); `gpuBytes`: of the GPU's memory */
    constructor(readonly bytes: number, readonly gpuBytes: number, readonly label: string, private readonly ledger: MemoryLedger) {}
    release(): void {
        if (this.released) return;
        this.released = true;
        this.ledger.giveBack(this);
    }
}

export class MemoryLedger {
    private reserved = 0;
    private gpuReserved = 0;
    private systemFree = os.freemem();
    private systemTotal = os.totalmem();
    private gpuFree = 0;
    private gpuTotal = 0;
    private unified = false;
    private readonly held = new Set<Reservation>();

    constructor(private readonly options: MemoryLedgerOptions = {}) {}

    /** Reads the machine's free memory (call before deciding; cheap). */
    async refresh(): Promise<void> {
        let llama;
        try {
            llama = await getLlamaInstance();
            const ram = await llama.getRamState();
            this.systemFree = ram.free;
            this.systemTotal = ram.total;
        } catch {
            this.systemFree = os.freemem();
            this.systemTotal = os.totalmem();
        }
        try {
            const vram = llama == null || llama.gpu === false ? null : await llama.getVramState();
            this.gpuTotal = vram?.total ?? 0;
            this.gpuFree = Math.min(vram?.free ?? 0, this.gpuTotal);
            this.unified = (vram?.unifiedSize ?? 0) > 0;
        } catch {
            this.gpuTotal = 0;
            this.gpuFree = 0;
        }
    }

    snapshot(): MemorySnapshot {
        const limit = this.options.limitBytes;
        const safety = this.options.safetyBytes ?? Math.max(512 * 1024 * 1024, this.systemTotal * 0.1);
        const budget = limit ?? Math.max(0, this.systemTotal - safety);
        // Reserved bytes count against the budget even before they are resident (mmap loads lazily),
        // and the system's free memory bounds what is left either way.
        const free = Math.max(0, Math.min(budget - this.reserved, limit != null ? Infinity : this.systemFree - safety));
        // The GPU: the budget less what this node's stages hold, and never more than the GPU has
        // free now less the reserve (other programs use it too; loaded stages are already out of it).
        const reserve = gpuReserveBytes(this.gpuTotal);
        const gpuBudget = this.gpuTotal === 0 ? 0 : Math.min(this.options.gpuLimitBytes ?? Infinity, Math.max(0, this.gpuTotal - reserve));
        const gpuFree = Math.max(0, Math.min(gpuBudget - this.gpuReserved, this.gpuFree - reserve));
        return { totalBytes: budget, freeBytes: free, reservedBytes: this.reserved, gpuTotalBytes: gpuBudget, gpuFreeBytes: gpuFree, gpuReservedBytes: this.gpuReserved, unified: this.unified };
    }

    /** Takes `bytes` of RAM and `gpuBytes` of GPU memory at once, or returns null when they are not free. */
    tryReserve(bytes: number, label: string, gpuBytes = 0): Reservation | null {
        if (!(bytes >= 0) || !(gpuBytes >= 0)) return null;
        const s = this.snapshot();
        if (bytes > s.freeBytes || gpuBytes > s.gpuFreeBytes) return null;
        const r = new Reservation(bytes, gpuBytes, label, this);
        this.reserved += bytes;
        this.gpuReserved += gpuBytes;
        this.held.add(r);
        return r;
    }

    /** @internal */ giveBack(r: Reservation): void {
        if (!this.held.delete(r)) return;
        this.reserved -= r.bytes;
        this.gpuReserved -= r.gpuBytes;
    }
}
