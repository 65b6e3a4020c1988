// What a Hearth node puts in its mDNS TXT record, and how a record heard on the network is read
// back (pure). Anything that is not a well-formed Hearth record is ignored, never trusted.
import type { DiscoveredInfo } from "./discovery-state.ts";

/** The DNS-SD service type every Hearth node advertises. */
export const HEARTH_SERVICE_TYPE = "hearth";

/** The TXT keys (short: a TXT record is small). */
const KEY = { nodeId: "id", name: "name", version: "ver", protocol: "proto", port: "grpc", clusterId: "cluster" } as const;

const NODE_ID = /^[A-Za-z0-9_-]{1,48}$/;

/** The TXT record for `info` (its addresses travel in A records, not here). */
export function discoveryTxt(info: Omit<DiscoveredInfo, "addresses">): Record<string, string> {
    return {
        [KEY.nodeId]: info.nodeId,
        [KEY.name]: info.name,
        [KEY.version]: info.version,
        [KEY.protocol]: String(info.protocol),
        [KEY.port]: String(info.port),
        [KEY.clusterId]: info.clusterId ?? ""
    };
}

/** The info in a TXT record heard from the network, or null when it is not a Hearth record. */
export function parseDiscoveryTxt(txt: unknown, addresses: string[]): DiscoveredInfo | null {
    if (typeof txt !== "object" || txt === null) return null;
    const field = (key: string): string | undefined => {
        const value = (txt as Record<string, unknown>)[key];
        return typeof value === "string" ? value : undefined;
    };
    const nodeId = field(KEY.nodeId);
    const port = Number(field(KEY.port));
    const protocol = Number(field(KEY.protocol));
    if (nodeId === undefined || !NODE_ID.test(nodeId)) return null;
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(protocol) || protocol < 0) return null;
    // An empty value ("cluster=") decodes as no key at all: both mean no cluster.
    const clusterId = field(KEY.clusterId);
    return {
        nodeId,
        name: field(KEY.name) || nodeId,
        addresses: [...new Set(addresses)],
        port,
        version: field(KEY.version) ?? "",
        protocol,
        clusterId: clusterId === undefined || clusterId === "" ? null : clusterId
    };
}

/** Whether `nodeId` can go into a TXT record and a service name. */
export function isValidNodeId(nodeId: string): boolean {
    return NODE_ID.test(nodeId);
}
