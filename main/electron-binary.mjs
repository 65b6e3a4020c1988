// Where the Electron binary is, without downloading it. `require("electron")` returns the binary's
// path, but electron@45's index.js starts a download when the binary is missing (it runs
// install.js), which hangs or fails where there is no internet. This reads the same facts the
// package does (path.txt, dist/, $ELECTRON_OVERRIDE_DIST_PATH) and only looks.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * @param {{ packageDir?: string | null, env?: Record<string, string | undefined> }} [options]
 * @returns {{ found: true, path: string } | { found: false, reason: string }}
 */
export function findElectronBinary(options = {}) {
    const env = options.env ?? process.env;
    let packageDir = options.packageDir ?? null;
    if (packageDir == null) {
        try {
            packageDir = path.dirname(createRequire(import.meta.url).resolve("electron/package.json"));
        } catch {
            return { found: false, reason: "the electron package is not installed" };
        }
    }
    let executable = null;
    try {
        executable = fs.readFileSync(path.join(packageDir, "path.txt"), "utf8").trim();
    } catch {
        executable = null;
    }
    const override = env.ELECTRON_OVERRIDE_DIST_PATH;
    let binary;
    if (override != null && override !== "") binary = path.join(override, executable || "electron");
    else if (executable != null && executable !== "") binary = path.join(packageDir, "dist", executable);
    else return { found: false, reason: `it was never downloaded (there is no ${path.join(packageDir, "path.txt")})` };
    try {
        if (fs.statSync(binary).isFile()) return { found: true, path: binary };
    } catch { /* missing */ }
    return { found: false, reason: `${binary} is missing` };
}
