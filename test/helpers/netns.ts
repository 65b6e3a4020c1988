// A private LAN for tests: a Linux bridge and network namespaces joined to it by veth pairs, with
// addresses in 10.253.77.0/24 and multicast on. The bridge has no address, so nothing here can
// reach the host's networks (and parallel runs, each on its own bridge, cannot see each other).
// Names are unique per run; dispose() removes everything, and so does process exit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";

/** The test range; nothing is ever sent outside it (and the mDNS group 224.0.0.251 on these links). */
export const TEST_SUBNET = "10.253.77";

export interface NetnsLanOptions {
    /** how many namespaces. Defaults to 3 */
    count?: number;
}

export interface LanHost {
    namespace: string;
    /** its IPv4 address on the test LAN */
    address: string;
}

/** Why network namespaces cannot be used here, or null when they can. */
export function netnsUnavailableReason(): string | null {
    if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
    if (typeof process.getuid === "function" && process.getuid() !== 0) return "network namespaces need root (run the tests as root)";
    return null;
}

/** Fails with what to install when `ip` (iproute2) is missing; on Linux as root that is an error, never a skip. */
export function assertIpAvailable(): void {
    try {
        execFileSync("ip", ["-V"], { stdio: "pipe" });
    } catch {
        throw new Error("the discovery test needs the `ip` command: install iproute2 (apt-get install -y iproute2)");
    }
}

export class NetnsLan {
    readonly hosts: LanHost[] = [];
    private readonly bridge: string;
    private readonly tag: string;
    private readonly children = new Set<ChildProcess>();
    private disposedFlag = false;
    private readonly onExit = () => this.dispose();

    private constructor(count: number) {
        this.tag = crypto.randomBytes(3).toString("hex");
        this.bridge = `hbr${this.tag}`;
        if (count < 1 || count > 200) throw new Error(`a test LAN holds 1–200 hosts, not ${count}`);
        for (let i = 0; i < count; i++) this.hosts.push({ namespace: `hearth-${this.tag}-${i}`, address: `${TEST_SUBNET}.${10 + i}` });
    }

    /** Builds the bridge and the namespaces; on any failure removes what was made and throws. */
    static create(options: NetnsLanOptions = {}): NetnsLan {
        const lan = new NetnsLan(options.count ?? 3);
        process.once("exit", lan.onExit);
        try {
            lan.build();
        } catch (error) {
            lan.dispose();
            throw error;
        }
        return lan;
    }

    get disposed(): boolean { return this.disposedFlag; }

    /** Runs `command args` inside host `index`'s namespace; the process is killed by dispose(). */
    spawn(index: number, command: string, args: string[]): ChildProcess {
        const host = this.host(index);
        const child = spawn("ip", ["netns", "exec", host.namespace, command, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        this.children.add(child);
        child.once("exit", () => this.children.delete(child));
        return child;
    }

    host(index: number): LanHost {
        const host = this.hosts[index];
        if (!host) throw new Error(`no host ${index} on this test LAN`);
        return host;
    }

    /** Kills what runs in the namespaces, deletes them and the bridge (each step even when one fails). */
    dispose(): void {
        if (this.disposedFlag) return;
        this.disposedFlag = true;
        process.removeListener("exit", this.onExit);
        for (const child of this.children) child.kill("SIGKILL");
        for (const host of this.hosts) {
            for (const pid of quiet(["netns", "pids", host.namespace]).split(/\s+/).filter(Boolean)) {
                try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone already */ }
            }
            quiet(["netns", "del", host.namespace]);
        }
        quiet(["link", "del", this.bridge]);
    }

    private build(): void {
        ip(["link", "add", "name", this.bridge, "type", "bridge", "mcast_snooping", "0"]);
        ip(["link", "set", this.bridge, "up"]);
        this.hosts.forEach((host, i) => {
            const outside = `hv${this.tag}${i}`;
            const inside = `hp${this.tag}${i}`;
            ip(["netns", "add", host.namespace]);
            ip(["link", "add", outside, "type", "veth", "peer", "name", inside]);
            ip(["link", "set", inside, "netns", host.namespace]);
            ip(["link", "set", outside, "master", this.bridge]);
            ip(["link", "set", outside, "up"]);
            ip(["-n", host.namespace, "link", "set", "lo", "up"]);
            ip(["-n", host.namespace, "link", "set", inside, "name", "eth0"]);
            ip(["-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
            ip(["-n", host.namespace, "link", "set", "eth0", "multicast", "on", "up"]);
            // Multicast leaves by eth0 even for a socket that names no interface (there is no default route).
            ip(["-n", host.namespace, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
        });
    }
}

/** Whether any leftover namespace of this helper exists (for a test that checks its cleanup). */
export function namespaceExists(name: string): boolean {
    return fs.existsSync(`/run/netns/${name}`);
}

function ip(args: string[]): void {
    try {
        execFileSync("ip", args, { stdio: "pipe" });
    } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error);
        throw new Error(`ip ${args.join(" ")} failed: ${stderr}`);
    }
}

function quiet(args: string[]): string {
    try {
        return execFileSync("ip", args, { stdio: "pipe" }).toString();
    } catch {
        return "";
    }
}
