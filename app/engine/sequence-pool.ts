// The sequence slots of a pipeline: a generation waits for a free slot (honouring its
// AbortSignal), gets it with a new epoch, and gives it back when it ends. When the pipeline fails
// or closes, every waiting generation is rejected, and so is every later one.

export class SequenceLease {
    private released = false;
    constructor(readonly seqId: number, readonly epoch: number, private readonly giveBack: (lease: SequenceLease) => void) {}
    get isReleased(): boolean { return this.released; }
    /** Returns the slot to the pool (once; later calls do nothing). */
    release(): void {
        if (this.released) return;
        this.released = true;
        this.giveBack(this);
    }
}

interface Waiter { resolve: (lease: SequenceLease) => void; reject: (e: unknown) => void; signal: AbortSignal | undefined; onAbort: () => void }

export class SequencePool {
    private readonly free: number[] = [];
    private readonly epochs: number[];
    private readonly waiters: Waiter[] = [];
    private closedWith: Error | null = null;

    constructor(readonly size: number) {
        for (let s = 0; s < size; s++) this.free.push(s);
        this.epochs = new Array<number>(size).fill(0);
    }

    get freeCount(): number { return this.free.length; }
    get waitingCount(): number { return this.waiters.length; }
    get inUse(): number { return this.size - this.free.length; }

    /** The lowest free slot (so that live sequences keep consecutive ids, which batch best), or the next one freed. */
    acquire(signal?: AbortSignal): Promise<SequenceLease> {
        if (this.closedWith != null) return Promise.reject(this.closedWith);
        if (signal?.aborted) return Promise.reject(signal.reason);
        if (this.free.length > 0) return Promise.resolve(this.lease(this.takeLowest()));
        return new Promise((resolve, reject) => {
            const waiter: Waiter = {
                resolve, reject, signal,
                onAbort: () => {
                    const i = this.waiters.indexOf(waiter);
                    if (i >= 0) this.waiters.splice(i, 1);
                    reject(signal!.reason);
                }
            };
            signal?.addEventListener("abort", waiter.onAbort, { once: true });
            this.waiters.push(waiter);
        });
    }

    /** Rejects every waiting and later acquire with `error` (the pipeline failed or closed). */
    close(error: Error): void {
        if (this.closedWith != null) return;
        this.closedWith = error;
        for (const w of this.waiters.splice(0)) {
            w.signal?.removeEventListener("abort", w.onAbort);
            w.reject(error);
        }
    }

    get closed(): Error | null { return this.closedWith; }

    private takeLowest(): number {
        let best = 0;
        for (let i = 1; i < this.free.length; i++) if (this.free[i]! < this.free[best]!) best = i;
        return this.free.splice(best, 1)[0]!;
    }

    private lease(seqId: number): SequenceLease {
        this.epochs[seqId]!++;
        return new SequenceLease(seqId, this.epochs[seqId]!, (l) => this.giveBack(l.seqId));
    }

    private giveBack(seqId: number) {
        const next = this.waiters.shift();
        if (next != null && this.closedWith == null) {
            next.signal?.removeEventListener("abort", next.onAbort);
            next.resolve(this.lease(seqId));
        } else {
            this.free.push(seqId);
        }
    }
}
