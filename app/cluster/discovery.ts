// LAN discovery: this node advertises itself as a `_hearth._tcp` DNS-SD service (bonjour-service
// over multicast-dns) and keeps a live list of the other Hearth machines it hears, relative to
// its own cluster id. A machine that goes silent is marked lost, and comes back by itself when
// it is heard again; machines on networks that block multicast can be added by address.
//
// bonjour-service's browser reports a service once and never expires it (its TTLs are hours),
// so liveness is ours: every `browseIntervalMs` a fresh browser asks the LAN again, every answer
// is a sighting, and a periodic sweep marks lost whoever has not answered for `lostAfterMs`.
import { Bonjour, type Browser, type Service } from "bonjour-service";
import { EventHub } from "../util/event-hub.ts";
import {
    applyDiscoveryEvent, eventForGoodbye, eventForSighting, initialDiscoveryState, silentNodeIds,
    type DiscoveredInfo, type DiscoveredMachine, type DiscoveryEvent, type DiscoveryState
} from "./discovery-state.ts";
import { HEARTH_SERVICE_TYPE, discoveryTxt, isValidNodeId, parseDiscoveryTxt } from "./discovery-record.ts";
import { formatHostPort, parseHostPort } from "./host-port.ts";

export interface DiscoveryOptions {
    /** this node's id: stable, unique in the home, 1–48 of A–Z a–z 0–9 _ - */
    nodeId: string;
    /** shown to the other machines */
    name: string;
    /** this node's gRPC port */
    port: number;
    /** whether to advertise this node (false: only browse, as a machine that is joining does). Defaults to true */
    advertise?: boolean;
    /** the cluster this node is a member of, or null for none */
    clusterId: string | null;
    /** this node's Hearth version */
    version: string;
    /** this node's wire protocol version */
    protocol: number;
    /**
     * the IPv4 address of the one LAN interface to listen, send and advertise on ("127.0.0.1" for
     * tests on one machine). Defaults to every interface, which on a machine with several (VPN,
     * Docker, Wi-Fi and Ethernet) advertises addresses that others cannot reach: pin it where you can
     */
    interfaceAddress?: string;
    /** a machine not heard from for this long is marked lost. Defaults to 10000 ms */
    lostAfterMs?: number;
    /** how often the LAN is asked again (and manual entries probed again); at most half of `lostAfterMs`. Defaults to 3000 ms */
    browseIntervalMs?: number;
    /** asks the Hearth node at "host:port" who it is; used by `addByAddress`. Defaults to none: a manual entry then knows only its address */
    probe?: (address: string) => Promise<DiscoveredInfo>;
    /** where problems are written. Defaults to nowhere (they are in `events` too) */
    log?: (line: string) => void;
}

const DEFAULTS = { lostAfterMs: 10000, browseIntervalMs: 3000 } as const;

/** The parts of bonjour-service's internals that Discovery needs and its types do not export. */
interface BonjourInternals { server?: { mdns?: { on(event: "error" | "warning", listener: (error: Error) => void): void } } }

/** The socket calls whose failure means the pinned interface is not usable (other warnings are stray packets). */
const INTERFACE_SYSCALLS = new Set(["addMembership", "setMulticastInterface"]);

export class Discovery {
    readonly events: EventHub<DiscoveryState, DiscoveryEvent>;
    private readonly bonjour: Bonjour;
    private readonly lostAfterMs: number;
    private readonly browseIntervalMs: number;
    private readonly sweepMs: number;
    private clusterId: string | null;
    private service: Service | null = null;
    private browser: Browser | null = null;
    private generation = 0;
    private readonly manualAddresses = new Set<string>();
    private readonly probing = new Set<string>();
    private readonly timers: NodeJS.Timeout[] = [];
    private disposedFlag = false;

