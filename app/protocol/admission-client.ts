// The client of a node's Admission service, for machines that are not members (yet): who is at
// an address (Hello), and joining a cluster with a code (JoinCluster, the handshake of
// cluster/join-protocol.ts). Also explains, in one line, why a node cannot be used.
import * as grpc from "@grpc/grpc-js";
import { admissionChannelCredentials } from "../cluster/credentials.ts";
import { JoinRefusedError, JoinVerificationError, type JoinRefusal } from "../cluster/errors.ts";
import type { NodeIdentity } from "../cluster/identity.ts";
import { createJoinRequest, verifyJoinAccept, type JoinChallenge, type JoinResult } from "../cluster/join-protocol.ts";
import { MTLS_CHANNEL_OPTIONS } from "../cluster/credentials.ts";
import { raceSignal } from "../util/abort.ts";
import { nodeContract, type HelloReply__Output, type JoinMessage, type JoinMessage__Output, type RawAdmissionClient } from "./proto.ts";

/** The metadata key a refused join carries its reason in. */
export const JOIN_REFUSAL_METADATA = "x-hearth-join-refusal";
const REFUSALS: readonly JoinRefusal[] = ["wrongCode", "usedCode", "expiredCode", "badRequest"];

export interface Hello {
    nodeId: string;
    name: string;
    version: string;
    protocol: number;
    /** null: in no cluster */
    clusterId: string | null;
}

function admissionClient(address: string): RawAdmissionClient {
    const Admission = nodeContract().hearth.v1.Admission;
    return new Admission(address, admissionChannelCredentials(), { ...MTLS_CHANNEL_OPTIONS, "grpc.max_receive_message_length": 1 << 20 }) as unknown as RawAdmissionClient;
}

/** Who the node at `address` says it is (unauthenticated: for display and explanations only). */
export async function hello(address: string, timeoutMs = 5000): Promise<Hello> {
    const client = admissionClient(address);
    try {
        const reply = await new Promise<HelloReply__Output>((resolve, reject) =>
            client.hello({}, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r!))));
        return { nodeId: reply.nodeId, name: reply.name, version: reply.version, protocol: reply.protocol, clusterId: reply.clusterId === "" ? null : reply.clusterId };
    } finally {
        client.close();
    }
}

/**
 * One line saying why the node at `address` cannot be used by a member of `ourClusterId`, asking
 * the node itself when it can be reached at all.
 */
export async function explainUnreachable(address: string, ourClusterId: string, why: string, expectedNodeId?: string): Promise<string> {
    let them: Hello;
    try {
        them = await hello(address, 3000);
    } catch {
        const port = /:(\d+)$/.exec(address)?.[1] ?? "its port";
        return `cannot reach a Hearth node at ${address} (${why}): check that Hearth runs there and that no firewall blocks TCP port ${port}`;
    }
    if (them.clusterId == null)
        return `node '${them.name}' at ${address} is in no cluster: make a code with 'hearth invite' on a machine of this cluster and join it with 'hearth join CODE'`;
    if (them.clusterId !== ourClusterId)
        return `node '${them.name}' at ${address} is a member of another cluster (${them.clusterId.slice(0, 8)}…), not this one (${ourClusterId.slice(0, 8)}…): ` +
            "run 'hearth leave' on it, then join this cluster with a code from 'hearth invite'";
    if (expectedNodeId != null && them.nodeId !== expectedNodeId)
        return `the machine at ${address} is now node '${them.name}' (${them.nodeId.slice(0, 8)}…), not the node expected there: its address changed hands — look the node up again with 'hearth peers'`;
    return `node '${them.name}' at ${address} is of this cluster but refused this machine (${why}): this machine may have been removed from the cluster — ` +
        "check with 'hearth peers' on it, and join again with a new code if so";
}

export interface JoinThroughOptions {
    identity: NodeIdentity;
    /** this machine's name, as the members will show it */
    name: string;
    signal?: AbortSignal;
    timeoutMs?: number;
}

/**
 * Joins the cluster of the node at `address` with the code the user typed. Resolves with a
 * verified result (nothing is kept here: the caller saves it); rejects with JoinRefusedError (the
 * inviter said no: wrong, used or expired code), JoinVerificationError (the answer was not made
 * with this code), JoinCodeFormatError (a mistyped code, before anything is sent), or an Error
 * saying the node cannot be reached.
 */
export async function joinThrough(address: string, typedCode: string, options: JoinThroughOptions): Promise<{ result: JoinResult; inviter: JoinChallenge }> {
    const client = admissionClient(address);
    const call = client.joinCluster({ deadline: Date.now() + (options.timeoutMs ?? 30000) });
    const messages: JoinMessage__Output[] = [];
    let waiter: (() => void) | null = null;
    let ended: Error | null = null;
    call.on("data", (m: JoinMessage__Output) => { messages.push(m); waiter?.(); });
    call.on("error", (e: grpc.ServiceError) => { ended = refusalOf(e, address); waiter?.(); });
    call.on("end", () => { ended ??= new Error(`node at ${address} ended the join without an answer`); waiter?.(); });
    const next = async (): Promise<JoinMessage__Output> => {
        while (messages.length === 0) {
            if (ended != null) throw ended;
            await raceSignal(new Promise<void>((resolve) => { waiter = resolve; }), options.signal);
            waiter = null;
        }
        return messages.shift()!;
    };
    try {
        const first = await next();
        const c = first.challenge;
        if (c == null) throw new JoinVerificationError(`node at ${address} did not open the join with a challenge`);
        const challenge: JoinChallenge = { protocol: c.protocol, clusterId: c.clusterId, inviterNodeId: c.inviterNodeId, inviterName: c.inviterName, inviterNonce: c.inviterNonce };
        const { request, pending } = createJoinRequest(typedCode, challenge, { identity: options.identity, name: options.name });
        call.write({ request } satisfies JoinMessage);
        const answer = await next();
        const a = answer.accept;
        if (a == null) throw new JoinVerificationError(`node at ${address} answered the join request with something else than an acceptance`);
        const result = verifyJoinAccept(pending, {
            caCertificatePem: a.caCertificatePem, certificatePem: a.certificatePem, proof: a.proof,
            members: a.members.map((m) => ({ nodeId: m.nodeId, name: m.name }))
        });
        call.end();
        return { result, inviter: challenge };
    } finally {
        call.cancel();
        client.close();
    }
}

function refusalOf(e: grpc.ServiceError, address: string): Error {
    const reason = e.metadata?.get(JOIN_REFUSAL_METADATA)[0];
    if (typeof reason === "string" && (REFUSALS as readonly string[]).includes(reason)) return new JoinRefusedError(reason as JoinRefusal, e.details);
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
        const port = /:(\d+)$/.exec(address)?.[1] ?? "its port";
        return new Error(`cannot reach a Hearth node at ${address} (${e.details}): check the address, that Hearth runs there, and that no firewall blocks TCP port ${port}`);
    }
    return new Error(`node at ${address} refused the join: ${e.details || e.message}`);
}
