// Slices one stage and prints the process's peak resident memory, as JSON. Run as its own process
// by bench-stage.ts so the figure is the slicer's alone.
import { sliceStage } from "../app/stage/slice.ts";

const [model, range, out] = process.argv.slice(2);
if (model == null || range == null || out == null) throw new Error("usage: slice-peak-memory MODEL A-B OUT");
const [start, end] = range.split("-").map(Number);
const baselineKb = process.resourceUsage().maxRSS;
const t0 = performance.now();
const info = await sliceStage(model, { start: start!, end: end! }, out);
console.log(JSON.stringify({ bytes: info.bytes, seconds: (performance.now() - t0) / 1000, baselineRssMb: baselineKb / 1024, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
