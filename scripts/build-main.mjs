// Bundles the Electron shell into main/dist/ (esbuild):
//   main.cjs     Electron main (CommonJS: Electron loads it with require; package.json "main" points here)
//   preload.cjs  the sandboxed preload: CommonJS, everything but "electron" inlined (the contract's lists too)
//   worker.js    the node's utility process (ESM): the engine from app/ bundled in, node_modules left
//                outside (node-llama-cpp, grpc-js, the native addon's loaders stay where they are)
// Run directly (`node scripts/build-main.mjs`) or import { buildMain }.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "main", "dist");

/**
 * app/ finds its files from its own location (import.meta.url: proto/, native/, package.json).
 * Bundled, import.meta.url would be the bundle's; this rewrites it in every app/ file to the URL the
 * source file has relative to the bundle, so the same relative paths work from main/dist/ (and from
 * the same layout inside a packaged app).
 */
export function sourceLocations(bundleDir) {
    const appDir = path.join(root, "app") + path.sep;
    return {
        name: "hearth-source-locations",
        setup(build) {
            build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
                if (!args.path.startsWith(appDir)) return undefined;
                const text = await fs.promises.readFile(args.path, "utf8");
                if (!text.includes("import.meta.url")) return undefined;
                const rel = path.relative(bundleDir, args.path).split(path.sep).join("/");
                return {
                    contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
                    loader: /\.[cm]?ts$/.test(args.path) ? "ts" : "js",
                    resolveDir: path.dirname(args.path)
                };
            });
        }
    };
}

const common = {
    bundle: true,
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
    absWorkingDir: root,
    metafile: true
};

/** Builds main/dist; resolves with the files written. Throws (esbuild's message) when a bundle fails. */
export async function buildMain({ quiet = false } = {}) {
    const started = Date.now();
    fs.mkdirSync(outDir, { recursive: true });
    const [main, preload, worker] = await Promise.all([
        esbuild.build({
            ...common,
            entryPoints: [path.join(root, "main", "main.ts")],
            outfile: path.join(outDir, "main.cjs"),
            format: "cjs",
            packages: "external",
            external: ["electron"]
        }),
        esbuild.build({
            ...common,
            entryPoints: [path.join(root, "main", "preload.ts")],
            outfile: path.join(outDir, "preload.cjs"),
            format: "cjs",
            target: "es2022",
            external: ["electron"]
        }),
        esbuild.build({
            ...common,
            entryPoints: [path.join(root, "main", "worker.ts")],
            outfile: path.join(outDir, "worker.js"),
            format: "esm",
            packages: "external",
            external: ["electron"],
            plugins: [sourceLocations(outDir)],
            // Bundled CommonJS-style code (a dynamic require) needs a require in an ES module.
            banner: { js: 'import { createRequire as __hearthCreateRequire } from "node:module";\nconst require = __hearthCreateRequire(import.meta.url);' }
        })
    ]);
    // A sandboxed preload can require "electron" and little else: refuse a bundle that needs more.
    const preloadFile = path.join(outDir, "preload.cjs");
    const required = [...fs.readFileSync(preloadFile, "utf8").matchAll(/\brequire\((["'])([^"']+)\1\)/g)].map((m) => m[2]);
    const extra = [...new Set(required.filter((name) => name !== "electron"))];
    if (extra.length > 0) throw new Error(`main/dist/preload.cjs requires ${extra.join(", ")}: a sandboxed preload may require only "electron"`);
    const files = [main, preload, worker].flatMap((r) => Object.keys(r.metafile?.outputs ?? {})).filter((f) => !f.endsWith(".map"));
    if (!quiet) console.log(`hearth: built ${files.map((f) => path.relative(root, path.resolve(root, f))).join(", ")} in ${Date.now() - started} ms`);
    return files.map((f) => path.resolve(root, f));
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    buildMain().catch((e) => {
        console.error(`hearth: building main failed: ${e?.message ?? e}`);
        process.exitCode = 1;
    });
}