    private constructor(private readonly options: DiscoveryOptions) {
        if (!isValidNodeId(options.nodeId)) throw new Error(`node id '${options.nodeId}' cannot be advertised: use 1–48 letters, digits, '_' or '-'`);
        if (options.advertise !== false && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) throw new Error(`port ${options.port} cannot be advertised: start the node first and pass the port it listens on`);
        this.lostAfterMs = options.lostAfterMs ?? DEFAULTS.lostAfterMs;
        this.browseIntervalMs = options.browseIntervalMs ?? DEFAULTS.browseIntervalMs;
        if (!(this.browseIntervalMs > 0 && this.browseIntervalMs * 2 <= this.lostAfterMs))
            throw new Error(`browseIntervalMs (${this.browseIntervalMs}) must be positive and at most half of lostAfterMs (${this.lostAfterMs}), or every machine would flicker lost`);
        this.sweepMs = Math.max(50, Math.min(1000, Math.floor(this.lostAfterMs / 10)));
        this.clusterId = options.clusterId;
        this.events = new EventHub(initialDiscoveryState(options.clusterId), applyDiscoveryEvent);
        const pinned = options.interfaceAddress;
        // Pinned: join the multicast group and send on that interface only, but bind the wildcard
        // address, since a socket bound to a unicast address never receives multicast on Linux.
        this.bonjour = new Bonjour(pinned ? { interface: pinned, bind: "0.0.0.0" } as object : {}, (error: Error) => this.problem(error));
        const mdns = (this.bonjour as unknown as BonjourInternals).server?.mdns;
        mdns?.on("error", (error) => this.problem(error));
        mdns?.on("warning", (error) => { if (INTERFACE_SYSCALLS.has((error as NodeJS.ErrnoException).syscall ?? "")) this.problem(error); });
    }

    /** Starts advertising this node and browsing for the others. */
    static start(options: DiscoveryOptions): Discovery {
        const discovery = new Discovery(options);
        if (options.advertise !== false) discovery.publish();
        discovery.browse();
        discovery.timers.push(setInterval(() => discovery.browse(), discovery.browseIntervalMs));
        discovery.timers.push(setInterval(() => discovery.sweep(), discovery.sweepMs));
        return discovery;
    }

    get disposed(): boolean { return this.disposedFlag; }

    /** The machines seen so far (this node is never in it). */
    get machines(): DiscoveredMachine[] { return this.events.state.machines; }

    /** Joins (or leaves, with null) a cluster: relations follow at once, and this node is re-advertised with it. */
    setClusterId(clusterId: string | null): void {
        this.assertLive();
        if (clusterId === this.clusterId) return;
        this.clusterId = clusterId;
        this.events.emit({ type: "clusterChanged", clusterId });
        if (this.options.advertise !== false) this.publish();
    }

    /**
     * Adds a machine by "host:port", for networks that block multicast. With a `probe` it is asked
     * who it is (and asked again every browse interval, so it can go lost and come back); without
     * one it is listed by its address alone and stays until this Discovery is disposed.
     */
    async addByAddress(address: string): Promise<DiscoveredMachine> {
        this.assertLive();
        const hostPort = parseHostPort(address);
        const normalized = formatHostPort(hostPort);
        const probe = this.options.probe;
        let info: DiscoveredInfo;
        if (probe) {
            try {
                info = await probe(normalized);
            } catch (error) {
                throw new Error(`could not reach Hearth at ${normalized} (${errorMessage(error)}): check that Hearth runs there, that the address and port are the ones it shows, and that its firewall lets this port in`);
            }
            if (!isValidNodeId(info.nodeId)) throw new Error(`${normalized} answered with a node id that is not valid ('${info.nodeId}'): is it a Hearth node of a compatible version?`);
        } else {
            info = { nodeId: `manual-${normalized.replace(/[^A-Za-z0-9]+/g, "-")}`, name: normalized, addresses: [hostPort.host], port: hostPort.port, version: "", protocol: 0, clusterId: null };
        }
        if (this.disposedFlag) throw new Error("discovery was stopped while the machine was being added");
        if (info.nodeId === this.options.nodeId) throw new Error(`${normalized} is this machine itself: type the address of another machine`);
        this.manualAddresses.add(normalized);
        const addresses = info.addresses.includes(hostPort.host) ? info.addresses : [hostPort.host, ...info.addresses];
        this.sighted({ ...info, addresses }, "manual", "");
        const machine = this.machines.find((m) => m.nodeId === info.nodeId);
        if (!machine) throw new Error(`internal: ${normalized} was added but is not listed`);
        return machine;
    }

    /** Stops browsing and unpublishes this node (goodbye packets, so the others drop it at once). */
    async dispose(): Promise<void> {
        if (this.disposedFlag) return;
        this.disposedFlag = true;
        for (const timer of this.timers) clearInterval(timer);
        this.stopBrowser(this.browser);
        this.browser = null;
        await withTimeout(new Promise<void>((resolve) => this.bonjour.unpublishAll(() => resolve())), 2000);
        await withTimeout(new Promise<void>((resolve) => this.bonjour.destroy(() => resolve())), 2000);
    }

