// Model downloads (app/models/model-downloads.ts) against a local HTTP server that serves a real
// (tiny) GGUF: progress, speed and ETA, the file as served, cancel and resume (node-llama-cpp's
// downloader: Range requests for the chunks not done), a 404, a body that is no GGUF, a full disk
// (a small tmpfs), and dispose.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { DownloadView } from "../app/ui-api/contract.ts";
import { ModelDownloads, ModelDownloadError, describeDownloadError, notGgufReason, parseModelUrl, partialPathOf } from "../app/models/model-downloads.ts";
import { SMALL, buildModel, tempDir } from "./helpers/models.ts";

const dir = tempDir("models-dl");
const mounts: string[] = [];
let model: Buffer;
before(async () => {
    // 2 layers of SMALL dims with the 32000-token SPM vocabulary (f32, tied): about 9 MB, two of ipull's 5 MiB chunks.
    model = fs.readFileSync(await buildModel(dir, "tiny", { arch: "llama", vocab: "llama-spm", layers: 2, type: "f32", tied: true, ...SMALL }));
});
after(() => {
    for (const m of mounts) { try { execFileSync("umount", [m], { stdio: "pipe" }); } catch { /* not mounted */ } }
    fs.rmSync(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const CHUNK = 5 * MiB; // ipull's chunk size: the unit a download resumes by

interface SeenRequest { method: string; path: string; range: string | null; bytesSent: number; status: number; closed: boolean }

interface ServeOptions {
    /** bytes per second over all ranged responses together (unpaced when absent) */
    bytesPerSecond?: number;
    /** answer Range requests (Accept-Ranges: bytes). Defaults to true */
    ranges?: boolean;
}

/** A file server on 127.0.0.1: path → body; anything else 404. Ranged bodies are sent in 64 KiB pieces at the given pace. */
async function serve(files: Record<string, Buffer | ((req: http.IncomingMessage) => Buffer)>, options: ServeOptions = {}) {
    const seen: SeenRequest[] = [];
    let nextSlot = 0;
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        const range = req.headers.range ?? null;
        const r: SeenRequest = { method: req.method ?? "", path: url.pathname, range, bytesSent: 0, status: 0, closed: false };
        seen.push(r);
        res.on("close", () => { r.closed = true; });
        const file = files[url.pathname];
        if (file == null) { r.status = 404; res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
        const body = typeof file === "function" ? file(req) : file;
        const ranges = options.ranges ?? true;
        let start = 0, end = body.length - 1;
        const m = ranges && range != null ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
        const headers: http.OutgoingHttpHeaders = { "content-type": "application/octet-stream", ...(ranges ? { "accept-ranges": "bytes" } : {}) };
        if (m != null) {
            start = Number(m[1]);
            end = m[2] === "" ? body.length - 1 : Math.min(Number(m[2]), body.length - 1);
            if (start >= body.length) { r.status = 416; res.writeHead(416, { "content-range": `bytes */${body.length}` }).end(); return; }
            r.status = 206;
            res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${body.length}`, "content-length": end - start + 1 });
        } else {
            r.status = 200;
            res.writeHead(200, { ...headers, "content-length": body.length });
        }
        if (req.method === "HEAD") { res.end(); return; }
        const part = body.subarray(start, end + 1);
        if (m == null || options.bytesPerSecond == null) {
            // Unranged bodies go at once (ipull's size request never reads its body).
            r.bytesSent = part.length;
            res.end(part);
            return;
        }
        void (async () => {
            for (let at = 0; at < part.length && !r.closed; at += 64 * 1024) {
                const piece = part.subarray(at, at + 64 * 1024);
                const now = Date.now();
                const slot = Math.max(now, nextSlot);
                nextSlot = slot + (piece.length / options.bytesPerSecond!) * 1000;
                if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
                if (r.closed) break;
                r.bytesSent += piece.length;
                if (!res.write(piece)) {
                    await new Promise<void>((resolve) => {
                        const go = () => { res.off("drain", go); res.off("close", go); resolve(); };
                        res.on("drain", go);
                        res.on("close", go);
                    });
                }
            }
            res.end();
        })();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    return {
        seen,
        url: (p: string) => `http://127.0.0.1:${port}${p}`,
        close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); })
    };
}

/** A ModelDownloads over a fresh folder that records every onChange call. */
function downloads(name: string, options: { changeIntervalMs?: number } = {}) {
    const modelsDir = path.join(dir, name);
    const changes: Array<{ at: number; list: DownloadView[] }> = [];
    const d = new ModelDownloads({ modelsDir, onChange: (list) => changes.push({ at: Date.now(), list }), ...options });
    return { d, modelsDir, changes };
}

async function until<T>(what: string, f: () => T | undefined | null | false, timeoutMs = 20000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = f();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

const viewOf = (d: ModelDownloads, id: string) => d.list().find((v) => v.id === id)!;
const ended = (d: ModelDownloads, id: string) => until(`download ${id} to end`, () => { const v = viewOf(d, id); return v.state !== "downloading" ? v : null; }, 30000);

test("a download completes: progress grows to the total at most 4 times a second, speed and ETA follow the pace, the file is the one served", { timeout: 60000 }, async () => {
    const rate = 4 * MiB;
    const server = await serve({ "/m/tiny.gguf": model }, { bytesPerSecond: rate });
    const { d, modelsDir, changes } = downloads("complete");
    try {
        const first = d.start(server.url("/m/tiny.gguf"));
        assert.equal(first.state, "downloading");
        assert.equal(first.fileName, "tiny.gguf");
        assert.equal(first.path, path.join(modelsDir, "tiny.gguf"));
        assert.equal(d.start(server.url("/m/tiny.gguf")).id, first.id, "the same URL while it runs is the same download");
        const done = await ended(d, first.id);
        assert.equal(done.state, "done", done.error);
        assert.equal(done.error, "");
        assert.equal(done.bytesDone, model.length);
        assert.equal(done.bytesTotal, model.length);
        assert.ok(fs.readFileSync(done.path).equals(model), "the downloaded file is the served one, byte for byte");
        assert.equal(fs.existsSync(partialPathOf(done.path)), false, "no partial file is left");

        await until("the last change", () => changes.at(-1)?.list[0]?.state === "done");
        const views = changes.map((c) => c.list.find((v) => v.id === first.id)).filter((v): v is DownloadView => v != null);
        const bytes = views.map((v) => v.bytesDone);
        for (let i = 1; i < bytes.length; i++) assert.ok(bytes[i]! >= bytes[i - 1]!, `progress never goes back (${bytes.join(", ")})`);
        const partway = views.filter((v) => v.state === "downloading" && v.bytesDone > 0 && v.bytesDone < model.length);
        assert.ok(new Set(partway.map((v) => v.bytesDone)).size >= 3, `progress is reported along the way (${bytes.join(", ")})`);
        assert.ok(views.every((v) => v.bytesTotal === 0 || v.bytesTotal === model.length), "the total is the file's size once known");
        for (let i = 1; i < changes.length; i++)
            assert.ok(changes[i]!.at - changes[i - 1]!.at >= 240, `onChange at most every 250 ms (gap ${changes[i]!.at - changes[i - 1]!.at} ms)`);
        const speeds = partway.map((v) => v.bytesPerSecond).filter((s) => s > 0);
        assert.ok(speeds.length >= 2, "a speed is shown while it downloads");
        const late = speeds.slice(Math.floor(speeds.length / 2));
        for (const s of late) assert.ok(s > rate * 0.4 && s < rate * 1.6, `speed ${Math.round(s / 1024)} KiB/s is near the server's ${rate / 1024} KiB/s`);
        const etas = partway.filter((v) => v.etaSeconds != null);
        assert.ok(etas.length >= 1 && etas.every((v) => v.etaSeconds! >= 0 && v.etaSeconds! < 30), "an ETA is shown, in seconds");
        const v = etas.at(-1)!;
        assert.ok(Math.abs(v.etaSeconds! - (v.bytesTotal - v.bytesDone) / v.bytesPerSecond) <= 1, "the ETA is what is left over the speed");
    } finally {
        await d.dispose();
        await server.close();
    }
});

test("a cancelled download keeps its partial file and a new start resumes it with Range requests for the chunks not done", { timeout: 60000 }, async () => {
    const server = await serve({ "/m/tiny.gguf": model }, { bytesPerSecond: 4 * MiB });
    const { d, modelsDir } = downloads("resume");
    try {
        const url = server.url("/m/tiny.gguf");
        const finalPath = path.join(modelsDir, "tiny.gguf");
        const partial = partialPathOf(finalPath);
        const first = d.start(url);
        // ipull appends its progress after the data once a chunk is complete: the partial file grows past the model's size.
        await until("a chunk saved in the partial file", () => fs.existsSync(partial) && fs.statSync(partial).size > model.length);
        await d.cancel(first.id);
        const cancelled = viewOf(d, first.id);
        assert.equal(cancelled.state, "cancelled");
        assert.equal(cancelled.error, "");
        assert.ok(cancelled.bytesDone > 0 && cancelled.bytesDone < model.length, `part of it was downloaded (${cancelled.bytesDone})`);
        assert.ok(fs.existsSync(partial), "the partial file stays after a cancel");
        assert.equal(fs.existsSync(finalPath), false, "nothing is at the final path yet");
        const firstRun = server.seen.length;
        const firstRanged = server.seen.filter((r) => r.range != null && r.range !== "bytes=0-3").reduce((a, r) => a + r.bytesSent, 0);

        const second = d.start(url);
        assert.notEqual(second.id, first.id);
        assert.deepEqual(d.list().map((v) => v.id), [second.id], "the new start replaces the cancelled one");
        const done = await ended(d, second.id);
        assert.equal(done.state, "done", done.error);
        assert.ok(fs.readFileSync(finalPath).equals(model), "the resumed file is the served one, byte for byte");
        assert.equal(fs.existsSync(partial), false);

        const resumed = server.seen.slice(firstRun).filter((r) => r.range != null && r.range !== "bytes=0-3");
        assert.ok(resumed.length >= 1, "the second run fetched with Range requests");
        const resumedBytes = resumed.reduce((a, r) => a + r.bytesSent, 0);
        assert.ok(resumedBytes <= CHUNK && resumedBytes < model.length - MiB,
            `the second run fetched only what was not done: ${resumedBytes} bytes of ${model.length} (the first sent ${firstRanged}; ranges ${resumed.map((r) => r.range).join(", ")})`);
        assert.ok(resumed.every((r) => { const m = /^bytes=(\d+)-(\d+)$/.exec(r.range!)!; return Number(m[1]) % CHUNK === 0; }), "ranges start on chunk boundaries");
    } finally {
        await d.dispose();
        await server.close();
    }
});

test("a 404 (or a 401) fails with the status, the URL and what to do; nothing is written", { timeout: 30000 }, async () => {
    const server = await serve({});
    const gated = http.createServer((_, res) => { res.writeHead(401, { "www-authenticate": "Bearer" }).end("unauthorized"); });
    await new Promise<void>((resolve) => gated.listen(0, "127.0.0.1", resolve));
    const { d, modelsDir } = downloads("missing");
    try {
        const url = server.url("/nowhere/model.gguf");
        const v = await ended(d, d.start(url).id);
        assert.equal(v.state, "failed");
        assert.equal(v.error, `the server answered 404 for ${url} — check the URL (the file may have been renamed or removed)`);
        assert.deepEqual(fs.readdirSync(modelsDir), []);
        // A 401 passes the probe (node-llama-cpp would ask again with a Hugging Face token): ipull's own status error is put in words.
        const gatedUrl = `http://127.0.0.1:${(gated.address() as AddressInfo).port}/org/model.gguf`;
        const g = await ended(d, d.start(gatedUrl).id);
        assert.equal(g.state, "failed");
        assert.match(g.error, new RegExp(`^the server answered 401 for ${gatedUrl.replace(/[.?]/g, "\\$&")} — the file is not public: a gated Hugging Face model needs its license accepted`));
        assert.deepEqual(fs.readdirSync(modelsDir), []);
    } finally {
        await d.dispose();
        await server.close();
        gated.closeAllConnections();
        await new Promise<void>((resolve) => gated.close(() => resolve()));
    }
});

test("a body that is not a GGUF is refused: at once when its start is not one, after the download when the whole file is not one; nothing stays", { timeout: 30000 }, async () => {
    const page = Buffer.from(`<!doctype html><html><body>${"sign in to download this file ".repeat(400)}</body></html>`);
    // A server that gives "GGUF" for the first 4 bytes alone, and a web page for the rest: only the finished file's check can tell.
    const lying = (req: http.IncomingMessage) => req.headers.range === "bytes=0-3" ? Buffer.concat([Buffer.from("GGUF"), page.subarray(4)]) : page;
    const server = await serve({ "/page/model.gguf": page, "/lying/model.gguf": lying });
    const { d, modelsDir } = downloads("not-gguf");
    try {
        const early = await ended(d, d.start(server.url("/page/model.gguf")).id);
        assert.equal(early.state, "failed");
        assert.match(early.error, /^not a GGUF file: .*\/page\/model\.gguf gave a web page, not a file that starts with "GGUF"/);
        assert.equal(server.seen.filter((r) => r.path === "/page/model.gguf").length, 1, "refused on the probe, before the download");
        assert.deepEqual(fs.readdirSync(modelsDir), []);

        const late = await ended(d, d.start(server.url("/lying/model.gguf")).id);
        assert.equal(late.state, "failed");
        assert.match(late.error, /^not a GGUF file: .*\/lying\/model\.gguf gave a web page/);
        assert.ok(server.seen.filter((r) => r.path === "/lying/model.gguf").length >= 3, "it was downloaded before it was refused");
        assert.deepEqual(fs.readdirSync(modelsDir), [], "the file that is no GGUF is removed");
    } finally {
        await d.dispose();
        await server.close();
    }
});

test("URLs: http(s) and hf: single .gguf files only, Hugging Face pages become download links", { timeout: 10000 }, () => {
    const hf = "https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf";
    assert.deepEqual(parseModelUrl(hf), { url: hf, fileName: "Llama-3.2-1B-Instruct-Q4_K_M.gguf" });
    assert.deepEqual(parseModelUrl(" hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf "), { url: hf, fileName: "Llama-3.2-1B-Instruct-Q4_K_M.gguf" });
    assert.equal(parseModelUrl("hf:Qwen/Qwen3-8B-GGUF/sub/Qwen3-8B-Q4_K_M.gguf#v2").url, "https://huggingface.co/Qwen/Qwen3-8B-GGUF/resolve/v2/sub/Qwen3-8B-Q4_K_M.gguf");
    assert.equal(parseModelUrl(hf.replace("/resolve/", "/blob/")).url, hf, "a file's page becomes its download link");
    assert.equal(parseModelUrl(`${hf}?download=true`).fileName, "Llama-3.2-1B-Instruct-Q4_K_M.gguf");
    assert.equal(parseModelUrl("http://192.168.1.5:8000/models/My%20Model.GGUF").fileName, "My Model.GGUF");
    const refused: Array<[string, RegExp]> = [
        ["ftp://example.com/m.gguf", /only http\(s\) and hf: URLs/],
        ["file:///home/me/m.gguf", /only http\(s\) and hf: URLs/],
        ["not a url", /is not a URL/],
        ["", /give the URL of a \.gguf file/],
        ["https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF", /does not name a \.gguf file/],
        ["https://example.com/model.safetensors", /does not name a \.gguf file/],
        ["https://example.com/model.gguf.part1of3", /does not name a \.gguf file/],
        ["https://example.com/Llama-3.3-70B-Q8_0-00001-of-00002.gguf", /part 1 of a model split into 2 files/],
        ["hf:bartowski/Llama-3.2-1B-Instruct-GGUF", /write hf:<user>\/<repo>\/<file>\.gguf/],
        ["https://example.com/.gguf", /cannot be a file name/]
    ];
    for (const [url, message] of refused) assert.throws(() => parseModelUrl(url), (e: unknown) => e instanceof ModelDownloadError && message.test(e.message), url);
    const d = new ModelDownloads({ modelsDir: path.join(dir, "urls") });
    assert.throws(() => d.start("ftp://example.com/m.gguf"), ModelDownloadError, "start refuses at once");
    assert.deepEqual(d.list(), []);
    assert.throws(() => d.cancel("no-such-id"), ModelDownloadError);
    return d.dispose();
});

test("errors in words a user can act on: status codes, a full disk, an unreachable server", { timeout: 10000 }, async () => {
    const c = { url: "https://example.com/m.gguf", fileName: "m.gguf", modelsDir: "/models", bytesDone: 1 * MiB, bytesTotal: 5 * MiB, freeBytes: 0 };
    // ipull's StatusCodeError carries statusCode; fetch wraps system errors in `cause`.
    assert.equal(describeDownloadError(Object.assign(new Error("Url: …, Status code: 404"), { statusCode: 404 }), c), "the server answered 404 for https://example.com/m.gguf — check the URL (the file may have been renamed or removed)");
    assert.match(describeDownloadError({ statusCode: 403 }, c), /^the server answered 403 .* gated Hugging Face model .* HF_TOKEN/);
    assert.match(describeDownloadError({ statusCode: 503 }, c), /^the server answered 503 .* try again later/);
    assert.equal(describeDownloadError(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), c),
        "the disk is full: m.gguf needs 4.00 MB more and 0 B is free in /models — free some space, then start it again (it resumes where it stopped)");
    assert.match(describeDownloadError(new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND example.com"), { code: "ENOTFOUND" }) }), c), /^could not find the server example\.com/);
    assert.match(describeDownloadError(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) }), c), /^example\.com refused the connection/);
    assert.equal(describeDownloadError(new Error("something odd"), c), "downloading m.gguf failed: something odd");
    assert.equal(notGgufReason(Buffer.from("GGUF\x03\x00"), c.url), null);
    assert.match(notGgufReason(Buffer.from("PK\x03\x04"), c.url)!, /starts with "PK\\u0003\\u0004"/);
    assert.match(notGgufReason(Buffer.alloc(0), c.url)!, /gave an empty file/);

    // A port nobody listens on: refused at once (ipull alone would retry it for minutes).
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { d } = downloads("refused");
    try {
        const t0 = Date.now();
        const v = await ended(d, d.start(`http://127.0.0.1:${port}/m.gguf`).id);
        assert.equal(v.state, "failed");
        assert.equal(v.error, `127.0.0.1:${port} refused the connection: check the URL (and its port), or try again later`);
        assert.ok(Date.now() - t0 < 5000, "at once");
    } finally {
        await d.dispose();
    }
});

