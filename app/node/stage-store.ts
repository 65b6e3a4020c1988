// The node's stage files on disk, keyed by content: `stages/v<format>/<sha256>.gguf`, with a
// `<sha256>.verified` marker written once the file's SHA-256 was checked (when its upload ended).
// A file without its marker, of the wrong size, or that fails to load is removed. Uploads are
// received into `<sha256>.gguf.partial` (resumable), with every way a transfer can end cleaned up.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { STAGE_FORMAT_VERSION } from "../stage/slice.ts";
import { formatBytes } from "../util/format.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { NodeError, invalid } from "./errors.ts";
import { InvalidMessage, type UploadChunk__Output, type UploadReply } from "../protocol/proto.ts";

export const SHA256_RE = /^[0-9a-f]{64}$/;
export const MAX_UPLOAD_CHUNK = 4 * 1024 * 1024;
const MAX_STAGE_BYTES = 2 ** 45;

export interface UploadProgress { stageSha256: string; bytesDone: number; bytesTotal: number }

export class StageStore {
    private readonly uploading = new Set<string>();
    readonly dir: string;

    constructor(dataDir: string, private readonly onProgress?: (p: UploadProgress & { done: boolean }) => void) {
        this.dir = path.join(dataDir, "stages", `v${STAGE_FORMAT_VERSION}`);
    }

    fileFor(stageSha256: string): string { return path.join(this.dir, `${stageSha256}.gguf`); }
    private marker(stageSha256: string): string { return path.join(this.dir, `${stageSha256}.verified`); }

    /** The verified stage file, or null (a damaged or unverified one is removed). */
    async verified(stageSha256: string, bytes: number): Promise<string | null> {
        const file = this.fileFor(stageSha256);
        const [st, mark] = await Promise.all([fs.promises.stat(file).catch(() => null), fs.promises.readFile(this.marker(stageSha256), "utf8").catch(() => null)]);
        if (st == null) return null;
        if (mark?.trim() === stageSha256 && st.size === bytes) return file;
        await this.remove(stageSha256);
        return null;
    }

    /** Bytes of a partial upload to resume from (a partial larger than the stage is discarded). */
    async resumeOffset(stageSha256: string, bytes: number): Promise<number> {
        const partial = `${this.fileFor(stageSha256)}.partial`;
        const st = await fs.promises.stat(partial).catch(() => null);
        if (st == null) return 0;
        if (st.size > bytes) { await fs.promises.rm(partial, { force: true }); return 0; }
        return st.size;
    }

    async remove(stageSha256: string): Promise<void> {
        await Promise.all([this.fileFor(stageSha256), this.marker(stageSha256)].map((f) => fs.promises.rm(f, { force: true })));
    }

    /** Receives one UploadStage call. */
    receive(call: grpc.ServerReadableStream<UploadChunk__Output, UploadReply>, callback: grpc.sendUnaryData<UploadReply>, nodeName: string): void {
        new UploadReceiver(this, call, callback, nodeName).start();
    }

    /** @internal */ claim(stageSha256: string): boolean {
        if (this.uploading.has(stageSha256)) return false;
        this.uploading.add(stageSha256);
        return true;
    }
    /** @internal */ unclaim(stageSha256: string): void { this.uploading.delete(stageSha256); }
    /** @internal */ progress(p: UploadProgress, done: boolean): void { this.onProgress?.({ ...p, done }); }

    /** @internal Marks a file verified (after its hash was checked). */
    async markVerified(stageSha256: string): Promise<void> {
        await writeFileAtomic(this.marker(stageSha256), stageSha256);
    }
}

/** One upload: chunks appended in order, the hash checked at the end; every ending cleans up once. */
class UploadReceiver {
    private fh: fs.promises.FileHandle | null = null;
    private sha = "";
    private expected = 0;
    private position = 0;
    private received = 0;
    private claimed = false;
    private finished = false;
    private chain: Promise<void> = Promise.resolve();

    constructor(private readonly store: StageStore, private readonly call: grpc.ServerReadableStream<UploadChunk__Output, UploadReply>,
        private readonly callback: grpc.sendUnaryData<UploadReply>, private readonly nodeName: string) {}

