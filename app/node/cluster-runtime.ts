// A node's life in its cluster: LAN discovery, the member list kept in step with the other
// members, join codes and the join handshake it answers, removals, and the cluster view (who is
// where, with what machine) that `hearth peers` and the UI show. The gRPC handlers of these are
// here too; service.ts mounts them.
import os from "node:os";
import * as grpc from "@grpc/grpc-js";
import { Discovery } from "../cluster/discovery.ts";
import { formatHostPort } from "../cluster/host-port.ts";
import { InviteBook, type CreatedInvite } from "../cluster/invite-book.ts";
import { JoinRefusedError } from "../cluster/errors.ts";
import { LinkMeter, PROBE_BYTES, bandwidthFromTimes, type LinkFigures } from "../cluster/link-meter.ts";
import { answerJoinRequest, createJoinChallenge, type JoinRequest } from "../cluster/join-protocol.ts";
import type { Inventory, MachineInventory } from "../cluster/inventory.ts";
import type { MemberEntry } from "../cluster/member-list.ts";
import type { NodeCluster } from "../cluster/node-cluster.ts";
import { applyClusterViewEvent, clusterModelFromWire, initialClusterViewState, type ClusterViewEvent, type ClusterViewState, type HostedModelWire } from "../cluster/cluster-view.ts";
import { certificateInfo } from "../cluster/certificate-info.ts";
import { JOIN_REFUSAL_METADATA, hello } from "../protocol/admission-client.ts";
import { NodeClient } from "../protocol/node-client.ts";
import { PROTOCOL_VERSION, type JoinMessage, type JoinMessage__Output, type NodeInfo__Output } from "../protocol/proto.ts";
import { EventHub } from "../util/event-hub.ts";
import { HEARTH_VERSION } from "../version.ts";
import { NodeError } from "./errors.ts";

export interface ClusterRuntimeOptions {
    cluster: NodeCluster;
    name: string;
    /** the gRPC port this node listens on */
    port: number;
    /** the address the server is bound to ("0.0.0.0": every interface) */
    host: string;
    /** whether to advertise and browse on the LAN with mDNS. Defaults to true */
    discovery?: boolean;
    /** this machine's inventory (served by GetInfo, shown in the view); null: none */
    inventory: Inventory | null;
    /** how often the member list is exchanged with every member. Defaults to 15000 ms */
    syncIntervalMs?: number;
    /** how often every member is asked for its inventory. Defaults to 5000 ms */
    peerRefreshMs?: number;
    /** how long a join code can be used. Defaults to 10 minutes */
    inviteValidityMs?: number;
    /** called when a node is removed from the cluster (this one included) */
    onRemoved: (nodeId: string) => void;
    log: (line: string) => void;
}

/** The capability a node holding the cluster's CA lists in NodeInfo. */
export const CLUSTER_CA_CAPABILITY = "cluster-ca";

/** Wrong codes accepted before every live code is cancelled (guessing is hopeless at 80 bits; this ends it sooner). */
const MAX_WRONG_CODES = 20;
/** How long a joiner may take between the challenge and its request. */
const JOIN_REQUEST_TIMEOUT_MS = 30000;

/** The IPv4 addresses of this machine's LAN interfaces (no loopback, no link-local), likeliest first. */
export function lanAddresses(): string[] {
    const out: string[] = [];
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? [])
        if (a.family === "IPv4" && !a.internal && !a.address.startsWith("169.254.")) out.push(a.address);
    return out;
}

export class ClusterRuntime {
    readonly view: EventHub<ClusterViewState, ClusterViewEvent>;
    readonly invites: InviteBook;
    readonly discovery: Discovery | null;
    /** host:port where the other members reach this node */
    readonly address: string;
    private readonly clients = new Map<string, NodeClient>();
    /** each member's last GetInfo answer (its inventory, the model it hosts), and when */
    private readonly infos = new Map<string, { info: NodeInfo__Output; atMs: number }>();
    private readonly timers: NodeJS.Timeout[] = [];
    private readonly unsubscribe: Array<() => void> = [];
    private pushTimer: NodeJS.Timeout | null = null;
    private wrongCodes = 0;
    private disposed = false;
    private removedNotified = new Set<string>();
    private readonly linkMeter = new LinkMeter();
    private measuringBandwidth = false;
    /** the model this node hosts (as NodeInfo carries it), and the model last shown in the view (JSON) */
    private ownModel: HostedModelWire | null = null;
    private shownModel = "null";

