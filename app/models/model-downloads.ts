// Downloads of GGUF models by URL into this machine's models folder, with node-llama-cpp's
// downloader (createModelDownloader, which runs on ipull), for the UI's "model.download" and
// "model.cancelDownload" and its "downloads" stream (DownloadView in ui-api/contract.ts).
//
// How a download goes:
// 1. The URL is checked at once (start() throws ModelDownloadError): http(s) or
//    `hf:<user>/<repo>/<file>.gguf[#<revision>]` (node-llama-cpp's Hugging Face form, turned into
//    its https://huggingface.co/<user>/<repo>/resolve/<revision>/<file> URL), a single .gguf file.
// 2. A probe: one GET of its first 4 bytes (Range: bytes=0-3). It fails fast and in words a user
//    can act on where ipull would retry for minutes (a wrong host, a refused connection: ipull
//    retries those 150 times, up to 5 s apart), and it refuses a body that is not a GGUF (a web
//    page) before any of it is written.
// 3. createModelDownloader asks the server for the size (a GET whose body ipull never reads),
//    then the disk is checked for room (statfs) before a byte is written.
// 4. The download (its writes guarded: guardWrites), then the finished file's first 4 bytes must
//    read "GGUF"; if not, the file is removed and the download fails with that reason.
//
// Resume (as node-llama-cpp 3.22.1 / ipull 3.9.5 do it, verified in test/models-downloads.test.ts):
// ipull writes into `<file>.ipull` (partialPathOf) and splits the file into 5 MiB chunks fetched
// with Range requests (up to 3 at a time). Each time a chunk completes it appends its progress (the
// chunk list, as JSON) after the file's last byte of the partial file. With
// `deleteTempFileOnCancel: false` a cancel leaves that file in place; a new downloader for the same
// URL and file name reads the progress back (it knows where it starts from the size the server
// gives) and fetches only the chunks not completed, with Range requests; at the end it truncates
// the progress away and renames the file. So a download resumes from its last whole chunk (a
// chunk in flight is fetched again), only from a server that answers `Accept-Ranges: bytes` with
// a Content-Length, and without checking that the remote file is still the same (no ETag).
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createModelDownloader, type ModelDownloader } from "node-llama-cpp";
import type { DownloadView } from "../ui-api/contract.ts";
import { formatBytes } from "../util/format.ts";

export interface ModelDownloadsOptions {
    /** the folder the models go into (made when missing) */
    modelsDir: string;
    /** every download's view (as list()) after a change; at most once per `changeIntervalMs` */
    onChange?: (downloads: DownloadView[]) => void;
    /** the least time between two onChange calls. Defaults to 250 ms (4 a second) */
    changeIntervalMs?: number;
    /** the speed is the bytes of the last `speedWindowMs` over that time. Defaults to 3000 ms */
    speedWindowMs?: number;
    /** how long the probe (first 4 bytes) may take before the server counts as not answering. Defaults to 30 s */
    probeTimeoutMs?: number;
}

export const MODEL_DOWNLOADS_DEFAULTS = Object.freeze({ changeIntervalMs: 250, speedWindowMs: 3000, probeTimeoutMs: 30_000 });

/** A download that cannot start (a URL Hearth does not download), or a cancel of no download. */
export class ModelDownloadError extends Error {
    constructor(message: string) { super(message); this.name = "ModelDownloadError"; }
}

/** The file ipull writes while it downloads `finalPath` (with its progress after the data); renamed to `finalPath` when done. */
export function partialPathOf(finalPath: string): string { return `${finalPath}.ipull`; }

const GGUF_MAGIC = "GGUF";

/** A URL Hearth downloads: the http(s) URL to fetch and the file's name in the models folder. */
export interface ModelUrl { url: string; fileName: string }

/**
 * Checks a URL the user gave (pure): http(s) or hf:<user>/<repo>/<path>.gguf[#<revision>], naming
 * a single .gguf file. Hugging Face …/blob/… pages become their …/resolve/… download links.
 */
