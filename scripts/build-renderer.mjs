// Bundles the renderer (renderer/main.tsx) into renderer/dist/: index.html, app.js and app.css,
// minified, with source maps. `node scripts/build-renderer.mjs [--out DIR]`, or
// `await buildRenderer({ outDir })` from another script. HEARTH_RENDERER_DEBUG=1 keeps the
// names (readable stack traces while looking into a problem); the bundle is minified either way.
import { build } from "esbuild";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Builds the renderer into `outDir` (default renderer/dist); returns the files written. */
export async function buildRenderer({ outDir = path.join(root, "renderer", "dist") } = {}) {
    await mkdir(outDir, { recursive: true });
    const result = await build({
        absWorkingDir: root,
        entryPoints: { app: path.join(root, "renderer", "main.tsx") },
        outdir: outDir,
        bundle: true,
        format: "iife",
        platform: "browser",
        target: ["chrome120", "safari16", "firefox115"],
        jsx: "automatic",
        minify: true,
        sourcemap: true,
        keepNames: process.env.HEARTH_RENDERER_DEBUG === "1",
        minifyIdentifiers: process.env.HEARTH_RENDERER_DEBUG !== "1",
        legalComments: "eof",
        define: { "process.env.NODE_ENV": "\"production\"" },
        // the app icon (assets/icon.svg) goes into app.css as a data: URL (the CSP allows img-src data:)
        loader: { ".css": "css", ".svg": "dataurl" },
        logLevel: "silent",
        metafile: true
    });
    for (const warning of result.warnings) console.warn(`build-renderer: ${warning.text}`);
    // index.html goes as it is: it names app.js and app.css, and carries the Content-Security-Policy.
    const html = await readFile(path.join(root, "renderer", "index.html"), "utf8");
    await writeFile(path.join(outDir, "index.html"), html);
    return { outDir, files: ["index.html", ...Object.keys(result.metafile.outputs).map((f) => path.relative(outDir, path.resolve(root, f)))] };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    const i = process.argv.indexOf("--out");
    const outDir = i >= 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : undefined;
    const started = Date.now();
    buildRenderer(outDir ? { outDir } : {}).then(
        ({ outDir: dir, files }) => console.log(`renderer built in ${Date.now() - started} ms: ${files.join(", ")} in ${path.relative(process.cwd(), dir) || "."}`),
        (error) => {
            console.error(`build-renderer: ${error instanceof Error ? error.message : String(error)}`);
            process.exitCode = 1;
        }
    );
}
