#!/usr/bin/env node
// Entry point: runs the TypeScript engine through tsx's loader, then the command.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../app/cli.ts");
process.exitCode = await main(process.argv.slice(2));
