// The "Join cluster" handshake, as pure messages (the transport is someone else's):
//
//   inviter → joiner   JoinChallenge  cluster id, inviter's node id and name, inviter nonce
//   joiner  → inviter  JoinRequest    name, node id, public key, joiner nonce,
//                                     proof = HMAC(K_join, challenge ‖ request)
//   inviter → joiner   JoinAccept     CA certificate, the joiner's certificate, the members,
//                                     proof = HMAC(K_accept, challenge ‖ request ‖ accept)
//
// K_join and K_accept are HKDF-SHA256 of the join code's 80-bit secret (one key per direction).
// The code itself never crosses; a machine in the middle sees only HMACs. The inviter checks the
// request's proof against its live invitations in constant time and consumes the one it matches;
// the joiner trusts the CA only when the answer's proof, over everything both sides sent
// (including its own fresh nonce), checks out with the code the user typed.
import crypto from "node:crypto";
import { issueNodeCertificate, type ClusterAuthority } from "./ca.ts";
import { verifyNodeCertificate } from "./certificate-info.ts";
import { JoinRefusedError, JoinVerificationError } from "./errors.ts";
import { isNodeId, type NodeIdentity } from "./identity.ts";
import type { Invite, InviteBook } from "./invite-book.ts";
import { parseJoinCode } from "./join-code.ts";
import type { Member } from "./member-list.ts";

export const JOIN_PROTOCOL = "hearth-join-1";
const NONCE_BYTES = 32;
const MAX_NAME_CHARACTERS = 64;

export interface JoinChallenge {
    protocol: string;
    clusterId: string;
    inviterNodeId: string;
    inviterName: string;
    /** 32 random bytes, base64url: binds the request to this one conversation with this inviter. */
    inviterNonce: string;
}

export interface JoinRequest {
    protocol: string;
    name: string;
    nodeId: string;
    /** The joiner's public key, SPKI PEM: what the inviter's CA signs. */
    publicKeyPem: string;
    /** 32 random bytes, base64url: makes the inviter's answer fresh for this joiner. */
    joinerNonce: string;
    /** HMAC-SHA256(K_join, challenge ‖ request), base64url. */
    proof: string;
}

export interface JoinAccept {
    caCertificatePem: string;
    /** The joiner's certificate, signed by the CA. */
    certificatePem: string;
    /** The cluster's members, the joiner included. */
    members: Member[];
    /** HMAC-SHA256(K_accept, challenge ‖ request ‖ accept), base64url. */
    proof: string;
}

/** What the joiner keeps between its request and the inviter's answer (keys, not the code). */
export interface PendingJoin {
    readonly challenge: JoinChallenge;
    readonly request: JoinRequest;
    readonly acceptKey: Buffer;
    readonly publicKeyPem: string;
}

/** What a verified answer gives the joiner: everything it needs to be a member. */
export interface JoinResult {
    clusterId: string;
    caCertificatePem: string;
    certificatePem: string;
    members: Member[];
}

export interface AnswerJoinOptions {
    /** The challenge this inviter sent on this connection (its own copy, never one sent back). */
    challenge: JoinChallenge;
    request: JoinRequest;
    book: InviteBook;
    ca: ClusterAuthority;
    /** The members before the joiner. */
    members: readonly Member[];
    /** How long the joiner's certificate is valid. Defaults to issueNodeCertificate's 825 days. */
    validDays?: number;
    /** The clock for the certificate. Defaults to the system clock. */
    now?: () => Date;
}

/** Length-prefixed, so that no two different field lists encode alike. */
function encodeFields(fields: readonly string[]): Buffer {
    const parts: Buffer[] = [];
    for (const field of fields) {
        const bytes = Buffer.from(field, "utf8");
        const length = Buffer.alloc(4);
        length.writeUInt32BE(bytes.length);
        parts.push(length, bytes);
    }
    return Buffer.concat(parts);
}

