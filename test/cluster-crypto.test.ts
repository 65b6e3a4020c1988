// The cryptographic core of "Join cluster": node identities, the cluster CA, join codes and the
// join handshake (including what a machine in the middle can and cannot do), and mutual TLS
// between real processes with member checks and revocation, carrying activations intact
// (the cost of TLS is measured by `npm run bench:transport`, not here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { clusterAuthorityFiles, createCluster, issueNodeCertificate, loadClusterAuthority, type ClusterAuthority } from "../app/cluster/ca.ts";
import { certificateInfo, verifyNodeCertificate } from "../app/cluster/certificate-info.ts";
import { MTLS_CHANNEL_OPTIONS, channelCredentials } from "../app/cluster/credentials.ts";
import { ClusterFileError, JoinCodeFormatError, JoinRefusedError, JoinVerificationError } from "../app/cluster/errors.ts";
import { loadOrCreateNodeIdentity, nodeIdentityFile, type NodeIdentity } from "../app/cluster/identity.ts";
import { InviteBook } from "../app/cluster/invite-book.ts";
import { formatJoinCode, parseJoinCode } from "../app/cluster/join-code.ts";
import { answerJoinRequest, createJoinChallenge, createJoinRequest, joinKeys, verifyJoinAccept, type JoinAccept, type JoinChallenge } from "../app/cluster/join-protocol.ts";
import { MemberList, type Member } from "../app/cluster/member-list.ts";
import { loadMembership, membershipFile, saveMembership, type ClusterMembership } from "../app/cluster/membership.ts";
import { MtlsTestClientConstructor, type MtlsTestClient } from "./helpers/mtls-service.ts";

const here = path.dirname(new URL(import.meta.url).pathname);
const roots: string[] = [];
function tempDir(label: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-${label}-`));
    roots.push(dir);
    return dir;
}
test.after(() => { for (const r of roots) fs.rmSync(r, { recursive: true, force: true }); });

function mode(file: string): number { return fs.statSync(file).mode & 0o777; }

/** A node that created a cluster: identity, CA, its own certificate, membership and member list. */
async function founder(name: string, options: { now?: () => Date } = {}) {
    const dataDir = tempDir(name);
    const identity = loadOrCreateNodeIdentity(dataDir);
    const ca = await createCluster({ dataDir, name: `${name}'s cluster`, now: options.now });
    const certificatePem = await issueNodeCertificate(ca, { nodeId: identity.nodeId, name, publicKey: identity.publicKey });
    const membership: ClusterMembership = { clusterId: ca.clusterId, caCertificatePem: ca.certificatePem, certificatePem };
    saveMembership(dataDir, membership);
    const members = MemberList.load(path.join(dataDir, "members.json"));
    members.add({ nodeId: identity.nodeId, name });
    return { dataDir, identity, ca, membership, members, name };
}

type Founder = Awaited<ReturnType<typeof founder>>;

/** The whole join, as the two sides would run it over some transport, with every message serialized as on a wire. */
async function join(inviter: Founder, book: InviteBook, code: string, joiner: { identity: NodeIdentity; name: string }, wire: string[] = []) {
    const send = <T>(message: T): T => { const text = JSON.stringify(message); wire.push(text); return JSON.parse(text) as T; };
    const challenge = createJoinChallenge({ clusterId: inviter.ca.clusterId, nodeId: inviter.identity.nodeId, name: inviter.name });
    const { request, pending } = createJoinRequest(code, send(challenge), joiner);
    const { accept, member } = await answerJoinRequest({ challenge, request: send(request), book, ca: inviter.ca, members: inviter.members.list() });
    inviter.members.add(member);
    return verifyJoinAccept(pending, send(accept));
}

