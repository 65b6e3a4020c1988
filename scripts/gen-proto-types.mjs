#!/usr/bin/env node
// Generates the TypeScript types of the node contract (proto/hearth/v1/node.proto) with
// proto-loader's own generator, using the same loader options as app/protocol/proto.ts.
// `node scripts/gen-proto-types.mjs [outDir]` (default app/protocol/generated); a test checks that
// the committed types are what this produces, so they cannot drift from the .proto.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.resolve(process.argv[2] ?? path.join(root, "app", "protocol", "generated"));
const require = createRequire(import.meta.url);
const generator = path.join(path.dirname(require.resolve("@grpc/proto-loader/package.json")), "build", "bin", "proto-loader-gen-types.js");

fs.rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, [generator, "--longs=Number", "--enums=String", "--defaults", "--oneofs", "--grpcLib=@grpc/grpc-js",
    `--outDir=${outDir}`, "proto/hearth/v1/node.proto"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
// ES modules need explicit extensions on relative imports (tsconfig allows importing .ts).
for (const file of fs.readdirSync(outDir, { recursive: true }).map(String).filter((f) => f.endsWith(".ts"))) {
    const full = path.join(outDir, file);
    const text = fs.readFileSync(full, "utf8").replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.ts'");
    fs.writeFileSync(full, text);
}