export function parseModelUrl(input: string): ModelUrl {
    const text = input.trim();
    if (text === "") throw new ModelDownloadError("give the URL of a .gguf file (https://… or hf:<user>/<repo>/<file>.gguf)");
    let url: URL;
    if (/^hf:/i.test(text)) {
        const rest = text.slice(3).replace(/^\/\//, "");
        const hash = rest.indexOf("#");
        const revision = hash >= 0 ? rest.slice(hash + 1) || "main" : "main";
        const parts = (hash >= 0 ? rest.slice(0, hash) : rest).split("/");
        if (parts.length < 3 || parts.some((p) => p === ""))
            throw new ModelDownloadError(`'${text}' is not a Hugging Face file: write hf:<user>/<repo>/<file>.gguf (for example hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf)`);
        const [user, repo, ...file] = parts.map(encodeURIComponent);
        url = new URL(`https://huggingface.co/${user}/${repo}/resolve/${encodeURIComponent(revision)}/${file.join("/")}`);
    } else {
        try {
            url = new URL(text);
        } catch {
            throw new ModelDownloadError(`'${text}' is not a URL: give an http(s) link to a .gguf file, or hf:<user>/<repo>/<file>.gguf`);
        }
        if (url.protocol !== "https:" && url.protocol !== "http:")
            throw new ModelDownloadError(`only http(s) and hf: URLs can be downloaded, not ${url.protocol} ('${text}')`);
    }
    if (url.hostname === "huggingface.co" || url.hostname === "hf.co") {
        const segments = url.pathname.split("/");
        if (segments[3] === "blob") { segments[3] = "resolve"; url.pathname = segments.join("/"); }
    }
    let fileName: string;
    try {
        fileName = decodeURIComponent(url.pathname.split("/").pop() ?? "");
    } catch {
        throw new ModelDownloadError(`the file name in '${text}' is not valid URL text`);
    }
    if (!/\.gguf$/i.test(fileName))
        throw new ModelDownloadError(`'${text}' does not name a .gguf file: Hearth downloads GGUF models — on Hugging Face, open the .gguf file's page and copy its download link (…/resolve/main/<file>.gguf)`);
    if (fileName === ".gguf" || /[/\\\0]/.test(fileName) || fileName.startsWith("."))
        throw new ModelDownloadError(`'${fileName}' cannot be a file name in the models folder: choose a URL whose last part is the model's file name`);
    const split = /-(\d{5})-of-(\d{5})\.gguf$/i.exec(fileName);
    if (split != null)
        throw new ModelDownloadError(`${fileName} is part ${Number(split[1])} of a model split into ${Number(split[2])} files, and Hearth loads single-file GGUFs: choose a quantization that comes as one file, or join the parts with llama.cpp's llama-gguf-split --merge`);
    return { url: url.href, fileName };
}

/** The cause chain of an error (fetch wraps the system error in `cause`). */
function causes(e: unknown): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    let c: unknown = e;
    for (let i = 0; i < 6 && c != null && typeof c === "object"; i++) {
        out.push(c as Record<string, unknown>);
        c = (c as { cause?: unknown }).cause;
    }
    return out;
}

export interface DownloadErrorContext {
    url: string;
    fileName: string;
    modelsDir: string;
    bytesDone: number;
    /** 0 when unknown */
    bytesTotal: number;
    /** free bytes on the models folder's disk, when known */
    freeBytes?: number;
}

