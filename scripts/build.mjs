// `npm run build`: everything the app and `hearth` run, compiled: dist/hearth.mjs (the command
// line), main/dist/ (Electron main, preload, the node's worker) and renderer/dist/ (the UI).
// The native addon is built at install (scripts/build-native.mjs); icons by `npm run build:icons`.
import { buildCli } from "./build-cli.mjs";
import { buildMain } from "./build-main.mjs";
import { buildRenderer } from "./build-renderer.mjs";

try {
    await Promise.all([buildCli(), buildMain(), buildRenderer()]);
} catch (e) {
    console.error(`hearth: the build failed: ${e?.message ?? e}`);
    process.exitCode = 1;
}
