// A grpc-js server interceptor that admits only calls from current members: the caller's node id
// (from its verified TLS certificate) must be in the member list, checked on every call, so a
// revocation takes effect on the next call.
import * as grpc from "@grpc/grpc-js";
import { callerNodeId } from "./caller-node-id.ts";
import type { MemberList } from "./member-list.ts";

/** Whether a caller may be served: pure. */
export function memberVerdict(nodeId: string | null, members: MemberList): { code: grpc.status; details: string } | null {
    if (nodeId == null) return { code: grpc.status.UNAUTHENTICATED, details: "this node serves only members of its cluster over mutual TLS; join the cluster first" };
    if (members.isRevoked(nodeId)) return { code: grpc.status.PERMISSION_DENIED, details: `node ${nodeId} was removed from the cluster; join it again with a new code` };
    if (!members.isMember(nodeId)) return { code: grpc.status.PERMISSION_DENIED, details: `node ${nodeId} is not in this node's member list; it may have joined after this node last heard of the members` };
    return null;
}

export interface MembersOnlyOptions {
    /** Whether a method (its path, "/package.Service/Method") is open to callers that are not members. Defaults to none. */
    isOpen?: (path: string) => boolean;
}

export function membersOnly(members: MemberList, options: MembersOnlyOptions = {}): grpc.ServerInterceptor {
    return (method, call) => {
        if (options.isOpen?.(method.path) === true) return new grpc.ServerInterceptingCall(call);
        const listener = new grpc.ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, next) => {
                const refusal = memberVerdict(callerNodeId(call), members);
                if (refusal == null) next(metadata);
                else call.sendStatus({ ...refusal, metadata: new grpc.Metadata() });
            })
            .build();
        return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
    };
}