test("join codes: 16 Crockford base32 characters in 4 groups, forgiving on input, clear on mistakes", () => {
    for (let i = 0; i < 50; i++) {
        const secret = crypto.randomBytes(10);
        const code = formatJoinCode(secret);
        assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
        assert.deepEqual(parseJoinCode(code), secret);
        assert.deepEqual(parseJoinCode(` ${code.toLowerCase().replace(/-/g, " ")} `), secret);
    }
    assert.equal(formatJoinCode(Buffer.alloc(10)), "0000-0000-0000-0000");
    assert.deepEqual(parseJoinCode("oooo-IIII-llll-0000"), parseJoinCode("0000-1111-1111-0000"));
    assert.throws(() => parseJoinCode("7KQ2-M9XD-4HPW-3TRU"), (e: unknown) => e instanceof JoinCodeFormatError && /'U' is not one of them/.test(e.message));
    assert.throws(() => parseJoinCode("7KQ2-M9XD-4HPW"), (e: unknown) => e instanceof JoinCodeFormatError && /has 16 characters, this one has 12/.test(e.message));
    assert.throws(() => parseJoinCode("7KQ2-M9XD-4HPW-3TRN-5"), /this one has 17/);
});

test("node identity: made once, kept 0600, loaded again; a damaged file refuses to start", () => {
    const dataDir = tempDir("identity");
    const first = loadOrCreateNodeIdentity(dataDir);
    assert.equal(first.created, true);
    assert.match(first.nodeId, /^[0-9a-f]{32}$/);
    assert.equal(mode(first.file), 0o600);
    const again = loadOrCreateNodeIdentity(dataDir);
    assert.equal(again.created, false);
    assert.equal(again.nodeId, first.nodeId);
    assert.equal(again.publicKeyPem, first.publicKeyPem);
    assert.equal(first.privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");

    const file = nodeIdentityFile(dataDir);
    const good = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const damaged: [string, RegExp][] = [
        ["{not json", /not JSON/],
        [JSON.stringify({ ...good, nodeId: "xyz" }), /node id/],
        [JSON.stringify({ ...good, privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }), /private key cannot be read/],
        [JSON.stringify({ ...good, privateKey: rsa }), /not an ECDSA P-256 key/],
        [JSON.stringify({ ...good, format: "other" }), /format is not/]
    ];
    for (const [damage, why] of damaged) {
        fs.writeFileSync(file, damage);
        assert.throws(() => loadOrCreateNodeIdentity(dataDir), (e: unknown) => e instanceof ClusterFileError && why.test(e.message) && /delete it to start as a new node/.test(e.message), damage.slice(0, 40));
    }
});

test("cluster CA: key kept 0600, reloaded; node certificates carry node id, cluster id and validity", async () => {
    const a = await founder("alpha");
    const files = clusterAuthorityFiles(a.dataDir);
    assert.equal(mode(files.key), 0o600);
    assert.equal(mode(membershipFile(a.dataDir)), 0o600);
    assert.equal(mode(path.join(a.dataDir, "members.json")), 0o600);
    const reloaded = loadClusterAuthority(a.dataDir)!;
    assert.equal(reloaded.clusterId, a.ca.clusterId);
    await assert.rejects(createCluster({ dataDir: a.dataDir }), /already holds a cluster CA/);

    const caInfo = certificateInfo(a.ca.certificatePem);
    assert.equal(caInfo.isCertificateAuthority, true);
    assert.equal(caInfo.clusterId, a.ca.clusterId);
    assert.equal(caInfo.name, "alpha's cluster");
    const info = certificateInfo(a.membership.certificatePem);
    assert.equal(info.nodeId, a.identity.nodeId);
    assert.equal(info.clusterId, a.ca.clusterId);
    assert.equal(info.name, "alpha");
    assert.equal(info.isCertificateAuthority, false);
    const days = (info.notAfter.getTime() - Date.now()) / 86400000;
    assert.ok(days > 824 && days < 826, `valid for ${days} days`);
    assert.ok(info.notBefore.getTime() < Date.now());
    const x = new crypto.X509Certificate(a.membership.certificatePem);
    assert.equal(x.keyUsage?.includes("1.3.6.1.5.5.7.3.1") && x.keyUsage.includes("1.3.6.1.5.5.7.3.2"), true, "serverAuth and clientAuth");
    assert.equal(verifyNodeCertificate(a.membership.certificatePem, a.ca.certificatePem).nodeId, a.identity.nodeId);
    assert.deepEqual(loadMembership(a.dataDir, a.identity), a.membership);

    const b = await founder("beta");
    assert.notEqual(b.ca.clusterId, a.ca.clusterId);
    assert.throws(() => verifyNodeCertificate(b.membership.certificatePem, a.ca.certificatePem), /not signed by this cluster's CA/);
    assert.throws(() => verifyNodeCertificate(a.membership.certificatePem, a.ca.certificatePem, new Date(Date.now() + 900 * 86400000)), /check this machine's clock/);
    fs.writeFileSync(files.key, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
    assert.throws(() => loadClusterAuthority(a.dataDir), (e: unknown) => e instanceof ClusterFileError && /restore the folder from a backup/.test(e.message));
    fs.writeFileSync(files.key, b.ca.privateKey.export({ type: "pkcs8", format: "pem" }));
    assert.throws(() => loadClusterAuthority(a.dataDir), /ca.key.pem is not the key of ca.pem/);
});

test("join: a new machine joins with the code; wrong, reused, expired and cancelled codes are refused with their own messages", async () => {
    let now = Date.now();
    const inviter = await founder("inviter");
    const book = new InviteBook({ now: () => now });
    const joinerIdentity = loadOrCreateNodeIdentity(tempDir("joiner"));
    const invite = book.create();
    assert.deepEqual(book.list().map((i) => [i.id, i.state, i.expiresAt - i.createdAt]), [[invite.id, "live", 600000]]);

    const result = await join(inviter, book, invite.code.toLowerCase(), { identity: joinerIdentity, name: "laptop" });
    assert.equal(result.clusterId, inviter.ca.clusterId);
    assert.equal(verifyNodeCertificate(result.certificatePem, result.caCertificatePem).nodeId, joinerIdentity.nodeId);
    assert.deepEqual(result.members.map((m) => m.name).sort(), ["inviter", "laptop"]);
    assert.equal(inviter.members.isMember(joinerIdentity.nodeId), true);
    assert.deepEqual(book.list().map((i) => [i.state, i.usedBy]), [["used", joinerIdentity.nodeId]]);

    const other = { identity: loadOrCreateNodeIdentity(tempDir("other")), name: "desktop" };
    const refused = async (code: string, reason: string, message: RegExp) =>
        assert.rejects(join(inviter, book, code, other), (e: unknown) => e instanceof JoinRefusedError && e.reason === reason && message.test(e.message));
    await refused(invite.code, "usedCode", /already been used .* make a new code/);
    await refused(formatJoinCode(crypto.randomBytes(10)), "wrongCode", /not one of the codes this machine has given out/);
    const late = book.create();
    now += 10 * 60 * 1000 + 1;
    await refused(late.code, "expiredCode", /has expired \(a code can be used for 10 minutes\)/);
    const cancelled = book.create();
    book.expire(cancelled.id);
    await refused(cancelled.code, "expiredCode", /has expired/);
    assert.throws(() => createJoinRequest("7KQ2-M9XD", createJoinChallenge({ clusterId: inviter.ca.clusterId, nodeId: inviter.identity.nodeId, name: "x" }), other), JoinCodeFormatError);
    // Still recognized as used/expired for an hour, then just wrong (the secret is forgotten).
    now += 61 * 60 * 1000;
    await refused(invite.code, "wrongCode", /not one of the codes/);
    assert.deepEqual(book.list(), []);
});

test("join, a machine in the middle: the code never crosses, a substituted CA or certificate is refused, a request cannot be replayed", async () => {
    const inviter = await founder("inviter");
    const attacker = await founder("attacker");
    const book = new InviteBook();
    const joiner = { identity: loadOrCreateNodeIdentity(tempDir("joiner")), name: "laptop" };
    const invite = book.create();
    const secret = parseJoinCode(invite.code);

    // 1. What crosses the wire: no form of the code or its keys, only nonces and HMACs.
    const wire: string[] = [];
    await join(inviter, book, invite.code, joiner, wire);
    const { joinKey, acceptKey } = joinKeys(secret);
    const forms = [invite.code, invite.code.replace(/-/g, ""), ...[secret, joinKey, acceptKey].flatMap((b) => [b.toString("hex"), b.toString("base64"), b.toString("base64url")])];
    for (const message of wire) for (const form of forms) assert.ok(!message.toUpperCase().includes(form.toUpperCase()), "the code (or a key from it) crossed the wire");
    assert.equal(wire.length, 3);

    // 2. Impersonating the inviter: the attacker answers with its own CA and a certificate for the
    //    joiner's key. Without the code it cannot make the answer's HMAC: refused, nothing kept.
    const book2 = new InviteBook();
    const code2 = book2.create().code;
    const challenge = createJoinChallenge({ clusterId: inviter.ca.clusterId, nodeId: inviter.identity.nodeId, name: inviter.name });
    const { request, pending } = createJoinRequest(code2, challenge, joiner);
    const genuine = (await answerJoinRequest({ challenge, request, book: book2, ca: inviter.ca, members: inviter.members.list() })).accept;
    const forgedCertificate = await issueNodeCertificate(attacker.ca, { nodeId: joiner.identity.nodeId, name: "laptop", publicKey: joiner.identity.publicKey });
    const guessKey = joinKeys(crypto.randomBytes(10)).acceptKey;
    const substitutions: [string, JoinAccept][] = [
        ["another CA and certificate", { ...genuine, caCertificatePem: attacker.ca.certificatePem, certificatePem: forgedCertificate }],
        ["another certificate", { ...genuine, certificatePem: forgedCertificate }],
        ["an added member", { ...genuine, members: [...genuine.members, { nodeId: attacker.identity.nodeId, name: "totally-legit" }] }],
        ["a proof made with a guessed code", { ...genuine, caCertificatePem: attacker.ca.certificatePem, certificatePem: forgedCertificate, proof: crypto.createHmac("sha256", guessKey).update("x").digest("base64url") }]
    ];
    for (const [what, forged] of substitutions)
        assert.throws(() => verifyJoinAccept({ ...pending, acceptKey: Buffer.from(pending.acceptKey) }, forged), (e: unknown) =>
            e instanceof JoinVerificationError && /not made with this join code/.test(e.message), what);
    // A genuine answer for another conversation (another nonce) is refused as well.
    const { pending: otherPending } = createJoinRequest(code2, challenge, joiner);
    assert.throws(() => verifyJoinAccept(otherPending, genuine), JoinVerificationError);
    assert.equal(verifyJoinAccept(pending, genuine).clusterId, inviter.ca.clusterId);

    // 3. Replaying a request. The attacker holds back a joiner's request and replays it on its own
    //    connection to the inviter (a new challenge), to a second inviter, or with its own key in it.
    const book3 = new InviteBook();
    const code3 = book3.create().code;
    const firstChallenge = createJoinChallenge({ clusterId: inviter.ca.clusterId, nodeId: inviter.identity.nodeId, name: inviter.name });
    const captured = createJoinRequest(code3, firstChallenge, joiner).request;
    const attempt = (challengeUsed: JoinChallenge, book: InviteBook, ca: ClusterAuthority, members: Member[], req = captured) =>
        assert.rejects(answerJoinRequest({ challenge: challengeUsed, request: req, book, ca, members }), (e: unknown) => e instanceof JoinRefusedError && e.reason === "wrongCode");
    await attempt(createJoinChallenge({ clusterId: inviter.ca.clusterId, nodeId: inviter.identity.nodeId, name: inviter.name }), book3, inviter.ca, inviter.members.list());
    const secondBook = new InviteBook();
    secondBook.create();
    await attempt(createJoinChallenge({ clusterId: attacker.ca.clusterId, nodeId: attacker.identity.nodeId, name: "second" }), secondBook, attacker.ca, []);
    await attempt(firstChallenge, book3, inviter.ca, [], { ...captured, publicKeyPem: attacker.identity.publicKeyPem, nodeId: attacker.identity.nodeId });
    assert.equal(book3.list()[0]!.state, "live", "failed attempts do not use up the code");
    // The held-back request is still good on its own conversation, once: then it is used up.
    await answerJoinRequest({ challenge: firstChallenge, request: captured, book: book3, ca: inviter.ca, members: [] });
    await assert.rejects(answerJoinRequest({ challenge: firstChallenge, request: captured, book: book3, ca: inviter.ca, members: [] }), (e: unknown) => e instanceof JoinRefusedError && e.reason === "usedCode");
});

// ---- mutual TLS between processes ----

interface ServerProcess { port: number; child: ChildProcess; send(line: string): Promise<unknown>; stop(): void }

async function startServer(config: { mode: "mtls" | "plain"; dataDir: string }): Promise<ServerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "helpers", "mtls-server.ts")], {
        env: { ...process.env, MTLS_SERVER_CONFIG: JSON.stringify(config) }, stdio: ["pipe", "pipe", "inherit"]
    });
    const lines = readline.createInterface({ input: child.stdout! });
    const waiting: ((value: unknown) => void)[] = [];
    lines.on("line", (line) => waiting.shift()?.(JSON.parse(line)));
    const next = () => new Promise<unknown>((resolve, reject) => {
        waiting.push(resolve);
        child.once("exit", (code) => reject(new Error(`mtls-server exited with ${code}`)));
    });
    const { port } = (await next()) as { port: number };
    return {
        port, child,
        send: (line) => { const reply = next(); child.stdin!.write(line + "\n"); return reply; },
        stop: () => { child.stdin!.end(); child.kill(); }
    };
}