/** What went wrong, in words a user can act on (pure). */
export function describeDownloadError(e: unknown, c: DownloadErrorContext): string {
    const chain = causes(e);
    const status = chain.map((x) => x.statusCode ?? x.status).find((s): s is number => typeof s === "number");
    const host = (() => { try { return new URL(c.url).host; } catch { return c.url; } })();
    if (status != null) {
        const hint = status === 404 || status === 410 ? "check the URL (the file may have been renamed or removed)"
            : status === 401 || status === 403 ? "the file is not public: a gated Hugging Face model needs its license accepted on huggingface.co and a token in HF_TOKEN (or ~/.cache/huggingface/token)"
            : status === 416 ? "the server cannot resume this file: cancel it, delete the partial file in the models folder and start again"
            : status === 429 ? "the server is limiting requests: wait a few minutes and start it again (it resumes)"
            : status >= 500 ? "the server has a problem: try again later (it resumes)"
            : "check the URL";
        return `the server answered ${status} for ${c.url} — ${hint}`;
    }
    const code = chain.map((x) => x.code).find((s): s is string => typeof s === "string");
    if (code === "ENOSPC") {
        const more = c.bytesTotal > 0 ? Math.max(0, c.bytesTotal - c.bytesDone) : 0;
        return `the disk is full: ${c.fileName} needs ${more > 0 ? `${formatBytes(more)} more` : "more space"}` +
            (c.freeBytes != null ? ` and ${formatBytes(c.freeBytes)} is free` : "") +
            ` in ${c.modelsDir} — free some space, then start it again (it resumes where it stopped)`;
    }
    if (code === "EACCES" || code === "EPERM" || code === "EROFS")
        return `cannot write to ${c.modelsDir} (${code}): choose a models folder this user can write to`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN")
        return `could not find the server ${host}: check the URL and this machine's internet connection`;
    if (code === "ECONNREFUSED")
        return `${host} refused the connection: check the URL (and its port), or try again later`;
    if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE")
        return `the connection to ${host} broke: check this machine's internet connection and start it again (it resumes)`;
    if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || (e as Error)?.name === "TimeoutError")
        return `${host} did not answer in time: check this machine's internet connection and start it again (it resumes)`;
    if (code === "CERT_HAS_EXPIRED" || code === "DEPTH_ZERO_SELF_SIGNED_CERT" || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || code?.startsWith("ERR_TLS"))
        return `the secure connection to ${host} failed (${code}): check the URL, and this machine's date and time`;
    const message = chain.map((x) => x.message).find((m): m is string => typeof m === "string" && m !== "") ?? String(e);
    return `downloading ${c.fileName} failed: ${message}`;
}

/** Why `start` (the first bytes of a file) is not a GGUF, in words; null when it is one. */
export function notGgufReason(start: Buffer, url: string): string | null {
    if (start.length >= 4 && start.subarray(0, 4).toString("latin1") === GGUF_MAGIC) return null;
    const text = start.toString("latin1");
    const what = start.length === 0 ? "an empty file"
        : /^\s*</.test(text) ? "a web page"
        : `a file that starts with ${JSON.stringify(text.slice(0, 4))}`;
    return `not a GGUF file: ${url} gave ${what}, not a file that starts with "GGUF" — check that the URL is the model file's download link (on Hugging Face: …/resolve/main/<file>.gguf)`;
}

interface Sample { t: number; bytes: number }

/** ipull's write stream of one file, as node-llama-cpp 3.22.1 / ipull 3.9.5 keep it (not in their types). */
interface IpullWriteStream { fileSize: number; write(cursor: number, buffer: Uint8Array): Promise<unknown> }

/**
 * Makes every write of the downloader's files one that never rejects, and keeps its progress
 * honest. Two things in ipull 3.9.5 need it:
 * - it writes a chunk's data without awaiting it, through `writePromise.then(...)` with no
 *   rejection handler (DownloadEngineFile._downloadSlice), so a write that fails (ENOSPC above all)
 *   reaches process 'unhandledRejection' (fatal in plain Node, as `hearth node` runs);
 * - it marks the chunk complete and saves its progress (a write at offset fileSize) without
 *   waiting for the chunk's data to be written, so a data write that fails could leave progress
 *   that claims the chunk, and a resume would keep its hole.
 * So a data write that fails is kept (`onError`, once) and every later write is skipped, and a
 * progress write waits for the data writes issued before it and is skipped when one of them
 * failed: the progress on disk only ever names chunks whose data was written. Returns false
 * (nothing changed) when the internals are not where those versions keep them.
 */
export function guardWrites(downloader: ModelDownloader, onError: (e: unknown) => void): boolean {
    const engines = (downloader as unknown as { _specificFileDownloaders?: Array<{ options?: { writeStream?: IpullWriteStream } }> })._specificFileDownloaders;
    const streams = Array.isArray(engines) ? engines.map((e) => e?.options?.writeStream) : [];
    if (streams.length === 0 || streams.some((w) => w == null || typeof w.write !== "function" || typeof w.fileSize !== "number")) return false;
    let failed = false;
    const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        onError(e);
    };
    for (const stream of streams as IpullWriteStream[]) {
        const write = stream.write.bind(stream);
        const pending = new Set<Promise<unknown>>();
        stream.write = (cursor: number, buffer: Uint8Array): Promise<unknown> => {
            if (failed) return Promise.resolve();
            if (stream.fileSize > 0 && cursor >= stream.fileSize) {
                const before = [...pending];
                return Promise.all(before).then(() => (failed ? undefined : write(cursor, buffer))).catch(fail);
            }
            const done: Promise<unknown> = write(cursor, buffer).catch(fail).finally(() => pending.delete(done));
            pending.add(done);
            return done;
        };
    }
    return true;
}