    /** Advertises this node; a re-advertisement is a new instance, and the old one says goodbye once the new one is out. */
    private publish(): void {
        const { nodeId, name, port, version, protocol, interfaceAddress } = this.options;
        this.generation += 1;
        const previous = this.service;
        const service = this.bonjour.publish({
            name: `hearth-${nodeId}-${this.generation}`,
            type: HEARTH_SERVICE_TYPE,
            protocol: "tcp",
            port,
            // Our own host name: the machine's may be taken by its OS's responder, or shared by several nodes.
            host: `hearth-${nodeId}.local`,
            txt: discoveryTxt({ nodeId, name, port, version, protocol, clusterId: this.clusterId }),
            disableIPv6: interfaceAddress !== undefined
        });
        if (interfaceAddress !== undefined) {
            // Advertise the pinned interface's address only, never the VPN's or Docker's.
            const records = service.records.bind(service);
            service.records = () => records().filter((record) => record.type !== "A" || record.data === interfaceAddress);
        }
        this.service = service;
        if (previous) service.once("up", () => { previous.stop?.(); });
    }

    /** Asks the LAN again with a fresh browser (an old one never reports a machine twice), and probes the manual entries. */
    private browse(): void {
        if (this.disposedFlag) return;
        const previous = this.browser;
        const browser = this.bonjour.find({ type: HEARTH_SERVICE_TYPE, protocol: "tcp" });
        const onService = (service: Service) => this.onService(service);
        browser.on("up", onService);
        browser.on("txt-update", onService);
        browser.on("srv-update", onService);
        browser.on("down", (service) => this.onGoodbye(service));
        this.browser = browser;
        this.stopBrowser(previous);
        for (const address of this.manualAddresses) void this.reprobe(address);
    }

    private async reprobe(address: string): Promise<void> {
        const probe = this.options.probe;
        if (!probe || this.probing.has(address)) return;
        this.probing.add(address);
        try {
            const info = await probe(address);
            const host = parseHostPort(address).host;
            if (!this.disposedFlag && isValidNodeId(info.nodeId) && info.nodeId !== this.options.nodeId)
                this.sighted({ ...info, addresses: info.addresses.includes(host) ? info.addresses : [host, ...info.addresses] }, "manual", "");
        } catch {
            // Silence: the sweep marks it lost in time.
        } finally {
            this.probing.delete(address);
        }
    }

    private onService(service: Service): void {
        if (this.disposedFlag) return;
        const addresses = [service.referer?.address, ...(service.addresses ?? [])]
            .filter((address): address is string => typeof address === "string" && address !== "" && !address.toLowerCase().startsWith("fe80:"));
        const info = parseDiscoveryTxt(service.txt, addresses);
        if (!info || info.nodeId === this.options.nodeId) return;
        if (this.events.state.problem !== null) this.events.emit({ type: "problem", message: null });
        this.sighted(info, "mdns", service.name);
    }

    private onGoodbye(service: Service): void {
        if (this.disposedFlag) return;
        const info = parseDiscoveryTxt(service.txt, []);
        if (!info) return;
        const event = eventForGoodbye(this.events.state, info.nodeId, service.name, Date.now());
        if (event) this.events.emit(event);
    }

    private sighted(info: DiscoveredInfo, source: "mdns" | "manual", instanceName: string): void {
        this.events.emit(eventForSighting(this.events.state, { info, atMs: Date.now(), source, instanceName }));
    }

    private sweep(): void {
        if (this.disposedFlag) return;
        const now = Date.now();
        for (const nodeId of silentNodeIds(this.events.state, now, this.lostAfterMs, this.sweepMs, this.options.probe !== undefined))
            this.events.emit({ type: "lost", nodeId, reason: "silent", atMs: now });
    }

    private problem(error: Error): void {
        const code = (error as NodeJS.ErrnoException).code ?? "";
        const syscall = (error as NodeJS.ErrnoException).syscall ?? "";
        const pinned = this.options.interfaceAddress;
        const message = code === "EADDRINUSE" || code === "EACCES"
            ? `LAN discovery could not open the mDNS port (UDP 5353: ${error.message}); other machines will not see this one: quit the program that holds the port, or add machines by address`
            : INTERFACE_SYSCALLS.has(syscall) && pinned !== undefined
            ? `LAN discovery cannot use the interface ${pinned} (${error.message}): choose the address this machine has on the home network`
            : `LAN discovery could not send or receive (${error.message}): check that this machine is on the home network (and, with a pinned interface, that its address is right), or add machines by address`;
        if (this.events.state.problem === message) return;
        this.options.log?.(message);
        this.events.emit({ type: "problem", message });
    }

    private stopBrowser(browser: Browser | null): void {
        if (!browser) return;
        browser.stop();
        browser.removeAllListeners();
    }

    private assertLive(): void {
        if (this.disposedFlag) throw new Error("this discovery was stopped: start a new one");
    }
}

function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        timer.unref();
        void promise.then(() => { clearTimeout(timer); resolve(); });
    });
}
