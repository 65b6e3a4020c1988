// This machine's memory as the node sees it, and the reservations its stages hold. Free memory
// comes from node-llama-cpp (getRamState: the OS's real free memory, on macOS too, not libuv's
// free-pages count); reservations are taken synchronously, so two prepares can never both take
// the same bytes.
import os from "node:os";
import { getLlamaInstance } from "../native/llama.ts";

export interface MemoryLedgerOptions {
    /** the most memory this node lets its stages use; defaults to the machine's RAM */
    limitBytes?: number;
    /** kept free for the OS and the app itself when no limit is given. Defaults to 10% of RAM, at least 512 MiB */
    safetyBytes?: number;
}

export interface MemorySnapshot {
    totalBytes: number;
    /** what stages may still take */
    freeBytes: number;
    reservedBytes: number;
}

export class Reservation {
    private released = false;
    constructor(readonly bytes: number, readonly label: string, private readonly ledger: MemoryLedger) {}
    release(): void {
        if (this.released) return;
        this.released = true;
        this.ledger.giveBack(this);
    }
}

export class MemoryLedger {
    private reserved = 0;
    private systemFree = os.freemem();
    private systemTotal = os.totalmem();
    private readonly held = new Set<Reservation>();

    constructor(private readonly options: MemoryLedgerOptions = {}) {}

    /** Reads the machine's free memory (call before deciding; cheap). */
    async refresh(): Promise<void> {
        try {
            const ram = await (await getLlamaInstance()).getRamState();
            this.systemFree = ram.free;
            this.systemTotal = ram.total;
        } catch {
            this.systemFree = os.freemem();
            this.systemTotal = os.totalmem();
        }
    }

    snapshot(): MemorySnapshot {
        const limit = this.options.limitBytes;
        const safety = this.options.safetyBytes ?? Math.max(512 * 1024 * 1024, this.systemTotal * 0.1);
        const budget = limit ?? Math.max(0, this.systemTotal - safety);
        // Reserved bytes count against the budget even before they are resident (mmap loads lazily),
        // and the system's free memory bounds what is left either way.
        const free = Math.max(0, Math.min(budget - this.reserved, limit != null ? Infinity : this.systemFree - safety));
        return { totalBytes: budget, freeBytes: free, reservedBytes: this.reserved };
    }

    /** Takes `bytes` at once, or returns null when they are not free. */
    tryReserve(bytes: number, label: string): Reservation | null {
        if (!(bytes >= 0) || bytes > this.snapshot().freeBytes) return null;
        const r = new Reservation(bytes, label, this);
        this.reserved += bytes;
        this.held.add(r);
        return r;
    }

    /** @internal */ giveBack(r: Reservation): void {
        if (!this.held.delete(r)) return;
        this.reserved -= r.bytes;
    }
}
