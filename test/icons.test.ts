// The app icon's build (scripts/build-icons.mjs): from assets/icon.svg, every size each installer
// needs, checked by parsing the files themselves (the PNG header, the ICO directory, the ICNS
// entries), with no image library: the sizes are named here, not taken from the script, so a size
// the script stops writing fails the test.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const script = path.join(root, "scripts", "build-icons.mjs");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-icons-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
const ICNS_SIZES: Record<string, number> = {
    icp4: 16, icp5: 32, icp6: 64, ic07: 128, ic08: 256, ic09: 512,
    ic10: 1024, ic11: 32, ic12: 64, ic13: 256, ic14: 512
};

let build: Promise<{ stdout: string }> | undefined;
/** Runs the script once, into the temp dir; every test waits on the same run. */
function built(): Promise<{ stdout: string }> {
    build ??= promisify(execFile)(process.execPath, [script, "--out", dir], { cwd: root, timeout: 120_000 });
    return build;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The IHDR of a PNG: width, height, bit depth, colour type. */
function pngHeader(png: Buffer, what: string): { width: number; height: number; bitDepth: number; colourType: number } {
    assert.ok(png.length > 33, `${what}: long enough for a PNG header`);
    assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), `${what}: the PNG signature`);
    assert.equal(png.toString("latin1", 12, 16), "IHDR", `${what}: IHDR first`);
    return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bitDepth: png[24]!, colourType: png[25]! };
}

/** Asserts a PNG of size×size, 8-bit RGBA (colour type 6). */
function assertPng(png: Buffer, size: number, what: string): void {
    const h = pngHeader(png, what);
    assert.deepEqual([h.width, h.height], [size, size], `${what}: ${size}×${size}`);
    assert.equal(h.colourType, 6, `${what}: colour type RGBA`);
    assert.equal(h.bitDepth, 8, `${what}: 8 bits a channel`);
}

/** Decodes an 8-bit RGBA, non-interlaced PNG to its pixels (zlib and the five scanline filters). */
function decodeRgba(png: Buffer): { width: number; height: number; pixels: Buffer } {
    const { width, height, bitDepth, colourType } = pngHeader(png, "decode");
    assert.equal(bitDepth, 8);
    assert.equal(colourType, 6);
    assert.equal(png[28], 0, "not interlaced");
    const idat: Buffer[] = [];
    for (let at = 8; at < png.length;) {
        const length = png.readUInt32BE(at);
        const type = png.toString("latin1", at + 4, at + 8);
        if (type === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
        if (type === "IEND") break;
        at += 12 + length;
    }
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const bpp = 4;
    const stride = width * bpp;
    assert.equal(raw.length, height * (stride + 1), "the image data's length");
    const pixels = Buffer.alloc(height * stride);
    for (let y = 0; y < height; y++) {
        const filter = raw[y * (stride + 1)]!;
        const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let x = 0; x < stride; x++) {
            const a = x >= bpp ? pixels[y * stride + x - bpp]! : 0;
            const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
            const c = x >= bpp && y > 0 ? pixels[(y - 1) * stride + x - bpp]! : 0;
            let predictor = 0;
            if (filter === 1) predictor = a;
            else if (filter === 2) predictor = b;
            else if (filter === 3) predictor = (a + b) >> 1;
            else if (filter === 4) {
                const p = a + b - c;
                const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            } else assert.equal(filter, 0, `filter type ${filter}`);
            pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
        }
    }
    return { width, height, pixels };
}

const read = (rel: string): Buffer => fs.readFileSync(path.join(dir, rel));

test("the script writes icon.png, icon.icns, icon.ico and png/NxN.png, and says what it wrote", { timeout: 150_000 }, async () => {
    const { stdout } = await built();
    const expected = ["icon.png", "icon.icns", "icon.ico", ...SIZES.map((n) => path.join("png", `${n}x${n}.png`))];
    for (const rel of expected) {
        assert.ok(fs.statSync(path.join(dir, rel)).size > 0, rel);
        assert.ok(stdout.includes(rel), `the output names ${rel}`);
    }
    assert.deepEqual(fs.readdirSync(path.join(dir, "png")).sort(), SIZES.map((n) => `${n}x${n}.png`).sort(), "the Linux set, and only it");
});

