// Uploads the first half of a stage file (as the member whose data dir it is given), says "half", and waits to be killed (a test kills it).
import fs from "node:fs";
import { loadNodeCluster } from "../../app/cluster/node-cluster.ts";
import { NodeClient } from "../../app/protocol/node-client.ts";

const [address, dataDir, file, headerJson] = process.argv.slice(2) as [string, string, string, string];
const header = JSON.parse(headerJson) as { modelSha256: string; layers: { start: number; end: number }; stageSha256: string; stageBytes: number };
const c = new NodeClient(address, { cluster: loadNodeCluster(dataDir)! });
await c.connect();
const data = fs.readFileSync(file);
const half = Math.floor(header.stageBytes / 2 / 4096) * 4096;
const stream = c.raw.uploadStage(c.metadata(), () => {});
for (let off = 0; off < half; off += 4096) stream.write({ header: off === 0 ? header : null, offset: off, data: data.subarray(off, Math.min(half, off + 4096)) });
await new Promise((r) => setTimeout(r, 500));
process.stdout.write("half\n");
setInterval(() => {}, 1000);