interface Entry {
    view: DownloadView;
    abort: AbortController;
    downloader: ModelDownloader | null;
    cancelled: boolean;
    /** the first write to disk that failed (guardWrites) */
    writeError: unknown;
    /** the downloader's first cancel */
    stopping: Promise<void> | null;
    samples: Sample[];
    run: Promise<void>;
}

export class ModelDownloads {
    private readonly entries = new Map<string, Entry>();
    private readonly disposeListeners = new Set<() => void>();
    private readonly changeIntervalMs: number;
    private readonly speedWindowMs: number;
    private readonly probeTimeoutMs: number;
    private readonly modelsDir: string;
    private isDisposed = false;
    private lastChangeAt = -Infinity;
    private changeTimer: NodeJS.Timeout | null = null;
    private ticker: NodeJS.Timeout | null = null;

    constructor(private readonly options: ModelDownloadsOptions) {
        this.modelsDir = path.resolve(options.modelsDir);
        this.changeIntervalMs = options.changeIntervalMs ?? MODEL_DOWNLOADS_DEFAULTS.changeIntervalMs;
        this.speedWindowMs = options.speedWindowMs ?? MODEL_DOWNLOADS_DEFAULTS.speedWindowMs;
        this.probeTimeoutMs = options.probeTimeoutMs ?? MODEL_DOWNLOADS_DEFAULTS.probeTimeoutMs;
        if (!(this.changeIntervalMs >= 0)) throw new RangeError(`changeIntervalMs must be 0 or more (got ${this.changeIntervalMs})`);
        if (!(this.speedWindowMs > 0)) throw new RangeError(`speedWindowMs must be positive (got ${this.speedWindowMs})`);
    }

    get disposed(): boolean { return this.isDisposed; }

    /** Calls `listener` once, when this is disposed (at once if it already is); returns the unsubscribe function. */
    onDispose(listener: () => void): () => void {
        if (this.isDisposed) { listener(); return () => {}; }
        this.disposeListeners.add(listener);
        return () => { this.disposeListeners.delete(listener); };
    }

    /** Every download of this session (newest first). */
    list(): DownloadView[] {
        return [...this.entries.values()].reverse().map((e) => ({ ...e.view }));
    }

    /**
     * Starts downloading the .gguf at `url` into the models folder, or gives the download of that
     * URL already running. A URL cancelled (or failed) before resumes where it stopped. Throws
     * ModelDownloadError for a URL Hearth does not download.
     */
    start(url: string): DownloadView {
        if (this.isDisposed) throw new ModelDownloadError("downloads are closed: Hearth is shutting down");
        const parsed = parseModelUrl(url);
        const filePath = path.join(this.modelsDir, parsed.fileName);
        // An earlier download of this file that ended may still be closing its files (one cancelled
        // while ipull asked for the size): this one starts after it.
        let previous: Promise<void> = Promise.resolve();
        for (const [id, e] of this.entries) {
            if (e.view.path !== filePath) continue;
            if (e.view.state === "downloading") {
                if (e.view.url === parsed.url) return { ...e.view };
                throw new ModelDownloadError(`${parsed.fileName} is already being downloaded from ${e.view.url}: cancel that download first`);
            }
            previous = e.run;
            this.entries.delete(id);
        }
        const view: DownloadView = {
            id: randomUUID(), url: parsed.url, fileName: parsed.fileName, path: filePath, state: "downloading",
            bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, etaSeconds: null, error: ""
        };
        const entry: Entry = { view, abort: new AbortController(), downloader: null, cancelled: false, writeError: null, stopping: null, samples: [], run: Promise.resolve() };
        this.entries.set(view.id, entry);
        entry.run = previous.then(() => this.run(entry));
        this.startTicker();
        this.changed();
        return { ...view };
    }

