// Smaller pieces of the desktop shell: the worker's command line, the control messages' guards,
// finding the Electron binary without downloading it, and the tray icon's PNG.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { after, test } from "node:test";
import { findElectronBinary } from "../main/electron-binary.mjs";
import { crc32, trayIconPixels, trayIconPng, TEMPLATE_BLACK } from "../main/tray-icon.ts";
import { isFromWorker, isNodeDown, isToWorker, parseWorkerArgv, portFromEnv, workerArgv } from "../main/worker-protocol.ts";

const T = { timeout: 10000 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-main-shell-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the worker's arguments survive the trip through its command line", T, () => {
    const argv = workerArgv({ dataDir: "/data/Hearth dir", name: "den pc", port: 7420 });
    assert.deepEqual(argv, ["--data-dir=/data/Hearth dir", "--name=den pc", "--port=7420"]);
    assert.deepEqual(parseWorkerArgv(["/electron", "worker.js", ...argv]), { dataDir: "/data/Hearth dir", name: "den pc", port: 7420 });
    assert.deepEqual(parseWorkerArgv(["--data-dir=/a=b"]), { dataDir: "/a=b" }, "only the first = splits");
    assert.deepEqual(parseWorkerArgv([], { HEARTH_DATA_DIR: "/env" }), { dataDir: "/env" });
    assert.deepEqual(parseWorkerArgv(["--data-dir=/arg"], { HEARTH_DATA_DIR: "/env" }), { dataDir: "/arg" }, "the argument wins");
    assert.throws(() => parseWorkerArgv([]), /--data-dir/);
    assert.throws(() => parseWorkerArgv(["--data-dir=/x", "--port=99999"]), /port/);
    assert.equal(portFromEnv(undefined), undefined);
    assert.equal(portFromEnv(" "), undefined);
    assert.equal(portFromEnv("0"), 0);
    assert.throws(() => portFromEnv("http"), /HEARTH_PORT/);
});

test("node settings from the environment (tests, several instances on one machine)", T, () => {
    assert.deepEqual(parseWorkerArgv(["--data-dir=/d"], { HEARTH_HOST: "127.0.0.1", HEARTH_DISCOVERY: "0", HEARTH_SPEED_TEST: "0", HEARTH_MEMORY_LIMIT: "146800640", HEARTH_MAX_REPLY_TOKENS: "300" }),
        { dataDir: "/d", host: "127.0.0.1", discovery: false, measureSpeed: false, memoryLimitBytes: 146800640, maxReplyTokens: 300 });
    assert.deepEqual(parseWorkerArgv(["--data-dir=/d"], { HEARTH_DISCOVERY: "1", HEARTH_HOST: "" }), { dataDir: "/d" }, "only 0 turns discovery off");
    assert.throws(() => parseWorkerArgv(["--data-dir=/d"], { HEARTH_MEMORY_LIMIT: "lots" }), /HEARTH_MEMORY_LIMIT must be a number of bytes/);
});

test("control messages are checked before they are used", T, () => {
    assert.equal(isFromWorker({ type: "ready" }), true);
    assert.equal(isFromWorker({ type: "fatal", message: "x" }), true);
    assert.equal(isFromWorker({ type: "fatal" }), false);
    assert.equal(isFromWorker({ type: "connect", connectionId: 1 }), false);
    assert.equal(isFromWorker(null), false);
    assert.equal(isToWorker({ type: "connect", connectionId: 3 }), true);
    assert.equal(isToWorker({ type: "connect", connectionId: 1.5 }), false);
    assert.equal(isToWorker({ type: "disconnect" }), false);
    assert.equal(isToWorker({ type: "shutdown" }), true);
    assert.equal(isToWorker({ type: "eval", code: "1" }), false);
    const fallback = { phase: "starting", version: "0", nodeName: "n", nodeId: null, clusterId: null, address: null, message: "", shell: "desktop" };
    assert.equal(isNodeDown({ phase: "starting", message: "m", gaveUp: false, fallback }), true);
    assert.equal(isNodeDown({ phase: "running", message: "m", gaveUp: false, fallback }), false);
    assert.equal(isNodeDown({ phase: "failed", message: "m", fallback }), false);
});

test("the Electron binary is found from path.txt and dist/, or the override, and never downloaded", T, () => {
    const pkg = path.join(dir, "electron");
    fs.mkdirSync(path.join(pkg, "dist"), { recursive: true });
    const none = findElectronBinary({ packageDir: pkg, env: {} });
    assert.equal(none.found, false);
    assert.match(none.found ? "" : none.reason, /never downloaded/);
    fs.writeFileSync(path.join(pkg, "path.txt"), "electron");
    const missing = findElectronBinary({ packageDir: pkg, env: {} });
    assert.equal(missing.found, false, "path.txt without the binary is not an install");
    fs.writeFileSync(path.join(pkg, "dist", "electron"), "");
    assert.deepEqual(findElectronBinary({ packageDir: pkg, env: {} }), { found: true, path: path.join(pkg, "dist", "electron") });
    const override = path.join(dir, "override");
    fs.mkdirSync(override);
    assert.equal(findElectronBinary({ packageDir: pkg, env: { ELECTRON_OVERRIDE_DIST_PATH: override } }).found, false, "the override is where it must be");
    fs.writeFileSync(path.join(override, "electron"), "");
    assert.deepEqual(findElectronBinary({ packageDir: pkg, env: { ELECTRON_OVERRIDE_DIST_PATH: override } }), { found: true, path: path.join(override, "electron") });
    // This checkout: the electron package is installed without its binary.
    const here = findElectronBinary({ env: {} });
    assert.equal(here.found, fs.existsSync(path.join("node_modules", "electron", "path.txt")) && fs.existsSync(path.join("node_modules", "electron", "dist")));
});

test("the tray icon is a valid RGBA PNG of the size asked, with the glyph drawn and the corners clear", T, () => {
    const png = trayIconPng(32);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.readUInt32BE(16), 32);
    assert.equal(png.readUInt32BE(20), 32);
    // Every chunk's CRC holds, and the pixels inflate back to what was drawn.
    let offset = 8;
    const idat: Buffer[] = [];
    const types: string[] = [];
    while (offset < png.length) {
        const length = png.readUInt32BE(offset);
        const type = png.toString("ascii", offset + 4, offset + 8);
        const body = png.subarray(offset + 8, offset + 8 + length);
        assert.equal(png.readUInt32BE(offset + 8 + length), crc32(png.subarray(offset + 4, offset + 8 + length)), `${type} CRC`);
        if (type === "IDAT") idat.push(body);
        types.push(type);
        offset += 12 + length;
    }
    assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
    const raw = zlib.inflateSync(Buffer.concat(idat));
    assert.equal(raw.length, (32 * 4 + 1) * 32);
    const pixels = trayIconPixels(32, { r: 0xe0, g: 0x6a, b: 0x2b, a: 0xff });
    assert.deepEqual([...raw.subarray(1, 1 + 32 * 4)], [...pixels.subarray(0, 32 * 4)]);
    const alpha = (x: number, y: number) => pixels[(y * 32 + x) * 4 + 3]!;
    assert.equal(alpha(0, 0), 0, "a clear corner");
    assert.equal(alpha(16, 12), 255, "the roof");
    assert.equal(alpha(8, 22), 255, "a wall");
    assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926, "the standard CRC-32 check value");
    const template = trayIconPixels(16, TEMPLATE_BLACK);
    assert.ok([...template].every((v, i) => i % 4 === 3 || v === 0), "a template image is black with alpha");
});
