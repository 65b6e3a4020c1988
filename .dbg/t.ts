import fs from "node:fs";
import { createNodeCluster } from "../app/cluster/node-cluster.ts";
import { HearthNode } from "../app/node/node.ts";
import { NodeClient } from "../app/protocol/node-client.ts";
import { hello } from "../app/protocol/admission-client.ts";
fs.rmSync("/tmp/dbg/d", { recursive: true, force: true });
const c = await createNodeCluster("/tmp/dbg/d", { nodeName: "a" });
const node = await HearthNode.start({ name: "a", host: "127.0.0.1", port: 0, dataDir: "/tmp/dbg/d", cluster: c, discovery: false, measureSpeed: false, log: console.log });
try { console.log(await hello(`127.0.0.1:${node.port}`)); } catch (e) { console.log("hello", e); }
const cl = new NodeClient(`127.0.0.1:${node.port}`, { cluster: c });
try { console.log((await cl.connect()).name); } catch (e) { console.log("connect", e); }
cl.close();
await node.dispose();
