// A gRPC server process for the mTLS tests. Reads its config from $MTLS_SERVER_CONFIG (JSON):
// { mode: "mtls" | "plain", dataDir }. In mtls mode it serves with the node identity and
// membership of dataDir and admits only the members in <dataDir>/members.json; a line
// "revoke <nodeId>" on stdin revokes one. Prints {"port": N} once listening.
import * as grpc from "@grpc/grpc-js";
import path from "node:path";
import readline from "node:readline";
import { callerNodeId } from "../../app/cluster/caller-node-id.ts";
import { serverCredentials } from "../../app/cluster/credentials.ts";
import { loadOrCreateNodeIdentity } from "../../app/cluster/identity.ts";
import { MemberList } from "../../app/cluster/member-list.ts";
import { membersOnly } from "../../app/cluster/members-only.ts";
import { loadMembership } from "../../app/cluster/membership.ts";
import { mtlsTestService } from "./mtls-service.ts";

const config = JSON.parse(process.env.MTLS_SERVER_CONFIG ?? "{}") as { mode: "mtls" | "plain"; dataDir: string };
let credentials = grpc.ServerCredentials.createInsecure();
let members: MemberList | null = null;
if (config.mode === "mtls") {
    const identity = loadOrCreateNodeIdentity(config.dataDir);
    const membership = loadMembership(config.dataDir, identity);
    if (membership == null) throw new Error(`${config.dataDir} holds no membership`);
    credentials = serverCredentials(identity, membership);
    members = MemberList.load(path.join(config.dataDir, "members.json"));
}
const server = new grpc.Server({ interceptors: members == null ? [] : [membersOnly(members)], "grpc.max_receive_message_length": 64 << 20 });
server.addService(mtlsTestService, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
        callback(null, Buffer.from(JSON.stringify({ nodeId: callerNodeId(call), peer: call.getPeer() }))),
    echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (b: Buffer) => call.write(b));
        call.on("end", () => call.end());
    }
});
server.bindAsync("127.0.0.1:0", credentials, (error, port) => {
    if (error) throw error;
    process.stdout.write(JSON.stringify({ port }) + "\n");
});
readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const [command, nodeId] = line.trim().split(/\s+/);
    if (command === "revoke" && nodeId != null && members != null) {
        members.revoke(nodeId);
        process.stdout.write(JSON.stringify({ revoked: nodeId }) + "\n");
    }
}).on("close", () => server.forceShutdown());
