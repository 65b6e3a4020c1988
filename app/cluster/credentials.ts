// grpc-js credentials for mutual TLS inside a cluster: both sides present their node
// certificate and accept only certificates signed by the cluster CA. Nodes are reached by IP, so
// host names are not checked; the server is checked by the node id in its certificate instead.
import * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { nodeIdOfPeerCertificate } from "./caller-node-id.ts";
import type { NodeIdentity } from "./identity.ts";
import type { ClusterMembership } from "./membership.ts";

export interface ChannelCredentialsOptions {
    /** The node id the server must have; a server with any other refuses the connection. Defaults to any member of the cluster. */
    expectedNodeId?: string;
    /** Told the node id of each server connected to (after the CA check). Defaults to none. */
    onServerNodeId?: (nodeId: string) => void;
}

/**
 * The channel options to use with `channelCredentials`: a fixed TLS server name, so that Node does
 * not warn about an IP address used as one (RFC 6066); the name itself is not checked.
 */
export const MTLS_CHANNEL_OPTIONS: grpc.ChannelOptions = { "grpc.ssl_target_name_override": "hearth-node" };

/**
 * A certificate provider that gives one fixed CA and identity (grpc-js's interface; nothing is
 * watched). Listeners are told on the next tick: grpc-js registers its own watcher only after
 * adding them, and an answer given at once would never reach it (the server would drop every
 * connection for want of credentials).
 */
class FixedCertificates implements grpc.experimental.CertificateProvider {
    constructor(private readonly ca: Buffer, private readonly identity: { certificate: Buffer; privateKey: Buffer }) {}
    addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void { process.nextTick(() => listener({ caCertificate: this.ca })); }
    removeCaCertificateListener(): void {}
    addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void { process.nextTick(() => listener(this.identity)); }
    removeIdentityCertificateListener(): void {}
}

/**
 * A node's server: TLS with its node certificate; a client certificate is asked for and checked
 * against the cluster CA, but not required, so that a machine that is not a member yet can reach
 * the Admission service. Whether a call comes from a member is decided per call by `membersOnly`
 * (a client without a verified certificate has no node id there).
 */
export function nodeServerCredentials(identity: NodeIdentity, membership: ClusterMembership): grpc.ServerCredentials {
    const certificates = new FixedCertificates(Buffer.from(membership.caCertificatePem),
        { certificate: Buffer.from(membership.certificatePem), privateKey: Buffer.from(identity.privateKeyPem) });
    // grpc-js 1.14 passes its first argument on as the identity provider and its second as the CA
    // provider (the declared parameter names are the other way round); one object serves both.
    return grpc.experimental.createCertificateProviderServerCredentials(certificates, certificates, false);
}

/**
 * What a machine that is not a member yet uses to reach a node's Admission service: TLS without
 * checking the server's certificate, which it has no CA to check against yet. Nothing said over it
 * is trusted because of TLS: a join is proven by the code's HMACs (join-protocol.ts).
 */
export function admissionChannelCredentials(): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}

/** A server that only completes TLS with clients presenting a certificate signed by the cluster CA. */
export function serverCredentials(identity: NodeIdentity, membership: ClusterMembership): grpc.ServerCredentials {
    return grpc.ServerCredentials.createSsl(Buffer.from(membership.caCertificatePem),
        [{ private_key: Buffer.from(identity.privateKeyPem), cert_chain: Buffer.from(membership.certificatePem) }], true);
}

/** A client that presents this node's certificate and accepts only a server certified by the cluster CA (and with `expectedNodeId`). */
export function channelCredentials(identity: NodeIdentity, membership: ClusterMembership, options: ChannelCredentialsOptions = {}): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(Buffer.from(membership.caCertificatePem), Buffer.from(identity.privateKeyPem), Buffer.from(membership.certificatePem), {
        // Called by Node's TLS only after the chain verified against the CA.
        checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
            const nodeId = nodeIdOfPeerCertificate(certificate);
            if (nodeId == null) return new Error("the server's certificate names no Hearth node id; it is not a node of this cluster");
            if (options.expectedNodeId != null && nodeId !== options.expectedNodeId)
                return new Error(`the server is node ${nodeId}, not the expected node ${options.expectedNodeId}; its address may have changed hands — look the node up again`);
            options.onServerNodeId?.(nodeId);
            return undefined;
        }
    });
}