/** Mounts a tmpfs of `size` at a new folder (unmounted after the file's tests); null when this process may not mount. */
function tmpfs(size: string): string | null {
    const mountDir = fs.mkdtempSync(path.join(dir, "tmpfs-"));
    try {
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mountDir], { stdio: "pipe" });
    } catch {
        return null;
    }
    mounts.push(mountDir);
    return mountDir;
}

const freeOn = (folder: string) => { const s = fs.statfsSync(folder); return s.bavail * s.bsize; };

test("a full disk: refused before the download when the room is short; a disk that fills up during it fails with the space needed, and resumes once there is room", { timeout: 60000 }, async (t) => {
    const small = tmpfs("1m");
    if (small == null) {
        // Not root (or no CAP_SYS_ADMIN): the ENOSPC wording is checked as a pure function only (here and in the test above).
        t.diagnostic("mount -t tmpfs failed: the full disk is checked through describeDownloadError only");
        assert.match(describeDownloadError({ code: "ENOSPC" }, { url: "u", fileName: "m.gguf", modelsDir: "/m", bytesDone: 0, bytesTotal: 2 * MiB }), /^the disk is full: m\.gguf needs 2\.00 MB more/);
        return;
    }
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => { unhandled.push(e); };
    process.on("unhandledRejection", onUnhandled);
    const server = await serve({ "/m/tiny.gguf": model }, { bytesPerSecond: 4 * MiB });
    try {
        const d1 = new ModelDownloads({ modelsDir: small });
        const v1 = await ended(d1, d1.start(server.url("/m/tiny.gguf")).id);
        assert.equal(v1.state, "failed");
        assert.match(v1.error, /^the disk is full: tiny\.gguf needs (8|9)\.\d\d MB more and (1000\.0 KB|1\.00 MB) is free in .*tmpfs-.* — free some space, then start it again$/);
        assert.deepEqual(fs.readdirSync(small), [], "nothing was written");
        await d1.dispose();

        // Room at the start; once a chunk is on disk another program fills the disk.
        const big = tmpfs("12m")!;
        const d2 = new ModelDownloads({ modelsDir: big });
        const url = server.url("/m/tiny.gguf");
        const partial = partialPathOf(path.join(big, "tiny.gguf"));
        const id = d2.start(url).id;
        await until("a chunk saved in the partial file", () => fs.existsSync(partial) && fs.statSync(partial).size > model.length);
        const filler = path.join(big, "filler");
        try { fs.writeFileSync(filler, Buffer.alloc(freeOn(big))); } catch { /* filled to the last byte */ }
        const v2 = await ended(d2, id);
        assert.equal(v2.state, "failed");
        assert.match(v2.error, /^the disk is full: tiny\.gguf needs .* more and .* is free in .* — free some space, then start it again \(it resumes where it stopped\)$/);
        assert.ok(fs.existsSync(partial), "the partial file stays");
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(unhandled.map(String), [], "no unhandled rejection on the way (ipull's own writes would leave some)");

        // Room again: the download resumes from what was written, and the file is whole.
        fs.rmSync(filler);
        const before = server.seen.length;
        const v3 = await ended(d2, d2.start(url).id);
        assert.equal(v3.state, "done", v3.error);
        assert.ok(fs.readFileSync(path.join(big, "tiny.gguf")).equals(model), "the file is whole: no chunk whose write failed was counted as done");
        const again = server.seen.slice(before).filter((r) => r.range != null && r.range !== "bytes=0-3").reduce((a, r) => a + r.bytesSent, 0);
        assert.ok(again < model.length - MiB, `the chunk written before the disk filled was not fetched again (${again} of ${model.length} bytes)`);
        await d2.dispose();
    } finally {
        process.off("unhandledRejection", onUnhandled);
        await server.close();
    }
});

