// "host:port" as a user types it ("192.168.1.20:7420", "mac-mini.local:7420", "[fe80::1]:7420"),
// parsed with a message that says what to type instead (pure).

export interface HostPort { host: string; port: number }

export function parseHostPort(text: string): HostPort {
    const trimmed = text.trim();
    const match = /^\[([0-9A-Fa-f:.%\w-]+)\]:(\d{1,5})$/.exec(trimmed) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(trimmed);
    const port = match ? Number(match[2]) : NaN;
    if (!match || !match[1] || !Number.isInteger(port) || port < 1 || port > 65535)
        throw new Error(`'${text}' is not an address: type the other machine's host and Hearth port, as shown on it, e.g. 192.168.1.20:7420`);
    return { host: match[1], port };
}

export function formatHostPort({ host, port }: HostPort): string {
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
