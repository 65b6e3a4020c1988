// Where the stage-runtime addon of each llama.cpp backend lives: native/out/<backend>/hearth_stage.node
// (backend: "cpu", "metal", "cuda", "vulkan"), next to its build-config.json. Written by
// scripts/build-native.mjs, read by app/native/addon.ts, packaged unpacked by electron-builder.yml.
import path from "node:path";

export const ADDON_BACKENDS = ["cpu", "metal", "cuda", "vulkan"];

/** @param {string} nativeDir @param {string} backend */
export function addonFile(nativeDir, backend) {
    return path.join(nativeDir, "out", backend, "hearth_stage.node");
}