test("dispose cancels the downloads in progress (their partial files stay), says so once, and refuses new ones", { timeout: 30000 }, async () => {
    const server = await serve({ "/m/tiny.gguf": model }, { bytesPerSecond: 2 * MiB });
    const { d, modelsDir, changes } = downloads("dispose");
    try {
        let told = 0;
        d.onDispose(() => { told++; });
        const gone = d.onDispose(() => { told += 100; });
        gone();
        const id = d.start(server.url("/m/tiny.gguf")).id;
        const partial = partialPathOf(path.join(modelsDir, "tiny.gguf"));
        await until("a chunk saved in the partial file", () => fs.existsSync(partial) && fs.statSync(partial).size > model.length);
        assert.equal(d.disposed, false);
        await d.dispose();
        assert.equal(d.disposed, true);
        assert.equal(told, 1, "the onDispose listener was told once; the removed one not at all");
        const v = viewOf(d, id);
        assert.equal(v.state, "cancelled");
        assert.equal(changes.at(-1)!.list[0]!.state, "cancelled", "the last change says it was cancelled");
        assert.ok(fs.existsSync(partial), "the partial file stays, to resume later");
        await until("the server's transfers to stop", () => server.seen.filter((r) => r.range != null && r.range !== "bytes=0-3").every((r) => r.closed), 5000);
        const calls = changes.length;
        await new Promise((resolve) => setTimeout(resolve, 600));
        assert.equal(changes.length, calls, "no change after dispose");
        assert.throws(() => d.start(server.url("/m/tiny.gguf")), /shutting down/);
        let late = 0;
        d.onDispose(() => { late++; });
        assert.equal(late, 1, "a listener added after dispose is told at once");
        await d.dispose();
        assert.equal(told, 1, "a second dispose does nothing");
    } finally {
        await d.dispose();
        await server.close();
    }
});
