// A TCP proxy on 127.0.0.1 whose connections a test can cut, as a Wi-Fi drop would.
import net from "node:net";

export interface TcpProxy { address: string; cut(): void; close(): Promise<void>; connections: number }

export async function startProxy(target: string): Promise<TcpProxy> {
    const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
    const sockets = new Set<net.Socket>();
    let connections = 0;
    const server = net.createServer((client) => {
        connections++;
        const upstream = net.connect(port, host);
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
        client.on("error", drop);
        upstream.on("error", drop);
        client.on("close", drop);
        upstream.on("close", drop);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    return {
        address,
        get connections() { return connections; },
        cut() { for (const s of sockets) s.destroy(); sockets.clear(); },
        close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); })
    };
}