    constructor(private readonly options: ClusterRuntimeOptions) {
        const { cluster } = options;
        this.invites = new InviteBook({ ...(options.inviteValidityMs != null ? { validityMs: options.inviteValidityMs } : {}) });
        const host = options.host === "0.0.0.0" || options.host === "::" ? (lanAddresses()[0] ?? "127.0.0.1") : options.host;
        this.address = formatHostPort({ host, port: options.port });
        cluster.members.add({ nodeId: cluster.identity.nodeId, name: options.name, address: this.address });
        for (const e of cluster.members.entries()) if (e.removed) this.removedNotified.add(e.nodeId);
        this.view = new EventHub(initialClusterViewState({ nodeId: cluster.identity.nodeId, name: options.name, clusterId: cluster.membership.clusterId, version: HEARTH_VERSION, protocol: PROTOCOL_VERSION, address: this.address }), applyClusterViewEvent);
        this.discovery = options.discovery === false ? null : Discovery.start({
            nodeId: cluster.identity.nodeId, name: options.name, port: options.port, clusterId: cluster.membership.clusterId,
            version: HEARTH_VERSION, protocol: PROTOCOL_VERSION,
            ...(options.host !== "0.0.0.0" && options.host !== "::" ? { interfaceAddress: options.host } : {}),
            probe: async (address) => {
                const h = await hello(address, 3000);
                const hostPart = address.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
                return { nodeId: h.nodeId, name: h.name, addresses: [hostPart], port: Number(/:(\d+)$/.exec(address)?.[1] ?? 0), version: h.version, protocol: h.protocol, clusterId: h.clusterId };
            },
            log: options.log
        });
        if (this.discovery != null) this.unsubscribe.push(this.discovery.events.subscribe(() => this.view.emit({ type: "discovery", state: this.discovery!.events.state })));
        this.unsubscribe.push(cluster.members.onChange(() => this.membersChanged()));
        if (options.inventory != null) this.unsubscribe.push(options.inventory.events.subscribe(() =>
            this.view.emit({ type: "inventory", nodeId: cluster.identity.nodeId, inventory: options.inventory!.snapshot })));
        this.emitMembers();
        this.timers.push(setInterval(() => { void this.syncAll(); }, options.syncIntervalMs ?? 15000));
        this.timers.push(setInterval(() => { void this.refreshPeers(); }, options.peerRefreshMs ?? 5000));
        for (const t of this.timers) t.unref();
        this.schedulePush(0);
        void this.refreshPeers();
    }

    get nodeId(): string { return this.options.cluster.identity.nodeId; }
    get members() { return this.options.cluster.members; }
    get clusterId(): string { return this.options.cluster.membership.clusterId; }

    // ---- members in step ---------------------------------------------------------------------

    private membersChanged(): void {
        this.emitMembers();
        for (const e of this.members.entries()) {
            if (!e.removed || this.removedNotified.has(e.nodeId)) continue;
            this.removedNotified.add(e.nodeId);
            const client = this.clients.get(e.nodeId);
            this.clients.delete(e.nodeId);
            this.linkMeter.forget(e.nodeId);
            client?.close();
            this.options.log(e.nodeId === this.nodeId ? "this node was removed from the cluster" : `node '${e.name || e.nodeId}' was removed from the cluster`);
            this.options.onRemoved(e.nodeId);
        }
        this.schedulePush(100);
    }

    private emitMembers(): void {
        this.view.emit({ type: "members", members: this.members.list().map((m) => ({ nodeId: m.nodeId, name: m.name, address: m.address })) });
    }

    private schedulePush(delayMs: number): void {
        if (this.disposed || this.pushTimer != null) return;
        this.pushTimer = setTimeout(() => { this.pushTimer = null; void this.syncAll(); }, delayMs);
        this.pushTimer.unref();
    }

    /** Where a member can be reached: what it said about itself, else what discovery heard. */
    addressOf(nodeId: string): string | null {
        const entry = this.members.get(nodeId);
        if (entry?.address != null) return entry.address;
        const seen = this.discovery?.machines.find((m) => m.nodeId === nodeId && m.state === "discovered");
        if (seen == null || seen.addresses.length === 0) return null;
        const host = seen.addresses[0]!;
        return formatHostPort({ host, port: seen.port });
    }

    /** A client of member `nodeId` (checked to be that node by its certificate), or null when its address is unknown. */
    clientOf(nodeId: string): NodeClient | null {
        const address = this.addressOf(nodeId);
        if (address == null) return null;
        const cached = this.clients.get(nodeId);
        if (cached != null && cached.address === address) return cached;
        cached?.close();
        const client = new NodeClient(address, { cluster: this.options.cluster, expectedNodeId: nodeId });
        this.clients.set(nodeId, client);
        return client;
    }

