#!/usr/bin/env node
// `npm run check:platforms [-- --version X]`: for the pinned node-llama-cpp (or version X), checks
// that every installer target's prebuilt llama.cpp package is published on the registry npm uses,
// that node-llama-cpp lists it at the same version, and (for the pin) that package-lock.json keeps
// it, so `npm ci` on a Mac or a Windows PC gets its own llama.cpp. Exits 1 naming what is missing.
// Import { checkPlatforms, PLATFORM_TARGETS } to use it from code.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Every installer target and the node-llama-cpp binary packages it ships (README's targets table).
 * `installer`: the electron-builder target that carries it.
 */
export const PLATFORM_TARGETS = Object.freeze([
    { os: "macOS", platform: "darwin", arch: "arm64", backend: "Metal", package: "@node-llama-cpp/mac-arm64-metal", installer: "dmg" },
    { os: "macOS", platform: "darwin", arch: "x64", backend: "CPU", package: "@node-llama-cpp/mac-x64", installer: "dmg" },
    { os: "Windows", platform: "win32", arch: "x64", backend: "CPU", package: "@node-llama-cpp/win-x64", installer: "nsis" },
    { os: "Windows", platform: "win32", arch: "x64", backend: "CUDA", package: "@node-llama-cpp/win-x64-cuda", installer: "nsis" },
    { os: "Windows", platform: "win32", arch: "x64", backend: "CUDA (newer toolkits)", package: "@node-llama-cpp/win-x64-cuda-ext", installer: "nsis" },
    { os: "Windows", platform: "win32", arch: "x64", backend: "Vulkan", package: "@node-llama-cpp/win-x64-vulkan", installer: "nsis" },
    { os: "Linux", platform: "linux", arch: "x64", backend: "CPU", package: "@node-llama-cpp/linux-x64", installer: "AppImage" },
    { os: "Linux", platform: "linux", arch: "x64", backend: "CUDA", package: "@node-llama-cpp/linux-x64-cuda", installer: "AppImage" },
    { os: "Linux", platform: "linux", arch: "x64", backend: "CUDA (newer toolkits)", package: "@node-llama-cpp/linux-x64-cuda-ext", installer: "AppImage" },
    { os: "Linux", platform: "linux", arch: "x64", backend: "Vulkan", package: "@node-llama-cpp/linux-x64-vulkan", installer: "AppImage" }
]);

/** The node-llama-cpp version package.json pins (exactly: a range is an error). */
export function pinnedVersion(packageJson = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))) {
    const spec = packageJson.dependencies?.["node-llama-cpp"];
    if (typeof spec !== "string" || !/^\d+\.\d+\.\d+$/.test(spec))
        throw new Error(`package.json must pin node-llama-cpp to an exact version (headers and libraries must match); it says ${JSON.stringify(spec)}`);
    return spec;
}

/**
 * What is missing for `version`, from what the registry said. Pure.
 * @param {string} version
 * @param {{ optionalDependencies: Record<string, string> | null, published: Map<string, string[] | null>, lock?: Record<string, { version?: string }> | null }} facts
 *   published: per package, its published versions (null: the registry does not know the package);
 *   lock: package-lock.json's "packages" (checked only when given)
 * @returns {Array<{ target: typeof PLATFORM_TARGETS[number], problem: string }>}
 */
export function missingTargets(version, facts) {
    const out = [];
    for (const target of PLATFORM_TARGETS) {
        const versions = facts.published.get(target.package);
        if (versions == null) out.push({ target, problem: `${target.package} is not on the registry` });
        else if (!versions.includes(version)) {
            const newest = versions.at(-1);
            out.push({ target, problem: `${target.package}@${version} is not published (its newest is ${newest ?? "none"})` });
        } else if (facts.optionalDependencies?.[target.package] !== version)
            out.push({ target, problem: `node-llama-cpp@${version} does not list ${target.package}@${version} among its optional dependencies` });
        else if (facts.lock != null && facts.lock[`node_modules/${target.package}`]?.version !== version)
            out.push({ target, problem: `package-lock.json does not keep ${target.package}@${version} (run npm install with that pin so npm ci installs it on ${target.os})` });
    }
    return out;
}

const execFileAsync = promisify(execFile);

async function npmView(spec, field) {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    try {
        const { stdout } = await execFileAsync(npm, ["view", spec, field, "--json"], { timeout: 60_000, shell: process.platform === "win32" });
        return stdout.trim() === "" ? null : JSON.parse(stdout);
    } catch (e) {
        const text = `${e.stdout ?? ""}${e.stderr ?? ""}`;
        if (/E404|404 Not Found|is not in this registry/.test(text)) return null;
        throw new Error(`npm view ${spec} ${field} failed: ${text.trim().split("\n").slice(-3).join(" ") || e.message}`);
    }
}

/** Asks the registry npm is configured with. `lock`: also check package-lock.json (for the pin). */
export async function checkPlatforms({ version = pinnedVersion(), lock = version === pinnedVersion() } = {}) {
    const optionalDependencies = await npmView(`node-llama-cpp@${version}`, "optionalDependencies");
    if (optionalDependencies == null && (await npmView(`node-llama-cpp@${version}`, "version")) == null)
        throw new Error(`node-llama-cpp@${version} is not published`);
    const published = new Map(await Promise.all(PLATFORM_TARGETS.map(async (t) => {
        const versions = await npmView(t.package, "versions");
        return [t.package, versions == null ? null : [].concat(versions)];
    })));
    const lockPackages = lock ? JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")).packages : null;
    return missingTargets(version, { optionalDependencies, published, lock: lockPackages });
}

async function cli(argv) {
    const i = argv.indexOf("--version");
    const version = i >= 0 ? argv[i + 1] : pinnedVersion();
    if (version == null || !/^\d+\.\d+\.\d+$/.test(version)) throw new Error("--version needs a version such as 3.21.1");
    const missing = await checkPlatforms({ version });
    if (missing.length === 0) {
        console.log(`node-llama-cpp ${version}: every installer target has its prebuilt llama.cpp:`);
        for (const t of PLATFORM_TARGETS) console.log(`  ok  ${t.os} ${t.arch} ${t.backend}: ${t.package}@${version}`);
        return 0;
    }
    console.error(`node-llama-cpp ${version}: ${missing.length} of ${PLATFORM_TARGETS.length} installer targets have no prebuilt llama.cpp:`);
    for (const m of missing) console.error(`  missing  ${m.target.os} ${m.target.arch} ${m.target.backend}: ${m.problem}`);
    console.error("Pin a node-llama-cpp version whose binary packages exist for every target (npm view @node-llama-cpp/mac-arm64-metal versions).");
    return 1;
}

if (process.argv[1] != null && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    cli(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { console.error(`check:platforms: ${e.message}`); process.exitCode = 2; });
}
