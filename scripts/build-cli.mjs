// Compiles the `hearth` command line (app/cli.ts and the engine under it) into dist/hearth.mjs
// (esbuild, ESM, node_modules left outside), so that `hearth` runs compiled JavaScript, with no
// TypeScript loader at start. bin/hearth.mjs runs it, and rebuilds it first in a source checkout
// whose sources are newer. Run directly (`node scripts/build-cli.mjs`) or import { buildCli }.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { sourceLocations } from "./build-main.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CLI_BUNDLE = path.join(root, "dist", "hearth.mjs");

/** Builds dist/hearth.mjs (written to a temporary file, then renamed: a concurrent start never reads half a file). */
export async function buildCli({ quiet = false } = {}) {
    const started = Date.now();
    const outDir = path.dirname(CLI_BUNDLE);
    fs.mkdirSync(outDir, { recursive: true });
    const temp = path.join(outDir, `.hearth-${process.pid}-${Date.now()}.mjs`);
    try {
        await esbuild.build({
            bundle: true,
            platform: "node",
            target: "node20",
            format: "esm",
            logLevel: "warning",
            absWorkingDir: root,
            entryPoints: [path.join(root, "app", "cli.ts")],
            outfile: temp,
            packages: "external",
            plugins: [sourceLocations(outDir)],
            banner: { js: 'import { createRequire as __hearthCreateRequire } from "node:module";\nconst require = __hearthCreateRequire(import.meta.url);' }
        });
        fs.renameSync(temp, CLI_BUNDLE);
    } finally {
        fs.rmSync(temp, { force: true });
    }
    if (!quiet) console.log(`hearth: built ${path.relative(root, CLI_BUNDLE)} in ${Date.now() - started} ms`);
    return CLI_BUNDLE;
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    buildCli().catch((e) => {
        console.error(`hearth: building the command line failed: ${e?.message ?? e}`);
        process.exitCode = 1;
    });
}