    /** Exchanges member lists with every other member (and tells removed ones, once, that they were removed). */
    async syncAll(): Promise<void> {
        if (this.disposed) return;
        const targets = this.members.entries().filter((e) => e.nodeId !== this.nodeId && (!e.removed || e.changedAtMs > Date.now() - 60000));
        await Promise.all(targets.map(async (e) => {
            // A removed node is told with a client of its own (the cached one was closed when it was removed).
            const address = this.addressOf(e.nodeId);
            const client = !e.removed ? this.clientOf(e.nodeId)
                : address == null ? null : new NodeClient(address, { cluster: this.options.cluster, expectedNodeId: e.nodeId });
            if (client == null) return;
            try {
                const theirs = await client.syncMembers(this.members.entries(), 5000);
                if (!e.removed) this.members.merge(theirs);
            } catch {
                // Unreachable now: the next round tries again.
            } finally {
                if (e.removed) client.close();
            }
        }));
    }

    /** Asks every member for its inventory; one that answers is reachable, one that fails is not. Times a small call to each (the link's latency) and measures one stale link's bandwidth. */
    async refreshPeers(): Promise<void> {
        const answered: string[] = [];
        await Promise.all(this.members.list().filter((m) => m.nodeId !== this.nodeId).map(async (m) => {
            const client = this.clientOf(m.nodeId);
            if (client == null) return;
            try {
                const info = await client.getInfo(3000);
                if (this.disposed) return;
                // Three round trips each time: the median of the latest few leaves out a slow one (a busy moment, a reconnect).
                for (let i = 0; i < 3; i++) {
                    const t0 = performance.now();
                    await client.probe(new Uint8Array(0), 3000);
                    this.linkMeter.addRoundTrip(m.nodeId, performance.now() - t0, Date.now());
                }
                answered.push(m.nodeId);
                this.infos.set(m.nodeId, { info, atMs: Date.now() });
                this.view.emit({ type: "reachable", nodeId: m.nodeId, ok: true, atMs: Date.now(), address: client.address, link: this.linkMeter.linkTo(m.nodeId) });
                const inventory = info.inventoryJson === "" ? null : JSON.parse(info.inventoryJson) as MachineInventory;
                this.view.emit({ type: "inventory", nodeId: m.nodeId, inventory });
            } catch {
                this.infos.delete(m.nodeId);
                if (!this.disposed) this.view.emit({ type: "reachable", nodeId: m.nodeId, ok: false, atMs: Date.now() });
            }
        }));
        this.showModel();
        // One bandwidth measurement at a time (measured together, links would share the machine's uplink).
        const stale = answered.find((id) => this.linkMeter.needsBandwidth(id, Date.now()));
        if (stale != null && !this.measuringBandwidth && !this.disposed) {
            this.measuringBandwidth = true;
            try { await this.measureBandwidth(stale); } finally { this.measuringBandwidth = false; }
        }
    }

    /** Times a 1 MiB payload against an empty one to `nodeId` (the best of three each). */
    private async measureBandwidth(nodeId: string): Promise<void> {
        const client = this.clientOf(nodeId);
        if (client == null) return;
        const payload = new Uint8Array(PROBE_BYTES);
        const best = async (bytes: Uint8Array) => {
            let min = Infinity;
            for (let i = 0; i < 3; i++) {
                const t0 = performance.now();
                await client.probe(bytes, 10000);
                min = Math.min(min, performance.now() - t0);
            }
            return min;
        };
        try {
            const small = await best(new Uint8Array(0));
            const large = await best(payload);
            this.linkMeter.setBandwidth(nodeId, bandwidthFromTimes(PROBE_BYTES, large, small), Date.now());
            if (!this.disposed) this.view.emit({ type: "reachable", nodeId, ok: true, atMs: Date.now(), address: client.address, link: this.linkMeter.linkTo(nodeId) });
        } catch {
            // Unreachable now: the next round tries again.
        }
    }

    /** The model this node hosts changed (or it stopped hosting one). */
    ownModelChanged(model: HostedModelWire | null): void {
        this.ownModel = model;
        this.showModel();
    }

    /** Shows the cluster's model in the view: this node's, else the one a member that answers hosts. */
    private showModel(): void {
        if (this.disposed) return;
        const host = this.modelHost();
        const wire = this.ownModel ?? (host == null ? null : (this.infos.get(host.nodeId)?.info.hostedModel as HostedModelWire | null | undefined) ?? null);
        const json = JSON.stringify(wire);
        if (json === this.shownModel) return;
        this.shownModel = json;
        this.view.emit({ type: "model", model: clusterModelFromWire(wire) });
    }

