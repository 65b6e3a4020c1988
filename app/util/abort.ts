// Waiting that honours an AbortSignal and a time limit.

export class TimeoutError extends Error {
    constructor(message: string) { super(message); this.name = "TimeoutError"; }
}

/** `promise`, or a rejection with the signal's reason once it aborts, or a TimeoutError after `timeoutMs`. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, timeout?: { ms: number; message: () => string }): Promise<T> {
    if (signal == null && timeout == null) return promise;
    return new Promise<T>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const cleanup = () => { signal?.removeEventListener("abort", onAbort); if (timer != null) clearTimeout(timer); };
        const onAbort = () => { cleanup(); reject(signal!.reason); };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        if (timeout != null) timer = setTimeout(() => { cleanup(); reject(new TimeoutError(timeout.message())); }, timeout.ms);
        promise.then((v) => { cleanup(); resolve(v); }, (e: unknown) => { cleanup(); reject(e); });
    });
}

export function isAbortError(e: unknown, signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true && (e === signal.reason || (e as Error)?.name === "AbortError");
}
