// The packet-capture helper (test/helpers/packet-capture.ts): it must see a plain TCP transfer
// on loopback (so a later "nothing secret on the wire" test cannot pass by capturing nothing),
// and over TLS it must see the bytes go by without the plaintext in them.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { createCluster, issueNodeCertificate } from "../app/cluster/ca.ts";
import { captureUnavailableReason, startCapture, type CaptureResult } from "./helpers/packet-capture.ts";

const skip = captureUnavailableReason();
if (skip != null) console.log(`# skipping the packet-capture tests: ${skip}`);

const BLOB = crypto.randomBytes(64 * 1024);
const SENTENCE = "The quick brown fox asks the cluster what the capital of Iceland is, politely.";
const SENT = Buffer.concat([BLOB, Buffer.from(SENTENCE)]);

function report(label: string, result: CaptureResult): void {
    console.log(`${label}: segments=${result.segments} bytes=${result.bytes} drops=${result.drops} ` +
        `truncated=${result.truncated} streams=${result.streams.map((s) => `${s.source}>${s.destination}:${s.data.length}B/${s.segments}seg/${s.gaps}gaps`).join(",")}`);
}

/** Sends SENT from a client to a server, which answers with its first 1 KiB; then the client hangs up. */
async function transfer(server: net.Server, connect: () => net.Socket, connectEvent: string): Promise<void> {
    const received = new Promise<Buffer>((resolve, reject) => {
        server.once("error", reject);
        server.once(connectEvent, (socket: net.Socket) => {
            const parts: Buffer[] = [];
            let length = 0;
            socket.on("error", reject);
            socket.on("data", (b: Buffer) => {
                parts.push(b);
                length += b.length;
                if (length >= SENT.length) {
                    const all = Buffer.concat(parts);
                    socket.write(all.subarray(0, 1024));
                    resolve(all);
                }
            });
        });
    });
    const client = connect();
    const answer = await new Promise<Buffer>((resolve, reject) => {
        const parts: Buffer[] = [];
        let length = 0;
        client.on("error", reject);
        client.on("data", (b: Buffer) => {
            parts.push(b);
            length += b.length;
            if (length >= 1024) resolve(Buffer.concat(parts));
        });
        client.write(SENT);
    });
    await new Promise<void>((resolve) => { client.on("close", () => resolve()); client.end(); });
    const got = await received;
    assert.ok(got.equals(SENT), "the server got what the client sent");
    assert.ok(answer.equals(SENT.subarray(0, 1024)), "the client got the server's answer");
}

function listen(server: net.Server): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
}

test("the capture sees a plain TCP transfer on loopback, split across segments and all", { skip: skip ?? false, timeout: 60000 }, async () => {
    const server = net.createServer();
    const port = await listen(server);
    const capture = await startCapture({ ports: [port] });
    let result: CaptureResult;
    try {
        await transfer(server, () => net.connect(port, "127.0.0.1"), "connection");
    } finally {
        result = await capture.stop();
        server.close();
    }
    report("plain TCP", result);
    assert.equal(result.drops, 0, "the kernel dropped no packets");
    assert.equal(result.truncated, 0);
    assert.ok(result.bytes >= SENT.length + 1024, `captured ${result.bytes} bytes, sent ${SENT.length + 1024}`);
    assert.equal(result.streams.length, 2, "one stream each way");
    assert.ok(result.contains(BLOB), "the 64 KiB random buffer is in the capture");
    assert.ok(result.contains(SENTENCE), "the sentence is in the capture");
    assert.ok(result.contains(BLOB.subarray(65000, 65600)), "a needle at any offset is found");
    const toServer = result.streams.find((s) => s.destinationPort === port)!;
    assert.ok(toServer.data.equals(SENT), "the client-to-server stream reassembles to exactly what was sent");
    assert.ok(!result.contains(crypto.randomBytes(32)), "a needle never sent is not found");
});

test("over TLS the capture sees the bytes go by, but neither the buffer nor the sentence", { skip: skip ?? false, timeout: 60000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-capture-tls-"));
    try {
        const ca = await createCluster({ dataDir });
        const certify = async (name: string) => {
            const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
            const cert = await issueNodeCertificate(ca, { nodeId: crypto.randomBytes(16).toString("hex"), name, publicKey });
            return { key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), cert };
        };
        const serverIdentity = await certify("capture server"), clientIdentity = await certify("capture client");
        const server = tls.createServer({ ...serverIdentity, ca: [ca.certificatePem], requestCert: true, rejectUnauthorized: true });
        const port = await listen(server);
        const capture = await startCapture({ ports: [port] });
        let result: CaptureResult;
        try {
            await transfer(server, () => tls.connect({
                host: "127.0.0.1", port, ...clientIdentity, ca: [ca.certificatePem], checkServerIdentity: () => undefined
            }), "secureConnection");
        } finally {
            result = await capture.stop();
            server.close();
        }
        report("TLS", result);
        assert.equal(result.drops, 0, "the kernel dropped no packets");
        assert.ok(result.bytes >= SENT.length + 1024, `captured ${result.bytes} bytes, sent ${SENT.length + 1024}: the capture saw the transfer`);
        assert.equal(result.streams.length, 2, "one stream each way");
        assert.ok(!result.contains(BLOB), "the random buffer is not on the wire");
        assert.ok(!result.contains(BLOB.subarray(30000, 30064)), "not even 64 bytes of it");
        assert.ok(!result.contains(SENTENCE), "the sentence is not on the wire");
        assert.ok(!result.contains(SENTENCE.slice(0, 16)), "not even its first 16 characters");
    } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
});