    /** This node's measured links to the members (NodeInfo.links). */
    links(): LinkFigures[] {
        return this.linkMeter.links().filter((l) => this.members.isMember(l.nodeId));
    }

    /** The members that answer now (this node first), with where to reach them: where a model's stages can go. */
    liveMembers(): Array<{ nodeId: string; name: string; address: string }> {
        const others = this.members.list()
            .filter((m) => m.nodeId !== this.nodeId && this.infos.has(m.nodeId))
            .map((m) => ({ nodeId: m.nodeId, name: this.infos.get(m.nodeId)!.info.name || m.name, address: this.addressOf(m.nodeId) }))
            .filter((m): m is { nodeId: string; name: string; address: string } => m.address != null)
            .sort((a, b) => a.name.localeCompare(b.name));
        return [{ nodeId: this.nodeId, name: this.options.name, address: this.address }, ...others];
    }

    /** A member's last GetInfo answer, or null when it has not answered lately. */
    infoOf(nodeId: string): NodeInfo__Output | null { return this.infos.get(nodeId)?.info ?? null; }

    /** The member that hosts the cluster's model (from the members' last answers), or null. */
    modelHost(): { nodeId: string; client: NodeClient } | null {
        for (const [nodeId, { info }] of this.infos) {
            if (info.hostedModel == null || info.hostedModel.hostNodeId !== nodeId || !this.members.isMember(nodeId)) continue;
            const client = this.clientOf(nodeId);
            if (client != null) return { nodeId, client };
        }
        return null;
    }

    // ---- handlers (Node service; the caller is a member, checked by the interceptor) ---------

    syncMembers(entries: MemberEntry[]): MemberEntry[] {
        try {
            this.members.merge(entries);
        } catch (e) {
            throw new NodeError(grpc.status.INVALID_ARGUMENT, (e as Error).message);
        }
        return this.members.entries();
    }

    removeMember(callerNodeId: string, nodeId: string): MemberEntry[] {
        const entry = this.members.get(nodeId);
        if (entry == null || entry.removed) throw new NodeError(grpc.status.NOT_FOUND, `node ${nodeId} is not a member of this cluster`);
        this.options.log(`node '${this.members.get(callerNodeId)?.name ?? callerNodeId}' removes '${entry.name}' from the cluster`);
        this.members.revoke(nodeId);
        return this.members.entries();
    }

    /** Whether this node holds the cluster's CA (it can sign joining machines' certificates). */
    get holdsAuthority(): boolean { return this.options.cluster.authority != null; }

    /**
     * A join code. The CA holder makes it (for itself or for any member asking); any other node,
     * asked by itself, asks a member that holds the CA, and the joiner joins through that member.
     */
    async createInvite(callerNodeId: string): Promise<{ invite: CreatedInvite | { code: string; expiresAt: number; id: string }; joinAddress: string; inviterName: string }> {
        if (this.holdsAuthority) {
            this.wrongCodes = 0;
            return { invite: this.invites.create(), joinAddress: this.address, inviterName: this.options.name };
        }
        if (callerNodeId !== this.nodeId) throw new NodeError(grpc.status.FAILED_PRECONDITION, `'${this.options.name}' does not hold the cluster's keys; ask the machine that created the cluster`);
        const caName = certificateInfo(this.options.cluster.membership.caCertificatePem).name;
        const tried: string[] = [];
        for (const member of this.members.list()) {
            if (member.nodeId === this.nodeId) continue;
            const client = this.clientOf(member.nodeId);
            if (client == null) continue;
            try {
                const info = await client.getInfo(3000);
                if (!info.capabilities.includes(CLUSTER_CA_CAPABILITY)) continue;
                const reply = await client.createInvite(10000);
                return { invite: { code: reply.code, expiresAt: reply.expiresAtMs, id: reply.inviteId }, joinAddress: reply.joinAddress, inviterName: reply.inviterName };
            } catch (e) {
                tried.push(`${member.name}: ${(e as Error).message.slice(0, 120)}`);
            }
        }
        throw new NodeError(grpc.status.FAILED_PRECONDITION, `only the machine that created the cluster ('${caName}') can add machines, and no member holding its keys answered` +
            `${tried.length > 0 ? ` (${tried.join("; ")})` : ""}: start that machine, then try again`);
    }

    // ---- Admission (open to any machine) ------------------------------------------------------

    hello() {
        return { nodeId: this.nodeId, name: this.options.name, version: HEARTH_VERSION, protocol: PROTOCOL_VERSION, clusterId: this.clusterId };
    }