function challengeFields(c: JoinChallenge): string[] {
    return [JOIN_PROTOCOL, "challenge", c.protocol, c.clusterId, c.inviterNodeId, c.inviterName, c.inviterNonce];
}
function requestFields(r: JoinRequest): string[] {
    return ["request", r.protocol, r.name, r.nodeId, r.publicKeyPem, r.joinerNonce];
}
function acceptFields(a: JoinAccept): string[] {
    return ["accept", a.caCertificatePem, a.certificatePem, String(a.members.length), ...a.members.flatMap((m) => [m.nodeId, m.name])];
}

/** K_join and K_accept of a join code's secret. */
export function joinKeys(secret: Buffer): { joinKey: Buffer; acceptKey: Buffer } {
    const derive = (info: string) => Buffer.from(crypto.hkdfSync("sha256", secret, JOIN_PROTOCOL, info, 32));
    return { joinKey: derive("joiner proof"), acceptKey: derive("inviter proof") };
}

function hmac(key: Buffer, fields: readonly string[]): Buffer {
    return crypto.createHmac("sha256", key).update(encodeFields(fields)).digest();
}

function equalProof(expected: Buffer, presented: string): boolean {
    const bytes = Buffer.from(typeof presented === "string" ? presented : "", "base64url");
    return bytes.length === expected.length && crypto.timingSafeEqual(bytes, expected);
}

function nonce(): string { return crypto.randomBytes(NONCE_BYTES).toString("base64url"); }

/** The inviter's opening message on a new join connection. Keep it to answer the request. */
export function createJoinChallenge(inviter: { clusterId: string; nodeId: string; name: string }): JoinChallenge {
    return { protocol: JOIN_PROTOCOL, clusterId: inviter.clusterId, inviterNodeId: inviter.nodeId, inviterName: inviter.name, inviterNonce: nonce() };
}

/**
 * The joiner's request, from the code the user typed (a mistyped code throws
 * JoinCodeFormatError before anything is sent) and the inviter's challenge.
 */
export function createJoinRequest(typedCode: string, challenge: JoinChallenge, joiner: { identity: NodeIdentity; name: string }): { request: JoinRequest; pending: PendingJoin } {
    const secret = parseJoinCode(typedCode);
    if (challenge.protocol !== JOIN_PROTOCOL)
        throw new JoinVerificationError(`the inviting machine speaks join protocol '${challenge.protocol}', this one ${JOIN_PROTOCOL}; update Hearth on both machines`);
    const { joinKey, acceptKey } = joinKeys(secret);
    secret.fill(0);
    const unsigned: JoinRequest = {
        protocol: JOIN_PROTOCOL, name: joiner.name.slice(0, MAX_NAME_CHARACTERS), nodeId: joiner.identity.nodeId,
        publicKeyPem: joiner.identity.publicKeyPem, joinerNonce: nonce(), proof: ""
    };
    const request = { ...unsigned, proof: hmac(joinKey, [...challengeFields(challenge), ...requestFields(unsigned)]).toString("base64url") };
    joinKey.fill(0);
    return { request, pending: { challenge, request, acceptKey, publicKeyPem: joiner.identity.publicKeyPem } };
}

/** What is wrong with a request's fields, or null: pure. */
export function joinRequestProblem(request: JoinRequest): string | null {
    if (request == null || typeof request !== "object") return "the request is not an object";
    if (request.protocol !== JOIN_PROTOCOL) return `the joining machine speaks join protocol '${String(request.protocol)}', this one ${JOIN_PROTOCOL}; update Hearth on both machines`;
    if (typeof request.name !== "string" || request.name.length > MAX_NAME_CHARACTERS || /[\u0000-\u001f\u007f]/.test(request.name)) return "the machine's name is too long or has control characters";
    if (typeof request.nodeId !== "string" || !isNodeId(request.nodeId)) return "the node id is not 32 hexadecimal characters";
    if (typeof request.joinerNonce !== "string" || Buffer.from(request.joinerNonce, "base64url").length !== NONCE_BYTES) return "the nonce is not 32 bytes";
    if (typeof request.proof !== "string" || typeof request.publicKeyPem !== "string" || request.publicKeyPem.length > 1000) return "the proof or public key is missing";
    try {
        const key = crypto.createPublicKey(request.publicKeyPem);
        if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") return "the public key is not an ECDSA P-256 key";
    } catch {
        return "the public key cannot be read";
    }
    return null;
}