function client(port: number, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = MTLS_CHANNEL_OPTIONS): MtlsTestClient {
    return new MtlsTestClientConstructor(`127.0.0.1:${port}`, credentials, { ...options, "grpc.max_receive_message_length": 64 << 20 });
}

function whoAmI(c: MtlsTestClient): Promise<{ nodeId: string | null }> {
    return new Promise((resolve, reject) => c.whoAmI(Buffer.alloc(0), { deadline: Date.now() + 10000 }, (e, r) => (e ? reject(e) : resolve(JSON.parse(r!.toString())))));
}

async function refusedWith(c: MtlsTestClient, codes: grpc.status[]): Promise<grpc.ServiceError> {
    const e = await whoAmI(c).then(() => null, (err: grpc.ServiceError) => err);
    assert.ok(e != null, "the call was served");
    assert.ok(codes.includes(e.code), `status ${grpc.status[e.code]}: ${e.details}`);
    return e;
}

test("mutual TLS between processes: members get in and are known by node id; strangers, certificate-less and revoked callers do not", async () => {
    const inviter = await founder("inviter");
    const book = new InviteBook();
    const joinerDir = tempDir("joiner");
    const joiner = loadOrCreateNodeIdentity(joinerDir);
    const joined = await join(inviter, book, book.create().code, { identity: joiner, name: "laptop" });
    saveMembership(joinerDir, joined);
    const joinerMembership = loadMembership(joinerDir, joiner)!;
    // A node with a valid certificate of this cluster that the server's member list does not hold.
    const unlistedIdentity = loadOrCreateNodeIdentity(tempDir("unlisted"));
    const unlisted: ClusterMembership = { ...inviter.membership, certificatePem: await issueNodeCertificate(inviter.ca, { nodeId: unlistedIdentity.nodeId, name: "unlisted", publicKey: unlistedIdentity.publicKey }) };
    const stranger = await founder("stranger");

    const server = await startServer({ mode: "mtls", dataDir: inviter.dataDir });
    const clients: MtlsTestClient[] = [];
    const open = (c: MtlsTestClient) => { clients.push(c); return c; };
    try {
        const servers: string[] = [];
        const member = open(client(server.port, channelCredentials(joiner, joinerMembership, { expectedNodeId: inviter.identity.nodeId, onServerNodeId: (id) => servers.push(id) })));
        assert.deepEqual((await whoAmI(member)).nodeId, joiner.nodeId, "the server knows which member called");
        assert.deepEqual(servers, [inviter.identity.nodeId], "the client knows which node answered");

        // The right CA but another node id than expected: the client refuses the server.
        const e1 = await refusedWith(open(client(server.port, channelCredentials(joiner, joinerMembership, { expectedNodeId: unlistedIdentity.nodeId }))), [grpc.status.UNAVAILABLE]);
        assert.match(e1.details, /not the expected node/);
        // Another cluster's certificate: the server's TLS refuses it (and the client refuses the server's).
        await refusedWith(open(client(server.port, channelCredentials(stranger.identity, stranger.membership))), [grpc.status.UNAVAILABLE, grpc.status.UNAUTHENTICATED]);
        // Another cluster's client certificate while trusting this cluster's CA: the server refuses it.
        await refusedWith(open(client(server.port, channelCredentials(stranger.identity, { ...stranger.membership, caCertificatePem: inviter.ca.certificatePem }))), [grpc.status.UNAVAILABLE, grpc.status.UNAUTHENTICATED]);
        // No client certificate at all.
        await refusedWith(open(client(server.port, grpc.credentials.createSsl(Buffer.from(inviter.ca.certificatePem), null, null, { checkServerIdentity: () => undefined }))), [grpc.status.UNAVAILABLE, grpc.status.UNAUTHENTICATED]);
        // Plaintext to a TLS server.
        await refusedWith(open(client(server.port, grpc.credentials.createInsecure(), {})), [grpc.status.UNAVAILABLE, grpc.status.INTERNAL]);
        // A valid certificate of this cluster, but not in the member list.
        const e2 = await refusedWith(open(client(server.port, channelCredentials(unlistedIdentity, unlisted))), [grpc.status.PERMISSION_DENIED]);
        assert.match(e2.details, /not in this node's member list/);

        // Revocation: the member's next call on the same connection is refused.
        assert.deepEqual(await server.send(`revoke ${joiner.nodeId}`), { revoked: joiner.nodeId });
        const e3 = await refusedWith(member, [grpc.status.PERMISSION_DENIED]);
        assert.match(e3.details, /was removed from the cluster/);
    } finally {
        for (const c of clients) c.close();
        server.stop();
    }
});

/** Sends the messages one at a time on one echo stream (running `each` beside each round trip); resolves with what came back, in order, once the stream ended OK. */
async function echoes(c: MtlsTestClient, messages: Buffer[], each: (message: Buffer, i: number) => Promise<void> = async () => {}): Promise<Buffer[]> {
    const stream = c.echo();
    let waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
    const ended = new Promise<void>((resolve, reject) => { stream.on("status", (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve() : reject(new Error(`status ${grpc.status[s.code]}: ${s.details}`)))); });
    stream.on("data", (b: Buffer) => { const w = waiting; waiting = null; w?.resolve(b); });
    stream.on("error", (e: Error) => { const w = waiting; waiting = null; w?.reject(e); });
    const roundTrip = (message: Buffer) => new Promise<Buffer>((resolve, reject) => { waiting = { resolve, reject }; stream.write(message); });
    const received: Buffer[] = [];
    for (let i = 0; i < messages.length; i++) {
        const [echoed] = await Promise.all([roundTrip(messages[i]!), each(messages[i]!, i)]);
        received.push(echoed);
    }
    stream.end();
    await ended;
    return received;
}

// What mTLS costs is measured by `npm run bench:transport` (ratios within one run), not here.
test("mutual TLS carries activations intact: 200 round trips of a random 16 KiB message arrive byte-exact, and the server knows the member on every call", { timeout: 120000 }, async () => {
    const inviter = await founder("stream");
    const memberIdentity = loadOrCreateNodeIdentity(tempDir("member"));
    const memberMembership: ClusterMembership = {
        ...inviter.membership,
        certificatePem: await issueNodeCertificate(inviter.ca, { nodeId: memberIdentity.nodeId, name: "member", publicKey: memberIdentity.publicKey })
    };
    inviter.members.add({ nodeId: memberIdentity.nodeId, name: "member" });
    const server = await startServer({ mode: "mtls", dataDir: inviter.dataDir });
    const servers: string[] = [];
    const c = client(server.port, channelCredentials(memberIdentity, memberMembership, { expectedNodeId: inviter.identity.nodeId, onServerNodeId: (id) => servers.push(id) }));
    try {
        const messages = Array.from({ length: 200 }, () => crypto.randomBytes(16384));
        const callers: (string | null)[] = [];
        // Beside every round trip, a unary call on the same connection: the server names its caller each time.
        const received = await echoes(c, messages, async () => { callers.push((await whoAmI(c)).nodeId); });
        assert.equal(received.length, 200);
        for (let i = 0; i < messages.length; i++)
            assert.ok(received[i]!.equals(messages[i]!), `message ${i} came back changed (${received[i]!.length} bytes)`);
        assert.equal(callers.length, 200);
        assert.deepEqual(new Set(callers), new Set([memberIdentity.nodeId]), "the server saw the member's node id on every call");
        assert.ok(servers.length >= 1 && servers.every((id) => id === inviter.identity.nodeId), "the client checked the server's node id");
    } finally {
        c.close();
        server.stop();
    }
});
