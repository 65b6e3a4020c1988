#!/usr/bin/env node
// Builds the stage-runtime addon (native/) against the llama.cpp that the pinned node-llama-cpp
// carries: headers from its source bundle, libraries from each prebuilt backend package installed
// for this platform (native/out/<backend>/hearth_stage.node; see native/addon-files.mjs).
// Nothing is downloaded and no llama.cpp source is kept in the repository. --force rebuilds all.
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
const vocabFiles = ["llama-spm", "llama-bpe", "qwen2", "phi-3", "gpt-2"].map((v) => `models/ggml-vocab-${v}.gguf`);
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

// Headers and vocabularies of another llama.cpp (an earlier pin) must not be found instead.
for (const d of fs.readdirSync(path.join(nativeDir, "vendor"))) {
    if (d.startsWith("llama.cpp-") && d !== path.basename(vendorDir)) fs.rmSync(path.join(nativeDir, "vendor", d), { recursive: true, force: true });
}

// 2. Every prebuilt llama.cpp of this platform and architecture that is installed: the CPU one and
// each GPU backend's (Metal, CUDA, Vulkan). One addon is built per backend, linked to that
// backend's libraries: at run time the addon of the backend node-llama-cpp chose is loaded, and it
// shares the libraries node-llama-cpp has already loaded (same names), so it gets the same GPU.
const platformName = { linux: "linux", darwin: "mac", win32: "win" }[process.platform];
if (platformName == null) throw new Error(`unsupported platform ${process.platform}`);
const libPattern = {
    linux: /^lib(llama|ggml|ggml-base)(\.[a-z]+)?(\.v[\d.]+)?\.so$/,
    mac: /^lib(llama|ggml|ggml-base)(\.[a-z]+)?(\.v[\d.]+)?\.dylib$/,
    win: /^(llama|ggml|ggml-base)(\.[a-z]+)?(\.v[\d.]+)?\.lib$/
}[platformName];
/** @type {Map<string, { pkg: string, libDir: string, libs: string[] }>} backend ("cpu", "cuda", "vulkan", "metal") -> its libraries */
const backends = new Map();
for (const suffix of ["", "-metal", "-cuda", "-cuda-ext", "-vulkan"]) {
    const pkg = `@node-llama-cpp/${platformName}-${process.arch}${suffix}`;
    const pkgDir = packageDir(pkg);
    const binsDir = pkgDir == null ? null : path.join(pkgDir, "bins");
    if (binsDir == null || !fs.existsSync(binsDir)) continue; // not installed on this platform
    for (const sub of fs.readdirSync(binsDir)) {
        const dir = path.join(binsDir, sub);
        if (!fs.statSync(dir).isDirectory()) continue;
        const found = fs.readdirSync(dir).filter((f) => libPattern.test(f));
        if (!found.some((f) => /llama/.test(f))) continue;
        const metaFile = path.join(dir, "_nlcBuildMetadata.json");
        const gpu = fs.existsSync(metaFile) ? JSON.parse(fs.readFileSync(metaFile, "utf8")).buildOptions?.gpu ?? false : (suffix === "" ? false : suffix.slice(1).replace(/-ext$/, ""));
        const backend = gpu === false ? "cpu" : String(gpu);
        if (!backends.has(backend)) backends.set(backend, { pkg, libDir: dir, libs: found.map((f) => path.join(dir, f)) });
    }
}
if (backends.size === 0) throw new Error(`no prebuilt llama.cpp libraries found for ${platformName}-${process.arch}: is node-llama-cpp ${nlcVersion} installed with its optional dependencies?`);

const addonApiDir = packageDir("node-addon-api");
if (addonApiDir == null) throw new Error("node-addon-api is not installed");
const includeDirs = [addonApiDir, path.join(vendorDir, "include"), path.join(vendorDir, "ggml", "include")];
const { buildConfigGypi } = await import(pathToFileURL(path.join(nativeDir, "gyp-config.mjs")).href);
const { addonFile } = await import(pathToFileURL(path.join(nativeDir, "addon-files.mjs")).href);
const gypiPath = path.join(nativeDir, "build-config.gypi");
const built = path.join(nativeDir, "build", "Release", "hearth_stage.node");
const buildInputs = [
    ...fs.readdirSync(path.join(nativeDir, "src")).map((f) => path.join(nativeDir, "src", f)),
    path.join(nativeDir, "binding.gyp"), path.join(nativeDir, "gyp-config.mjs"), fileURLToPath(import.meta.url)
];

// 3. node-gyp per backend, with the local Node headers when they exist (no header download). The
// addon is Node-API: the same file loads in Node and in Electron.
const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
const localNodeDir = path.resolve(path.dirname(process.execPath), "..");
for (const [backend, { pkg, libDir, libs }] of backends) {
    const binary = addonFile(nativeDir, backend);
    const configPath = path.join(path.dirname(binary), "build-config.json");
    // The run-time library path is relative to the addon's final place (native/out/<backend>).
    const gypi = buildConfigGypi({ includeDirs, libraries: libs, libDir, addonDir: path.dirname(binary), platform: process.platform });
    const config = {
        nodeLlamaCpp: nlcVersion, llamaCpp: llamaInfo.tag, backend, package: pkg,
        libDir: path.relative(path.dirname(binary), libDir).split(path.sep).join("/"), libs: libs.map((l) => path.basename(l)), gypi
    };
    const next = JSON.stringify(config, null, 2);
    const previous = fs.existsSync(configPath) ? fs.readFileSync(configPath, "utf8") : "";
    const sourcesNewer = fs.existsSync(binary) && buildInputs.some((f) => fs.statSync(f).mtimeMs > fs.statSync(binary).mtimeMs);
    if (!force && previous === next && fs.existsSync(binary) && !sourcesNewer) {
        log(`${backend}: up to date (${path.relative(root, binary)})`);
        continue;
    }
    fs.writeFileSync(gypiPath, gypi);
    log(`${backend}: building against llama.cpp ${llamaInfo.tag} (node-llama-cpp ${nlcVersion}), libraries of ${pkg}`);
    const args = [nodeGyp, "rebuild", "--directory", nativeDir, `--jobs=${Math.max(1, (await import("node:os")).availableParallelism())}`];
    if (!process.env.npm_config_nodedir && fs.existsSync(path.join(localNodeDir, "include", "node", "node_api.h")))
        args.push(`--nodedir=${localNodeDir}`);
    execFileSync(process.execPath, args, { stdio: "inherit" });
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    // A new file renamed into place: a process that has the old one loaded keeps its (unlinked) copy.
    fs.copyFileSync(built, `${binary}.tmp`);
    fs.renameSync(`${binary}.tmp`, binary);
    fs.writeFileSync(configPath, next);
    log(`${backend}: built ${path.relative(root, binary)}`);
}