    /**
     * Stops a download; its partial file stays, so that a new start of its URL resumes. Throws
     * ModelDownloadError (at once) for an id it never gave; the promise resolves once the download
     * has stopped, and never rejects.
     */
    cancel(id: string): Promise<void> {
        const entry = this.entries.get(id);
        if (entry == null) throw new ModelDownloadError(`there is no download ${id}`);
        return this.stop(entry);
    }

    private async stop(entry: Entry): Promise<void> {
        if (entry.view.state !== "downloading") return;
        entry.cancelled = true;
        entry.abort.abort(new ModelDownloadError("cancelled"));
        if (entry.downloader == null) {
            // Still probing or asking for the size (which ipull may retry for minutes): cancelled
            // now; the run cancels its downloader as soon as it has one.
            this.finish(entry, "cancelled", "");
            return;
        }
        // deleteTempFile: false (as deleteTempFileOnCancel) keeps <file>.ipull with its progress.
        await this.stopDownloader(entry);
        await entry.run;
    }

    /** Cancels every download in progress (their partial files stay, to resume later), then tells the onDispose listeners. */
    async dispose(): Promise<void> {
        if (this.isDisposed) return;
        await Promise.all([...this.entries.values()].map((e) => this.stop(e)));
        this.isDisposed = true;
        this.stopTicker();
        if (this.changeTimer != null) { clearTimeout(this.changeTimer); this.changeTimer = null; }
        this.emitChange();
        for (const listener of [...this.disposeListeners]) {
            try { listener(); } catch { /* a listener's failure is its own */ }
        }
        this.disposeListeners.clear();
    }

    private async run(entry: Entry): Promise<void> {
        const { view } = entry;
        const partial = partialPathOf(view.path);
        let before: fs.Stats | null = null;
        let freeBytes: number | undefined;
        let failure: unknown = null;
        let downloading = false;
        if (entry.cancelled) return this.finish(entry, "cancelled", "");
        try {
            await fs.promises.mkdir(this.modelsDir, { recursive: true });
            await this.probe(entry);
            if (entry.cancelled) return this.finish(entry, "cancelled", "");
            before = await fs.promises.stat(view.path).catch(() => null);
            const downloader = await createModelDownloader({
                modelUri: view.url,
                dirPath: this.modelsDir,
                fileName: view.fileName,
                showCliProgress: false,
                onProgress: ({ totalSize, downloadedSize }) => this.progress(entry, downloadedSize, totalSize),
                // a file already there with the server's size is taken as done (then checked as below)
                skipExisting: true,
                // a cancel keeps <file>.ipull and its progress: the next start resumes from it
                deleteTempFileOnCancel: false,
                // only split models download several files at once; parseModelUrl refuses those
                parallelDownloads: 1
            });
            entry.downloader = downloader;
            if (!entry.cancelled) {
                guardWrites(downloader, (e) => { entry.writeError = e; void this.stopDownloader(entry); });
                this.progress(entry, downloader.downloadedSize, downloader.totalSize);
                freeBytes = await this.checkRoom(entry, downloader);
                downloading = true;
                await downloader.download();
                if (!entry.cancelled && entry.writeError == null) return await this.completed(entry, downloader.entrypointFilePath);
            }
        } catch (e) {
            failure = e;
        }
        // Stopped: cancelled, a write failed, or an error.
        if (entry.downloader != null) await this.stopDownloader(entry);
        if (downloading) await this.takeBackEarlyRename(view.path, partial, before).catch(() => {});
        await this.countWritten(entry);
        if (entry.writeError != null) failure = entry.writeError;
        if (failure == null || (entry.cancelled && entry.writeError == null)) return this.finish(entry, "cancelled", "");
        if (freeBytes == null || entry.writeError != null) freeBytes = await this.freeBytes().catch(() => undefined);
        const context: DownloadErrorContext = {
            url: view.url, fileName: view.fileName, modelsDir: this.modelsDir, bytesDone: view.bytesDone, bytesTotal: view.bytesTotal,
            ...(freeBytes != null ? { freeBytes } : {})
        };
        this.finish(entry, "failed", failure instanceof ModelDownloadError ? failure.message : describeDownloadError(failure, context));
    }

    /** The downloader's first cancel (later calls return before its files are closed and renamed), shared. */
    private stopDownloader(entry: Entry): Promise<void> {
        if (entry.downloader == null) return Promise.resolve();
        entry.stopping ??= entry.downloader.cancel({ deleteTempFile: false }).catch(() => {});
        return entry.stopping;
    }