    start() {
        const call = this.call;
        call.on("data", (msg: UploadChunk__Output | InvalidMessage) => {
            // Chunks are written one after another; the stream pauses while a write is pending.
            call.pause();
            this.chain = this.chain.then(() => this.onChunk(msg)).catch((e: Error) => this.fail(e)).finally(() => { if (!this.finished) call.resume(); });
        });
        call.on("end", () => { this.chain = this.chain.then(() => this.onEnd()).catch((e: Error) => this.fail(e)); });
        // A peer that dies or cancels ends the call without 'end' or 'error': every ending cleans up.
        call.on("error", () => { void this.cleanup(); });
        call.on("cancelled", () => { void this.cleanup(); });
        call.on("close", () => { if (!this.finished) void this.chain.then(() => this.cleanup()); });
    }

    private partial() { return `${this.store.fileFor(this.sha)}.partial`; }

    private async onChunk(msg: UploadChunk__Output | InvalidMessage) {
        if (this.finished) return;
        if (msg instanceof InvalidMessage) throw invalid(msg.reason);
        if (this.fh == null) {
            const h = msg.header;
            if (h == null || !SHA256_RE.test(h.stageSha256) || !SHA256_RE.test(h.modelSha256) || h.layers == null || h.layers.end <= h.layers.start || h.stageBytes <= 0 || h.stageBytes > MAX_STAGE_BYTES)
                throw invalid("the first upload message must carry a valid header (stage and model SHA-256, layers, size)");
            this.sha = h.stageSha256;
            if (!this.store.claim(this.sha)) throw new NodeError(grpc.status.ABORTED, "this stage file is already being uploaded; try again when that upload ends");
            this.claimed = true;
            await fs.promises.mkdir(this.store.dir, { recursive: true });
            const have = await this.store.resumeOffset(this.sha, h.stageBytes);
            if (msg.offset !== have) throw new NodeError(grpc.status.FAILED_PRECONDITION, `upload must resume at byte ${have}, not ${msg.offset}`);
            const disk = await fs.promises.statfs(this.store.dir);
            const free = disk.bavail * disk.bsize;
            if (free < h.stageBytes - have)
                throw new NodeError(grpc.status.RESOURCE_EXHAUSTED, `not enough disk space: ${formatBytes(free)} free, the stage needs ${formatBytes(h.stageBytes - have)} more — free some space on this machine`);
            this.fh = await fs.promises.open(this.partial(), "a");
            this.expected = h.stageBytes;
            this.position = have;
        } else if (msg.header != null) {
            throw invalid("only the first upload message may carry a header");
        }
        if (msg.offset !== this.position) throw invalid(`chunk at byte ${msg.offset} does not follow byte ${this.position}`);
        if (msg.data.length > MAX_UPLOAD_CHUNK) throw invalid(`chunk of ${msg.data.length} bytes is over the ${MAX_UPLOAD_CHUNK}-byte limit`);
        if (this.position + msg.data.length > this.expected) throw invalid("upload runs past the announced stage size");
        await this.fh.write(msg.data);
        this.position += msg.data.length;
        this.received += msg.data.length;
        this.store.progress({ stageSha256: this.sha, bytesDone: this.position, bytesTotal: this.expected }, false);
    }

    private async onEnd() {
        if (this.finished) return;
        if (this.fh == null) throw invalid("empty upload");
        await this.fh.close();
        this.fh = null;
        if (this.position < this.expected) return this.reply({ bytesReceived: this.received, complete: false });
        const hash = crypto.createHash("sha256");
        for await (const chunk of fs.createReadStream(this.partial(), { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
        if (hash.digest("hex") !== this.sha) {
            await fs.promises.rm(this.partial(), { force: true });
            throw new NodeError(grpc.status.DATA_LOSS, "the stage file arrived damaged (SHA-256 mismatch); it was discarded, send it again");
        }
        await this.store.remove(this.sha);
        await fs.promises.rename(this.partial(), this.store.fileFor(this.sha));
        await this.store.markVerified(this.sha);
        this.store.progress({ stageSha256: this.sha, bytesDone: this.expected, bytesTotal: this.expected }, true);
        this.reply({ bytesReceived: this.received, complete: true });
    }

    private reply(r: UploadReply) {
        if (this.finished) return;
        this.finished = true;
        this.callback(null, r);
        void this.cleanup();
    }

    private fail(e: Error) {
        if (!this.finished) {
            this.finished = true;
            const code = e instanceof NodeError ? e.code : grpc.status.INTERNAL;
            this.callback({ code, details: `node '${this.nodeName}': ${e.message}` });
        }
        void this.cleanup();
    }

    private cleaned = false;
    private async cleanup() {
        if (this.cleaned) return;
        this.cleaned = true;
        this.finished = true;
        const fh = this.fh;
        this.fh = null;
        await fh?.close().catch(() => {});
        if (this.claimed) { this.claimed = false; this.store.unclaim(this.sha); }
    }
}
