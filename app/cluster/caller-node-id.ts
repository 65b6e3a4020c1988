// Which member made a gRPC call. grpc-js (≥ 1.10; 1.14.7 here) gives a server call's TLS peer
// certificate through `call.getAuthContext().sslPeerCertificate` — only once the TLS layer has
// verified it against the cluster CA (an unverified socket gives an empty context).
// `call.getPeer()` gives only the address, which proves nothing.
import crypto from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { certificateInfo } from "./certificate-info.ts";

/** Anything with grpc-js's getAuthContext: a server call, or an interceptor's call. */
export interface CallWithAuthContext {
    getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate };
}

/** The node id of a peer certificate as Node's TLS gives it, or null. */
export function nodeIdOfPeerCertificate(certificate: PeerCertificate | undefined): string | null {
    if (certificate?.raw == null || certificate.raw.length === 0) return null;
    try {
        return certificateInfo(new crypto.X509Certificate(certificate.raw)).nodeId;
    } catch {
        return null;
    }
}

/** The node id in the verified client certificate of `call`, or null (no TLS, no certificate, none in it). */
export function callerNodeId(call: CallWithAuthContext): string | null {
    const context = call.getAuthContext();
    if (context.transportSecurityType !== "ssl") return null;
    return nodeIdOfPeerCertificate(context.sslPeerCertificate);
}