    /**
     * ipull renames the partial file to its final name when it closes at 100% (every chunk marked
     * done), even when it closes because of a cancel or a write that failed: such a file at the
     * final path that was not there before this run goes back to being the partial file (with the
     * progress after its data, so a new start resumes), or away if a partial file is there.
     */
    private async takeBackEarlyRename(finalPath: string, partial: string, before: fs.Stats | null) {
        const after = await fs.promises.stat(finalPath).catch(() => null);
        if (after == null || (before != null && after.ino === before.ino && after.mtimeMs === before.mtimeMs)) return;
        if (fs.existsSync(partial)) await fs.promises.rm(finalPath, { force: true });
        else await fs.promises.rename(finalPath, partial);
    }

    /** A download that ran to its end: done when the file is a GGUF, else removed and failed. */
    private async completed(entry: Entry, file: string): Promise<void> {
        const { view } = entry;
        try {
            const reason = notGgufReason(await readStart(file, 4), view.url);
            if (reason != null) {
                await fs.promises.rm(file, { force: true });
                return this.finish(entry, "failed", reason);
            }
            const size = (await fs.promises.stat(file)).size;
            view.bytesDone = size;
            view.bytesTotal = size;
            this.finish(entry, "done", "");
        } catch (e) {
            this.finish(entry, "failed", describeDownloadError(e, { url: view.url, fileName: view.fileName, modelsDir: this.modelsDir, bytesDone: view.bytesDone, bytesTotal: view.bytesTotal }));
        }
    }

    /**
     * GET of the first 4 bytes: the server answers and the body is a GGUF, before ipull (which
     * retries an unreachable host for minutes) starts. A server that ignores the Range gets its
     * body cut after 4 bytes. A refusal for want of credentials is left to node-llama-cpp.
     */
    private async probe(entry: Entry): Promise<void> {
        const { view } = entry;
        const signal = AbortSignal.any([entry.abort.signal, AbortSignal.timeout(this.probeTimeoutMs)]);
        const response = await fetch(view.url, { headers: { range: "bytes=0-3", "accept-encoding": "identity" }, redirect: "follow", signal });
        try {
            if (response.status === 416) throw new ModelDownloadError(notGgufReason(Buffer.alloc(0), view.url)!);
            // The probe sends no credentials; node-llama-cpp asks again with the Hugging Face token it finds (HF_TOKEN, ~/.cache/huggingface/token).
            if (response.status === 401 || response.status === 403) return;
            if (!response.ok) throw Object.assign(new Error(`status ${response.status}`), { statusCode: response.status });
            const start = await readBody(response, 4);
            const reason = notGgufReason(start, view.url);
            if (reason != null) throw new ModelDownloadError(reason);
        } finally {
            await response.body?.cancel().catch(() => {});
        }
    }

    /** Fails the download when the disk cannot hold what is left of it; gives the free bytes. */
    private async checkRoom(entry: Entry, downloader: ModelDownloader): Promise<number | undefined> {
        const total = downloader.totalSize;
        const free = await this.freeBytes().catch(() => undefined);
        if (free == null || !(total > 0) || downloader.downloadedSize >= total) return free;
        // The partial file's blocks already on disk count as written (ipull writes chunks in place).
        const written = Math.min(total, await allocatedBytes(partialPathOf(entry.view.path)) ?? 0);
        const more = total - written;
        if (more > free)
            throw new ModelDownloadError(`the disk is full: ${entry.view.fileName} needs ${formatBytes(more)} more and ${formatBytes(free)} is free in ${this.modelsDir} — free some space, then start it again`);
        return free;
    }

    /**
     * A download that stopped: its bytes are what its partial file holds (ipull counts the chunks
     * in memory too, and a chunk whose write failed), as the blocks the file has on disk.
     */
    private async countWritten(entry: Entry) {
        const written = await allocatedBytes(partialPathOf(entry.view.path));
        if (written == null) return;
        const total = entry.view.bytesTotal > 0 ? entry.view.bytesTotal : Infinity;
        entry.view.bytesDone = Math.min(entry.view.bytesDone, written, total);
    }