test("icon.png and every png/NxN.png: an RGBA PNG of its size", { timeout: 150_000 }, async () => {
    await built();
    assertPng(read("icon.png"), 1024, "icon.png");
    for (const n of SIZES) assertPng(read(path.join("png", `${n}x${n}.png`)), n, `png/${n}x${n}.png`);
});

test("icon.ico: a directory of PNG entries 16 to 256, each a PNG of its stated size", { timeout: 150_000 }, async () => {
    await built();
    const ico = read("icon.ico");
    assert.equal(ico.readUInt16LE(0), 0, "reserved");
    assert.equal(ico.readUInt16LE(2), 1, "type 1: icon");
    const count = ico.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
        const e = 6 + 16 * i;
        const width = ico[e]!, height = ico[e + 1]!;
        const stated = width === 0 ? 256 : width;
        assert.equal(height, width, `entry ${i}: square`);
        assert.equal(ico.readUInt16LE(e + 4), 1, `entry ${i}: one plane`);
        assert.equal(ico.readUInt16LE(e + 6), 32, `entry ${i}: 32 bits a pixel`);
        const bytes = ico.readUInt32LE(e + 8), offset = ico.readUInt32LE(e + 12);
        assert.ok(offset >= 6 + 16 * count && offset + bytes <= ico.length, `entry ${i}: its data inside the file`);
        assertPng(ico.subarray(offset, offset + bytes), stated, `ico entry ${stated}`);
        sizes.push(stated);
    }
    assert.deepEqual(sizes.sort((a, b) => a - b), ICO_SIZES, "every size, once");
    const e256 = 6 + 16 * sizes.indexOf(256);
    assert.deepEqual([ico[e256], ico[e256 + 1]], [0, 0], "the 256 entry's width and height bytes are 0");
});

test("icon.icns: the length in its header is the file's, and each entry is a PNG of its OSType's size", { timeout: 150_000 }, async () => {
    await built();
    const icns = read("icon.icns");
    assert.equal(icns.toString("latin1", 0, 4), "icns", "magic");
    assert.equal(icns.readUInt32BE(4), icns.length, "total length");
    const seen: string[] = [];
    for (let at = 8; at < icns.length;) {
        assert.ok(at + 8 <= icns.length, "an entry header inside the file");
        const type = icns.toString("latin1", at, at + 4);
        const length = icns.readUInt32BE(at + 4);
        assert.ok(length > 8 && at + length <= icns.length, `${type}: its length inside the file`);
        const size = ICNS_SIZES[type];
        assert.ok(size !== undefined, `${type}: an expected OSType`);
        assertPng(icns.subarray(at + 8, at + length), size, `icns ${type}`);
        seen.push(type);
        at += length;
    }
    assert.deepEqual(seen.sort(), Object.keys(ICNS_SIZES).sort(), "every OSType, once");
});

test("the 16 px icon draws something: transparent margin, opaque middle, more than one colour", { timeout: 150_000 }, async () => {
    await built();
    const { width, height, pixels } = decodeRgba(read(path.join("png", "16x16.png")));
    assert.deepEqual([width, height], [16, 16]);
    const at = (x: number, y: number) => [...pixels.subarray((y * width + x) * 4, (y * width + x) * 4 + 4)];
    assert.equal(at(0, 0)[3], 0, "the corner is transparent (the tile's margin)");
    assert.equal(at(8, 8)[3], 255, "the middle is opaque");
    let opaque = 0;
    const colours = new Set<string>();
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3]! > 0) opaque++;
        if (pixels[i + 3] === 255) colours.add(`${pixels[i]},${pixels[i + 1]},${pixels[i + 2]}`);
    }
    assert.ok(opaque > 100, `most of it is drawn (${opaque} of 256 pixels)`);
    assert.ok(opaque < 256, "not a full opaque square: the margin is transparent");
    assert.ok(colours.size >= 10, `not a flat colour: ${colours.size} colours among the opaque pixels`);
    // the flame shows against the tile: a warm pixel (red well above blue) and a dark one
    assert.ok([...colours].some((c) => { const [r, , b] = c.split(",").map(Number); return r! - b! > 120; }), "a warm (flame) pixel");
    assert.ok([...colours].some((c) => c.split(",").map(Number).every((v) => v < 80)), "a dark (tile) pixel");
});
