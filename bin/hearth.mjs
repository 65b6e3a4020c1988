#!/usr/bin/env node
// Entry point: runs the compiled command line (dist/hearth.mjs, built by `npm run build` and at
// install). In a source checkout whose app/ sources are newer than it, it is rebuilt first (esbuild,
// well under a second), so that a developer's edit is what runs.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bundle = path.join(root, "dist", "hearth.mjs");

function newestSource(dir) {
    let newest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
        else if (/\.(ts|mjs|json)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
    return newest;
}

const sources = path.join(root, "app");
if (fs.existsSync(path.join(sources, "cli.ts"))) {
    const built = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
    if (built < Math.max(newestSource(sources), fs.statSync(path.join(root, "native", "addon-files.mjs")).mtimeMs)) {
        const { buildCli } = await import(pathToFileURL(path.join(root, "scripts", "build-cli.mjs")).href);
        await buildCli({ quiet: true });
    }
}
if (!fs.existsSync(bundle)) {
    console.error(`hearth: ${bundle} is missing: run 'npm run build' (npm install builds it)`);
    process.exit(1);
}
const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