/**
 * The inviter's answer: checks the request's proof against every remembered invitation in
 * constant time, consumes the one it matches, and signs the joiner's key. Throws
 * JoinRefusedError ("wrongCode", "usedCode", "expiredCode" or "badRequest") with a message for
 * the joiner; nothing is signed then.
 */
export async function answerJoinRequest(options: AnswerJoinOptions): Promise<{ accept: JoinAccept; invite: Invite; member: Member }> {
    const { challenge, request } = options;
    const problem = joinRequestProblem(request);
    if (problem != null) throw new JoinRefusedError("badRequest", `join request refused: ${problem}`);
    const transcript = [...challengeFields(challenge), ...requestFields(request)];
    let acceptKey: Buffer | null = null;
    const invite = options.book.consume((secret) => {
        const keys = joinKeys(secret);
        const match = equalProof(hmac(keys.joinKey, transcript), request.proof);
        if (match) acceptKey = keys.acceptKey;
        return match;
    }, request.nodeId);
    const key = acceptKey as Buffer | null;
    if (key == null) throw new Error("an invitation was consumed without its key"); // cannot happen: consume throws first
    const certificatePem = await issueNodeCertificate(options.ca, {
        nodeId: request.nodeId, name: request.name, publicKey: request.publicKeyPem, validDays: options.validDays, now: options.now
    });
    const member: Member = { nodeId: request.nodeId, name: request.name };
    const unsigned: JoinAccept = {
        caCertificatePem: options.ca.certificatePem, certificatePem,
        members: [...options.members.filter((m) => m.nodeId !== member.nodeId), member], proof: ""
    };
    const proof = hmac(key, [...transcript, request.proof, ...acceptFields(unsigned)]).toString("base64url");
    key.fill(0);
    return { accept: { ...unsigned, proof }, invite, member };
}

/**
 * The joiner's check of the answer, before anything in it is trusted: the proof (made with the
 * same code, over both nonces and every field), then the certificates — the CA is the cluster
 * the challenge named, and the certificate is for this node's own id and key, signed by that CA.
 */
export function verifyJoinAccept(pending: PendingJoin, accept: JoinAccept, now: Date = new Date()): JoinResult {
    const refuse = (why: string): never => {
        throw new JoinVerificationError(`the answer to the join request is not trustworthy (${why}); nothing was kept. ` +
            "Check that you are joining the machine that showed the code, and try again with a new code");
    };
    if (accept == null || typeof accept !== "object" || !Array.isArray(accept.members) || typeof accept.caCertificatePem !== "string" || typeof accept.certificatePem !== "string")
        return refuse("it is malformed");
    if (!accept.members.every((m) => m != null && typeof m.nodeId === "string" && typeof m.name === "string")) return refuse("its member list is malformed");
    const expected = hmac(pending.acceptKey, [...challengeFields(pending.challenge), ...requestFields(pending.request), pending.request.proof, ...acceptFields(accept)]);
    if (!equalProof(expected, accept.proof)) return refuse("it was not made with this join code");
    let info: ReturnType<typeof verifyNodeCertificate>;
    try {
        info = verifyNodeCertificate(accept.certificatePem, accept.caCertificatePem, now);
    } catch (e) {
        return refuse((e as Error).message);
    }
    if (info.clusterId !== pending.challenge.clusterId) return refuse(`it is for cluster ${info.clusterId}, not ${pending.challenge.clusterId}`);
    if (info.nodeId !== pending.request.nodeId) return refuse("the certificate is for another node");
    const certifiedKey = new crypto.X509Certificate(accept.certificatePem).publicKey;
    if (!certifiedKey.equals(crypto.createPublicKey(pending.publicKeyPem))) return refuse("the certificate is for another key");
    pending.acceptKey.fill(0);
    return { clusterId: info.clusterId, caCertificatePem: accept.caCertificatePem, certificatePem: accept.certificatePem, members: accept.members.map((m) => ({ nodeId: m.nodeId, name: m.name })) };
}
