#!/usr/bin/env node
// Builds the stage-runtime addon (native/) against the llama.cpp that the pinned node-llama-cpp
// carries: headers from its source bundle, libraries from the prebuilt package getLlama() selects.
// Nothing is downloaded and no llama.cpp source is kept in the repository.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = path.join(root, "native");
const require = createRequire(import.meta.url);
const force = process.argv.includes("--force");

function log(msg) { console.log(`[hearth native] ${msg}`); }

// Package folders are found through the module search paths: these packages do not export package.json.
function packageDir(name) {
    for (const base of require.resolve.paths(name) ?? []) {
        const dir = path.join(base, name);
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    }
    return null;
}

const nlcDir = packageDir("node-llama-cpp");
if (nlcDir == null) throw new Error("node-llama-cpp is not installed");
const nlcVersion = JSON.parse(fs.readFileSync(path.join(nlcDir, "package.json"), "utf8")).version;
const llamaInfo = JSON.parse(fs.readFileSync(path.join(nlcDir, "llama", "llama.cpp.info.json"), "utf8"));

// 1. Headers of the exact llama.cpp release, taken from the git bundle shipped in node-llama-cpp.
const vendorDir = path.join(nativeDir, "vendor", `llama.cpp-${llamaInfo.tag}`);
// The vocabulary-only GGUFs in the same bundle give test models a real tokenizer (hearth make-model).
const vocabFiles = ["llama-spm", "llama-bpe", "qwen2"].map((v) => `models/ggml-vocab-${v}.gguf`);
const headerProbe = path.join(vendorDir, "include", "llama.h");
if (!fs.existsSync(headerProbe) || !vocabFiles.every((f) => fs.existsSync(path.join(vendorDir, f)))) {
    const bundle = path.join(nlcDir, "llama", "gitRelease.bundle");
    if (!fs.existsSync(bundle)) throw new Error(`node-llama-cpp ${nlcVersion} has no llama.cpp source bundle at ${bundle}`);
    log(`extracting llama.cpp ${llamaInfo.tag} headers and test vocabularies from ${path.relative(root, bundle)}`);
    const gitDir = path.join(nativeDir, "vendor", ".bundle.git");
    fs.rmSync(gitDir, { recursive: true, force: true });
    fs.mkdirSync(vendorDir, { recursive: true });
    execFileSync("git", ["init", "-q", "--bare", gitDir]);
    execFileSync("git", ["--git-dir", gitDir, "fetch", "-q", bundle, "HEAD"]);
    const tar = execFileSync("git", ["--git-dir", gitDir, "archive", "--format=tar", "FETCH_HEAD", "include", "ggml/include", ...vocabFiles],
        { maxBuffer: 256 * 1024 * 1024 });
    execFileSync("tar", ["-x", "-C", vendorDir], { input: tar });
    fs.rmSync(gitDir, { recursive: true, force: true });
}

// 2. The library folder of the prebuilt llama.cpp that node-llama-cpp selects on this machine.
const { getLlama } = await import("node-llama-cpp");
const llama = await getLlama({ logLevel: "error" });
const gpu = llama.gpu; // "cuda" | "vulkan" | "metal" | false
const platformName = { linux: "linux", darwin: "mac", win32: "win" }[process.platform];
if (platformName == null) throw new Error(`unsupported platform ${process.platform}`);
const candidates = [];
for (const suffix of gpu === false ? [""] : [`-${gpu}`, ""]) {
    const pkg = `@node-llama-cpp/${platformName}-${process.arch}${suffix}`;
    const pkgDir = packageDir(pkg);
    const binsDir = pkgDir == null ? null : path.join(pkgDir, "bins");
    if (binsDir == null || !fs.existsSync(binsDir)) continue; // not installed on this platform
    for (const sub of fs.readdirSync(binsDir)) {
        if (fs.statSync(path.join(binsDir, sub)).isDirectory()) candidates.push(path.join(binsDir, sub));
    }
}
const libPattern = {
    linux: /^lib(llama|ggml|ggml-base)(\.v[\d.]+)?\.so$/,
    mac: /^lib(llama|ggml|ggml-base)(\.v[\d.]+)?\.dylib$/,
    win: /^(llama|ggml|ggml-base)\.lib$/
}[platformName];
let libDir = null;
let libs = [];
for (const dir of candidates) {
    const found = fs.readdirSync(dir).filter((f) => libPattern.test(f));
    if (found.some((f) => /llama/.test(f))) { libDir = dir; libs = found.map((f) => path.join(dir, f)); break; }
}
await llama.dispose();
if (libDir == null) throw new Error(`no prebuilt llama.cpp libraries found for ${platformName}-${process.arch} (gpu: ${gpu}); looked in ${candidates.join(", ") || "nothing"}`);

const addonApiDir = packageDir("node-addon-api");
if (addonApiDir == null) throw new Error("node-addon-api is not installed");
const config = {
    nodeLlamaCpp: nlcVersion, llamaCpp: llamaInfo.tag, gpu,
    includeDirs: [addonApiDir, path.join(vendorDir, "include"), path.join(vendorDir, "ggml", "include")],
    libDir, libs
};
const configPath = path.join(nativeDir, "build-config.json");
// What binding.gyp includes: the same paths as JSON lists, never split by gyp (see native/gyp-config.mjs).
const gypiPath = path.join(nativeDir, "build-config.gypi");
const binary = path.join(nativeDir, "build", "Release", "hearth_stage.node");
const { buildConfigGypi } = await import(pathToFileURL(path.join(nativeDir, "gyp-config.mjs")).href);
const gypi = buildConfigGypi({ includeDirs: config.includeDirs, libraries: libs, libDir, addonDir: path.dirname(binary), platform: process.platform });
const previous = fs.existsSync(configPath) ? fs.readFileSync(configPath, "utf8") : "";
const previousGypi = fs.existsSync(gypiPath) ? fs.readFileSync(gypiPath, "utf8") : "";
const next = JSON.stringify(config, null, 2);
const buildInputs = [
    ...fs.readdirSync(path.join(nativeDir, "src")).map((f) => path.join(nativeDir, "src", f)),
    path.join(nativeDir, "binding.gyp"), path.join(nativeDir, "gyp-config.mjs")
];
const sourcesNewer = fs.existsSync(binary) && buildInputs.some((f) => fs.statSync(f).mtimeMs > fs.statSync(binary).mtimeMs);
if (!force && previous === next && previousGypi === gypi && fs.existsSync(binary) && !sourcesNewer) {
    log(`up to date (${path.relative(root, binary)})`);
    process.exit(0);
}
fs.writeFileSync(configPath, next);
fs.writeFileSync(gypiPath, gypi);
log(`building against llama.cpp ${llamaInfo.tag} (node-llama-cpp ${nlcVersion}), libraries in ${libDir}`);

// 3. node-gyp, with the local Node headers when they exist (no header download).
const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
const args = [nodeGyp, "rebuild", "--directory", nativeDir, `--jobs=${Math.max(1, (await import("node:os")).availableParallelism())}`];
const localNodeDir = path.resolve(path.dirname(process.execPath), "..");
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(localNodeDir, "include", "node", "node_api.h")))
    args.push(`--nodedir=${localNodeDir}`);
execFileSync(process.execPath, args, { stdio: "inherit" });
log(`built ${path.relative(root, binary)}`);
