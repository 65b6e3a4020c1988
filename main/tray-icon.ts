// The tray icon, drawn in code (no image file to package or lose): a small house with a flame
// in its door, as a PNG of any size. On macOS it is a template image (black and alpha, the menu
// bar tints it); elsewhere it is drawn in Hearth's ember colour. Pure: node:zlib only.
import zlib from "node:zlib";

export interface Rgba { r: number; g: number; b: number; a: number }

export const EMBER: Rgba = Object.freeze({ r: 0xe0, g: 0x6a, b: 0x2b, a: 0xff });
export const TEMPLATE_BLACK: Rgba = Object.freeze({ r: 0, g: 0, b: 0, a: 0xff });

/** Coverage (0…1) of the glyph at a point in the unit square (y down), sampled for anti-aliasing. */
function glyph(x: number, y: number): number {
    // roof: a triangle from (0.5, 0.08) to (0.04, 0.5) and (0.96, 0.5)
    const roof = y >= 0.08 && y <= 0.5 && Math.abs(x - 0.5) <= (y - 0.08) * (0.46 / 0.42);
    // walls
    const walls = x >= 0.16 && x <= 0.84 && y >= 0.46 && y <= 0.92;
    // the door is cut out, and a flame sits in it
    const door = x >= 0.38 && x <= 0.62 && y >= 0.6 && y <= 0.92;
    // the flame: a teardrop, round below and pointed above
    const cy = 0.835, r = 0.07, tip = 0.65;
    const inDrop = (x - 0.5) ** 2 + (y - cy) ** 2 <= r * r;
    const inPoint = y >= tip && y <= cy && Math.abs(x - 0.5) <= r * ((y - tip) / (cy - tip));
    const flame = inDrop || inPoint;
    if (door) return flame ? 1 : 0;
    return roof || walls ? 1 : 0;
}

/** The icon's pixels: width × height RGBA, row by row. */
export function trayIconPixels(size: number, colour: Rgba): Uint8Array {
    const n = Math.max(1, Math.floor(size));
    const pixels = new Uint8Array(n * n * 4);
    const samples = 4;
    for (let py = 0; py < n; py++) {
        for (let px = 0; px < n; px++) {
            let covered = 0;
            for (let sy = 0; sy < samples; sy++) {
                for (let sx = 0; sx < samples; sx++) {
                    covered += glyph((px + (sx + 0.5) / samples) / n, (py + (sy + 0.5) / samples) / n);
                }
            }
            const alpha = covered / (samples * samples);
            const o = (py * n + px) * 4;
            pixels[o] = colour.r;
            pixels[o + 1] = colour.g;
            pixels[o + 2] = colour.b;
            pixels[o + 3] = Math.round(alpha * colour.a);
        }
    }
    return pixels;
}

/** A PNG (8-bit RGBA) of the icon at `size` pixels square. */
export function trayIconPng(size: number, colour: Rgba = EMBER): Buffer {
    const n = Math.max(1, Math.floor(size));
    return encodePng(n, n, trayIconPixels(n, colour));
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
    if (rgba.length !== width * height * 4) throw new Error(`encodePng: ${rgba.length} bytes for ${width}×${height} RGBA`);
    const raw = Buffer.alloc((width * 4 + 1) * height);
    for (let y = 0; y < height; y++) {
        raw[y * (width * 4 + 1)] = 0; // filter: none
        Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 6; // colour type: RGBA
    ihdr[10] = 0;
    ihdr[11] = 0;
    ihdr[12] = 0;
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk("IHDR", ihdr),
        chunk("IDAT", zlib.deflateSync(raw)),
        chunk("IEND", Buffer.alloc(0))
    ]);
}

function chunk(type: string, data: Buffer): Buffer {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
}

let table: Uint32Array | null = null;

export function crc32(bytes: Uint8Array): number {
    if (table == null) {
        table = new Uint32Array(256);
        for (let i = 0; i < 256; i++) {
            let c = i;
            for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            table[i] = c >>> 0;
        }
    }
    let c = 0xffffffff;
    for (const b of bytes) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}
