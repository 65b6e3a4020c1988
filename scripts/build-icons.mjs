// Renders the app icon, assets/icon.svg (the one source), into every file the installers need,
// under build/icons/ (electron-builder's buildResources points there):
//   icon.png              1024×1024, the master PNG
//   icon.icns             macOS: an ICNS container of PNG entries, 16 to 1024 and the @2x ones
//   icon.ico              Windows: an ICO container of PNG entries, 16 to 256
//   png/NxN.png           Linux: the icon set, 16x16.png … 1024x1024.png
// Each size is drawn from the vector by Chromium (through Playwright), not scaled down from 1024,
// on a transparent background. `node scripts/build-icons.mjs [--out DIR] [--src FILE]`, or
// `await buildIcons({ outDir, src })` from another script. The browser: HEARTH_CHROMIUM, else
// /usr/bin/chromium where it exists, else Playwright's own (`npx playwright install chromium`).
import { chromium } from "@playwright/test";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Every size rendered, in px. */
export const SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
/** The ICO's entries (256 is the largest an ICO directory can name). */
export const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
/** The ICNS entries: OSType and the pixel size its PNG must have. */
export const ICNS_ENTRIES = [
    ["icp4", 16], ["icp5", 32], ["icp6", 64], ["ic07", 128], ["ic08", 256], ["ic09", 512],
    ["ic10", 1024], ["ic11", 32], ["ic12", 64], ["ic13", 256], ["ic14", 512]
];

function chromiumPath() {
    if (process.env.HEARTH_CHROMIUM) return process.env.HEARTH_CHROMIUM;
    if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
    return undefined; // Playwright's own downloaded browser
}

/** Renders the SVG text at each size; returns a Map size → PNG (RGBA, transparent background). */
export async function renderSizes(svg, sizes = SIZES) {
    const browser = await chromium.launch({ executablePath: chromiumPath() });
    try {
        const max = Math.max(...sizes);
        const page = await browser.newPage({ viewport: { width: max, height: max }, deviceScaleFactor: 1 });
        await page.setContent(
            "<!doctype html><html><head><style>html,body{margin:0;padding:0;background:transparent}" +
            "img{display:block}</style></head><body><img id=\"icon\" alt=\"\"></body></html>"
        );
        const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
        const out = new Map();
        for (const size of sizes) {
            // The <img> lays the SVG out at this size, so Chromium rasterises the vector afresh.
            const ok = await page.evaluate(async ({ src: url, size: n }) => {
                const img = document.getElementById("icon");
                img.width = n;
                img.height = n;
                img.src = url;
                await img.decode();
                return img.naturalWidth > 0;
            }, { src, size });
            if (!ok) throw new Error("the SVG did not decode in Chromium");
            out.set(size, await page.screenshot({ clip: { x: 0, y: 0, width: size, height: size }, omitBackground: true, type: "png" }));
        }
        return out;
    } finally {
        await browser.close();
    }
}

/** An ICNS container of PNG entries: 'icns', the total length, then (OSType, length, data) each. */
export function icns(entries) {
    const parts = entries.map(([type, png]) => {
        const head = Buffer.alloc(8);
        head.write(type, 0, 4, "latin1");
        head.writeUInt32BE(png.length + 8, 4);
        return Buffer.concat([head, png]);
    });
    const head = Buffer.alloc(8);
    head.write("icns", 0, 4, "latin1");
    head.writeUInt32BE(8 + parts.reduce((n, p) => n + p.length, 0), 4);
    return Buffer.concat([head, ...parts]);
}

/** An ICO container of PNG-compressed entries; `images` is [size, png][]. */
export function ico(images) {
    const header = Buffer.alloc(6);
    header.writeUInt16LE(0, 0); // reserved
    header.writeUInt16LE(1, 2); // 1: icon
    header.writeUInt16LE(images.length, 4);
    const dir = Buffer.alloc(16 * images.length);
    let offset = header.length + dir.length;
    images.forEach(([size, png], i) => {
        const e = i * 16;
        dir.writeUInt8(size >= 256 ? 0 : size, e); // width; 0 means 256
        dir.writeUInt8(size >= 256 ? 0 : size, e + 1); // height
        dir.writeUInt8(0, e + 2); // no palette
        dir.writeUInt8(0, e + 3); // reserved
        dir.writeUInt16LE(1, e + 4); // colour planes
        dir.writeUInt16LE(32, e + 6); // bits per pixel
        dir.writeUInt32LE(png.length, e + 8);
        dir.writeUInt32LE(offset, e + 12);
        offset += png.length;
    });
    return Buffer.concat([header, dir, ...images.map(([, png]) => png)]);
}

/** Renders `src` (default assets/icon.svg) into `outDir` (default build/icons); returns the files written. */
export async function buildIcons({ src = path.join(root, "assets", "icon.svg"), outDir = path.join(root, "build", "icons") } = {}) {
    const svg = await readFile(src, "utf8");
    const pngs = await renderSizes(svg, SIZES);
    const png = (n) => {
        const data = pngs.get(n);
        if (!data) throw new Error(`no ${n}px render`);
        return data;
    };
    await mkdir(path.join(outDir, "png"), { recursive: true });
    const files = [];
    const write = async (rel, data) => {
        await writeFile(path.join(outDir, rel), data);
        files.push({ file: rel, bytes: data.length });
    };
    await write("icon.png", png(1024));
    await write("icon.icns", icns(ICNS_ENTRIES.map(([type, n]) => [type, png(n)])));
    await write("icon.ico", ico(ICO_SIZES.map((n) => [n, png(n)])));
    for (const n of SIZES) await write(path.join("png", `${n}x${n}.png`), png(n));
    return { outDir, files };
}

function arg(name) {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    const outDir = arg("--out");
    const src = arg("--src");
    const started = Date.now();
    buildIcons({ ...(outDir ? { outDir } : {}), ...(src ? { src } : {}) }).then(
        ({ outDir: dir, files }) => {
            const where = path.relative(process.cwd(), dir) || ".";
            for (const { file, bytes } of files) console.log(`  ${path.join(where, file)}  ${bytes} bytes`);
            console.log(`icons built in ${Date.now() - started} ms: ${files.length} files in ${where} (sizes ${SIZES.join(", ")})`);
        },
        (error) => {
            console.error(`build-icons: ${error instanceof Error ? error.message : String(error)}`);
            process.exitCode = 1;
        }
    );
}