    /** The join handshake on one stream: challenge, request, accept (or a refusal status). */
    joinCluster(call: grpc.ServerDuplexStream<JoinMessage__Output, JoinMessage>): void {
        const challenge = createJoinChallenge({ clusterId: this.clusterId, nodeId: this.nodeId, name: this.options.name });
        let done = false;
        const refuse = (code: grpc.status, details: string, reason?: string) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            const metadata = new grpc.Metadata();
            if (reason != null) metadata.set(JOIN_REFUSAL_METADATA, reason);
            call.emit("error", { code, details, metadata });
        };
        const timer = setTimeout(() => refuse(grpc.status.DEADLINE_EXCEEDED, "no join request arrived in time; start the join again"), JOIN_REQUEST_TIMEOUT_MS);
        timer.unref();
        call.on("error", () => { done = true; clearTimeout(timer); });
        call.on("cancelled", () => { done = true; clearTimeout(timer); });
        call.on("end", () => refuse(grpc.status.INVALID_ARGUMENT, "the join ended before its request"));
        call.write({ challenge });
        call.once("data", (message: JoinMessage__Output | unknown) => {
            const r = (message as JoinMessage__Output)?.request;
            if (r == null) { refuse(grpc.status.INVALID_ARGUMENT, "the first message of a join must be its request"); return; }
            const request: JoinRequest = { protocol: r.protocol, name: r.name, nodeId: r.nodeId, publicKeyPem: r.publicKeyPem, joinerNonce: r.joinerNonce, proof: r.proof };
            if (this.options.cluster.authority == null) {
                refuse(grpc.status.PERMISSION_DENIED, `'${this.options.name}' makes no join codes itself (it does not hold the cluster's keys); ` +
                    "join through the address 'hearth invite' printed with the code: 'hearth join CODE --peer ADDRESS'", "wrongCode");
                return;
            }
            if (this.members.isMember(request.nodeId)) {
                // A code admits a new machine; it never hands over the id (and the pipelines) of one already in.
                refuse(grpc.status.INVALID_ARGUMENT, `join request refused: node ${String(request.nodeId).slice(0, 32)} is already a member of this cluster; ` +
                    "a machine that is already in needs no code (if it was reinstalled, remove the old one with 'hearth remove' first)", "badRequest");
                return;
            }
            this.view.emit({ type: "joining", nodeId: /^[0-9a-f]{32}$/.test(request.nodeId) ? request.nodeId : "", name: String(request.name).slice(0, 64), address: call.getPeer() });
            answerJoinRequest({ challenge, request, book: this.invites, ca: this.options.cluster.authority, members: this.members.list() }).then(({ accept, member }) => {
                if (done) return;
                this.members.add(member);
                this.view.emit({ type: "joined", nodeId: member.nodeId });
                this.options.log(`'${member.name}' joined the cluster`);
                done = true;
                clearTimeout(timer);
                call.write({ accept: { ...accept, members: accept.members.map((m) => ({ nodeId: m.nodeId, name: m.name, address: this.members.get(m.nodeId)?.address ?? "", removed: false, changedAtMs: 0 })) } });
                call.end();
            }, (e: unknown) => {
                if (/^[0-9a-f]{32}$/.test(request.nodeId)) this.view.emit({ type: "joinFailed", nodeId: request.nodeId });
                if (e instanceof JoinRefusedError) {
                    if (e.reason === "wrongCode" && ++this.wrongCodes >= MAX_WRONG_CODES) {
                        for (const invite of this.invites.list()) this.invites.expire(invite.id);
                        this.options.log(`${MAX_WRONG_CODES} wrong join codes in a row: every open code was cancelled`);
                    }
                    refuse(e.reason === "badRequest" ? grpc.status.INVALID_ARGUMENT : grpc.status.PERMISSION_DENIED, e.message, e.reason);
                } else {
                    refuse(grpc.status.INTERNAL, `the join failed on '${this.options.name}': ${(e as Error).message}`);
                }
            });
        });
    }

    /** Adds a machine by address (where multicast is blocked). */
    async addByAddress(address: string): Promise<void> {
        if (this.discovery == null) throw new NodeError(grpc.status.FAILED_PRECONDITION, "discovery is off on this node (--no-discovery)");
        try {
            await this.discovery.addByAddress(address);
        } catch (e) {
            throw new NodeError(grpc.status.FAILED_PRECONDITION, (e as Error).message);
        }
    }

    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        for (const t of this.timers) clearInterval(t);
        if (this.pushTimer != null) clearTimeout(this.pushTimer);
        for (const u of this.unsubscribe) u();
        for (const c of this.clients.values()) c.close();
        this.clients.clear();
        await this.discovery?.dispose();
    }
}

