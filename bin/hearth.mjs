#!/usr/bin/env node
// Entry point: runs the TypeScript engine through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../app/cli.ts");