    private async freeBytes(): Promise<number> {
        const s = await fs.promises.statfs(this.modelsDir);
        return s.bavail * s.bsize;
    }

    private progress(entry: Entry, done: number, total: number) {
        if (entry.view.state !== "downloading") return;
        entry.view.bytesDone = Math.max(0, done);
        entry.view.bytesTotal = Math.max(0, total);
        if (entry.samples.length === 0) entry.samples.push({ t: Date.now(), bytes: entry.view.bytesDone });
        this.changed();
    }

    private finish(entry: Entry, state: DownloadView["state"], error: string) {
        if (entry.view.state !== "downloading") return;
        entry.view.state = state;
        entry.view.error = error;
        entry.view.bytesPerSecond = 0;
        entry.view.etaSeconds = state === "done" ? 0 : null;
        entry.samples = [];
        if (![...this.entries.values()].some((e) => e.view.state === "downloading")) this.stopTicker();
        this.changed();
    }

    /** Speed over the last speedWindowMs (bytes now less bytes then, over the time between), and the ETA from it. */
    private sample(entry: Entry, now: number) {
        const { view } = entry;
        const samples = entry.samples;
        if (samples.length > 0 && view.bytesDone < samples[samples.length - 1]!.bytes) samples.length = 0; // a chunk fetched again
        samples.push({ t: now, bytes: view.bytesDone });
        while (samples.length > 2 && samples[1]!.t <= now - this.speedWindowMs) samples.shift();
        const first = samples[0]!;
        const seconds = (now - first.t) / 1000;
        const speed = seconds >= 0.2 ? Math.max(0, (view.bytesDone - first.bytes) / seconds) : 0;
        const eta = speed > 0 && view.bytesTotal > 0 ? Math.ceil(Math.max(0, view.bytesTotal - view.bytesDone) / speed) : null;
        if (Math.round(speed) !== view.bytesPerSecond || eta !== view.etaSeconds) {
            view.bytesPerSecond = Math.round(speed);
            view.etaSeconds = eta;
            this.changed();
        }
    }

    private startTicker() {
        if (this.ticker != null) return;
        this.ticker = setInterval(() => {
            const now = Date.now();
            for (const e of this.entries.values()) if (e.view.state === "downloading" && e.samples.length > 0) this.sample(e, now);
        }, Math.max(50, Math.min(this.changeIntervalMs || 250, this.speedWindowMs / 4)));
        this.ticker.unref();
    }

    private stopTicker() {
        if (this.ticker != null) clearInterval(this.ticker);
        this.ticker = null;
    }

    /** Something changed: onChange now when the last call is changeIntervalMs old, else when it will be. */
    private changed() {
        if (this.isDisposed || this.changeTimer != null) return;
        const wait = Math.max(0, this.lastChangeAt + this.changeIntervalMs - Date.now());
        this.changeTimer = setTimeout(() => { this.changeTimer = null; this.emitChange(); }, wait);
    }

    private emitChange() {
        this.lastChangeAt = Date.now();
        try {
            this.options.onChange?.(this.list());
        } catch {
            // the listener's failure is its own; downloads go on
        }
    }
}

/** The bytes a file holds on disk (its blocks: ipull's partial file is sparse until done); 0 when it is not there, null when the file system does not say. */
async function allocatedBytes(file: string): Promise<number | null> {
    const st = await fs.promises.stat(file).catch(() => null);
    if (st == null) return 0;
    return typeof st.blocks === "number" && st.blocks > 0 ? st.blocks * 512 : st.size === 0 ? 0 : null;
}

async function readStart(file: string, n: number): Promise<Buffer> {
    const fh = await fs.promises.open(file, "r");
    try {
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, 0);
        return buf.subarray(0, bytesRead);
    } finally {
        await fh.close();
    }
}

/** Up to `n` bytes of a response body. */
async function readBody(response: Response, n: number): Promise<Buffer> {
    if (response.body == null) return Buffer.alloc(0);
    const reader = response.body.getReader();
    const parts: Buffer[] = [];
    let have = 0;
    try {
        while (have < n) {
            const { done, value } = await reader.read();
            if (done) break;
            parts.push(Buffer.from(value));
            have += value.length;
        }
    } finally {
        await reader.cancel().catch(() => {});
    }
    return Buffer.concat(parts).subarray(0, n);
}
