// Electron main: a thin shell. One instance per data folder; the window (hearth://app/, served
// out of renderer/dist with a strict CSP, no navigation away, no permissions, sandboxed preload);
// the tray and menus; and the node, which runs in a utility process (worker.ts) under a
// supervisor that restarts it when it stops unexpectedly. Main hands each page a MessagePort
// whose other end is in the worker, so the UI contract (and every token) goes from the worker to
// the page without passing through here. Bundled to main/dist/main.cjs by scripts/build-main.mjs.
import {
    app, BrowserWindow, dialog, ipcMain, Menu, MessageChannelMain, nativeImage, protocol, session, shell, Tray, utilityProcess,
    type IpcMainEvent, type IpcMainInvokeEvent, type MenuItemConstructorOptions, type MessagePortMain, type NativeImage, type WebContents
} from "electron";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AppState } from "../app/ui-api/contract.ts";
import {
    APP_CSP, APP_ENTRY_URL, APP_SCHEME, contentTypeOf, isAppUrl, isTrustedIpcSender, navigationDecision, permissionAllowed,
    resolveAppFile, windowOpenDecision, withCsp
} from "./security-policy.ts";
import { NodeSupervisor, type NodeStatus } from "./supervisor.ts";
import { EMBER, TEMPLATE_BLACK, trayIconPng } from "./tray-icon.ts";
import { IPC, portFromEnv, workerArgv, type NodeDown } from "./worker-protocol.ts";

const isMac = process.platform === "darwin";
const isDev = !app.isPackaged;

// ---- before ready: where the data lives, one instance, the app's scheme -------------------------

// $HEARTH_DATA_DIR (tests, several instances on one machine) puts everything in that folder;
// otherwise it is the OS's place for app data, named "Hearth" in dev and packaged builds alike.
const dataDirOverride = process.env.HEARTH_DATA_DIR;
app.setName("Hearth");
app.setPath("userData", dataDirOverride != null && dataDirOverride !== "" ? path.resolve(dataDirOverride) : path.join(app.getPath("appData"), "Hearth"));

protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }
]);

if (!app.requestSingleInstanceLock()) {
    // Another Hearth runs on this data folder: it shows its window (second-instance) and this one ends.
    app.quit();
} else {
    run();
}

function run(): void {
    const dataDir = app.getPath("userData");
    fs.mkdirSync(dataDir, { recursive: true });
    const appRoot = app.getAppPath();
    const rendererDir = path.join(appRoot, "renderer", "dist");
    const preloadPath = path.join(appRoot, "main", "dist", "preload.cjs");
    const workerPath = path.join(appRoot, "main", "dist", "worker.js");
    const nodeName = process.env.HEARTH_NAME != null && process.env.HEARTH_NAME !== "" ? process.env.HEARTH_NAME : undefined;
    let nodePort: number | undefined;
    try {
        nodePort = portFromEnv(process.env.HEARTH_PORT);
    } catch (e) {
        console.error(`hearth: ${(e as Error).message}; using the default port`);
    }

    const logs = openNodeLog(path.join(dataDir, "logs"));
    const say = (line: string): void => logs.line(`[main] ${line}`);

    let mainWindow: BrowserWindow | null = null;
    let tray: Tray | null = null;
    let quitting = false;
    let nodeStopped = false;
    let stopRequested = false;

    // ---- the node --------------------------------------------------------------------------------

    const supervisor = new NodeSupervisor<MessagePortMain>({
        spawn: (events) => {
            const env: Record<string, string> = {};
            for (const [k, v] of Object.entries(process.env)) if (v != null) env[k] = v;
            env.HEARTH_DATA_DIR = dataDir;
            delete env.ELECTRON_RUN_AS_NODE;
            const child = utilityProcess.fork(workerPath, workerArgv({ dataDir, ...(nodeName != null ? { name: nodeName } : {}), ...(nodePort != null ? { port: nodePort } : {}) }), {
                serviceName: "Hearth node",
                stdio: "pipe",
                env
            });
            child.stdout?.on("data", (chunk: Buffer) => logs.write(chunk, "out"));
            child.stderr?.on("data", (chunk: Buffer) => logs.write(chunk, "err"));
            child.on("spawn", () => say(`the node started (pid ${child.pid ?? "?"})`));
            child.on("message", (message: unknown) => events.message(message));
            child.on("error", (type, location) => say(`the node hit a fatal error (${type}) at ${location}`));
            child.on("exit", (code) => {
                say(`the node exited (code ${code})`);
                events.exit(code);
            });
            return {
                postMessage: (message, transfer) => {
                    if (transfer != null && transfer.length > 0) child.postMessage(message, transfer);
                    else child.postMessage(message);
                },
                kill: () => { child.kill(); }
            };
        },
        onStatus: (status) => nodeStatusChanged(status),
        giveUpHint: `The node's log is ${logs.file}.`,
        log: say
    });

    // ---- pages and their ports -------------------------------------------------------------------

    let nextConnectionId = 1;
    /** the pages that asked for a port, and the connection each has now (null while the node is down) */
    const pages = new Map<WebContents, number | null>();

    function fallbackApp(status: NodeDown["phase"], message: string): AppState {
        return {
            phase: status, version: app.getVersion(), nodeName: nodeName ?? os.hostname(), nodeId: null, clusterId: null, address: null, message, shell: "desktop",
            api: { enabled: false, url: null, error: "" }
        };
    }

    function nodeDown(status: NodeStatus): NodeDown {
        switch (status.phase) {
            case "starting": return { phase: "starting", message: status.message, gaveUp: false, fallback: fallbackApp("starting", status.message) };
            case "failed": return { phase: "failed", message: status.message, gaveUp: status.gaveUp, fallback: fallbackApp("failed", status.message) };
            default: {
                const message = quitting ? "Hearth is quitting…" : "this machine's node is not running";
                return { phase: "failed", message, gaveUp: true, fallback: fallbackApp("failed", message) };
            }
        }
    }

    /** Gives `page` a fresh port to the node (its old connection, if any, is dropped), or tells it the node is down. */
    function connectPage(page: WebContents): void {
        if (page.isDestroyed()) { pages.delete(page); return; }
        const old = pages.get(page);
        if (old != null) supervisor.disconnect(old);
        pages.set(page, null);
        if (supervisor.running) {
            const { port1, port2 } = new MessageChannelMain();
            const connectionId = nextConnectionId++;
            if (supervisor.connect(connectionId, port1)) {
                pages.set(page, connectionId);
                page.postMessage(IPC.port, null, [port2]);
                return;
            }
            port1.close();
            port2.close();
        }
        const status = supervisor.status;
        page.send(IPC.nodeDown, nodeDown(status.phase === "running" ? { phase: "starting", message: "starting this machine's node…" } : status));
    }

    function nodeStatusChanged(status: NodeStatus): void {
        say(status.phase === "running" || status.phase === "stopped" ? `node: ${status.phase}` : `node: ${status.phase}: ${status.message}`);
        for (const page of [...pages.keys()]) {
            if (page.isDestroyed()) { pages.delete(page); continue; }
            if (status.phase === "running") connectPage(page);
            else {
                pages.set(page, null);
                page.send(IPC.nodeDown, nodeDown(status));
            }
        }
        updateTray(status);
    }

    function trusted(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
        const win = mainWindow;
        const frame = event.senderFrame;
        return isTrustedIpcSender({
            isOwnWindow: win != null && !win.isDestroyed() && event.sender === win.webContents,
            isTopFrame: frame != null && frame.parent === null,
            frameUrl: frame?.url
        });
    }

    ipcMain.on(IPC.connect, (event) => {
        if (!trusted(event)) {
            say(`refused a port to a page that is not Hearth's window (${event.senderFrame?.url ?? "no frame"})`);
            return;
        }
        const page = event.sender;
        if (!pages.has(page)) {
            page.once("destroyed", () => {
                const id = pages.get(page);
                if (id != null) supervisor.disconnect(id);
                pages.delete(page);
            });
        }
        connectPage(page);
    });

    ipcMain.handle(IPC.pickModelFile, async (event) => {
        if (!trusted(event)) throw new Error("not allowed");
        const options: Electron.OpenDialogOptions = {
            title: "Open a model",
            buttonLabel: "Open",
            properties: ["openFile"],
            filters: [{ name: "GGUF models", extensions: ["gguf"] }]
        };
        const win = mainWindow;
        const result = win != null && !win.isDestroyed() ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
        if (result.canceled) return null;
        return result.filePaths[0] ?? null;
    });

    // ---- the window ------------------------------------------------------------------------------

    function showWindow(): void {
        if (!app.isReady()) return;
        if (mainWindow == null || mainWindow.isDestroyed()) {
            createWindow();
            return;
        }
        if (mainWindow.isMinimized()) mainWindow.restore();
        mainWindow.show();
        mainWindow.focus();
    }

    let crashes: number[] = [];

    function createWindow(): void {
        const win = new BrowserWindow({
            width: 1280,
            height: 800,
            minWidth: 1024,
            minHeight: 700,
            title: "Hearth",
            show: false,
            webPreferences: {
                preload: preloadPath,
                contextIsolation: true,
                sandbox: true,
                nodeIntegration: false,
                nodeIntegrationInWorker: false,
                nodeIntegrationInSubFrames: false,
                webSecurity: true,
                allowRunningInsecureContent: false,
                webviewTag: false,
                spellcheck: false
            }
        });
        mainWindow = win;
        let shown = false;
        win.once("show", () => { shown = true; });
        win.once("ready-to-show", () => win.show());
        // A page that never paints must not leave an invisible app behind.
        setTimeout(() => { if (!shown && !win.isDestroyed() && !quitting) win.show(); }, 5000);
        win.on("close", (event) => {
            // With a tray, closing the window keeps this machine serving its cluster; Quit ends it.
            if (!quitting && tray != null && process.platform !== "linux") {
                event.preventDefault();
                win.hide();
            }
        });
        win.on("closed", () => {
            if (mainWindow === win) mainWindow = null;
        });
        win.webContents.on("render-process-gone", (_event, details) => {
            say(`the window's renderer is gone (${details.reason}, exit code ${details.exitCode})`);
            if (details.reason === "clean-exit" || quitting) return;
            const now = Date.now();
            crashes = [...crashes.filter((t) => now - t < 60_000), now];
            if (crashes.length <= 3 && !win.isDestroyed()) win.webContents.reload();
        });
        win.webContents.on("did-fail-load", (_event, code, description, url) => {
            say(`the window could not load ${url} (${code} ${description})`);
        });
        void win.loadURL(APP_ENTRY_URL).catch((e: unknown) => say(`loading the window failed: ${(e as Error).message}`));
    }

    // ---- security: every web contents this app creates --------------------------------------------

    app.on("web-contents-created", (_event, contents) => {
        contents.on("will-navigate", (event) => {
            const decision = navigationDecision(event.url);
            if (decision === "allow") return;
            event.preventDefault();
            if (decision === "external") openExternal(event.url);
        });
        contents.on("will-frame-navigate", (event) => {
            // The main frame is will-navigate's; a frame inside the page may not leave the app.
            if (!event.isMainFrame && !isAppUrl(event.url)) event.preventDefault();
        });
        contents.on("will-redirect", (event) => {
            if (!isAppUrl(event.url)) event.preventDefault();
        });
        contents.on("will-attach-webview", (event) => event.preventDefault());
        contents.setWindowOpenHandler(({ url }) => {
            if (windowOpenDecision(url) === "external") openExternal(url);
            return { action: "deny" };
        });
    });

    function openExternal(url: string): void {
        setImmediate(() => {
            shell.openExternal(url).catch((e: unknown) => say(`could not open ${url}: ${(e as Error).message}`));
        });
    }

    function secureSession(): void {
        const ses = session.defaultSession;
        ses.setPermissionRequestHandler((contents, permission, callback) => callback(permissionAllowed(permission, contents.getURL())));
        ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => permissionAllowed(permission, requestingOrigin));
        ses.webRequest.onHeadersReceived((details, callback) => {
            // Pages of the app (and anything file:// or http(s) that should never load here) get the CSP; DevTools' own pages keep theirs.
            if (isAppUrl(details.url) || /^(file|https?):/i.test(details.url)) callback({ responseHeaders: withCsp(details.responseHeaders) });
            else callback({});
        });
        protocol.handle(APP_SCHEME, async (request) => {
            const headers = {
                "Content-Security-Policy": APP_CSP,
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache"
            };
            if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers });
            const file = resolveAppFile(rendererDir, request.url);
            if (file == null) return new Response("not part of Hearth's UI\n", { status: 404, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
            try {
                const body = await fs.promises.readFile(file);
                return new Response(request.method === "HEAD" ? null : new Uint8Array(body), { status: 200, headers: { ...headers, "Content-Type": contentTypeOf(file) } });
            } catch {
                const missing = path.basename(file) === "index.html"
                    ? `Hearth's UI is not built: ${file} is missing. Run \`npm run build:renderer\` (npm start builds it).\n`
                    : "not part of Hearth's UI\n";
                return new Response(missing, { status: 404, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
            }
        });
    }

    // ---- tray and menus --------------------------------------------------------------------------

    function trayImage(): NativeImage {
        const size = isMac || process.platform === "win32" ? 16 : 22;
        const colour = isMac ? TEMPLATE_BLACK : EMBER;
        const image = nativeImage.createFromBuffer(trayIconPng(size, colour), { scaleFactor: 1 });
        image.addRepresentation({ scaleFactor: 2, buffer: trayIconPng(size * 2, colour) });
        if (isMac) image.setTemplateImage(true);
        return image;
    }

    function trayMenu(status: NodeStatus): Menu {
        const line = status.phase === "running" ? "The node is running"
            : status.phase === "starting" ? "The node is starting…"
            : status.phase === "failed" ? (status.gaveUp ? "The node stopped" : "The node is restarting…")
            : "The node is stopped";
        return Menu.buildFromTemplate([
            { label: "Show Hearth", click: () => showWindow() },
            { type: "separator" },
            { label: line, enabled: false },
            { label: "Restart the node", enabled: !quitting, click: () => { void supervisor.restart(); } },
            { type: "separator" },
            { label: "Quit Hearth", click: () => app.quit() }
        ]);
    }

    function createTray(): void {
        try {
            tray = new Tray(trayImage());
            tray.setToolTip("Hearth");
            tray.setContextMenu(trayMenu(supervisor.status));
            if (!isMac) tray.on("click", () => showWindow());
        } catch (e) {
            tray = null;
            say(`no tray icon: ${(e as Error).message}`);
        }
    }

    function updateTray(status: NodeStatus): void {
        if (tray == null || tray.isDestroyed()) return;
        tray.setContextMenu(trayMenu(status));
        tray.setToolTip(status.phase === "running" ? "Hearth" : status.phase === "stopped" ? "Hearth (stopped)" : `Hearth: ${status.message}`.slice(0, 120));
    }

    function appMenu(): Menu {
        const view: MenuItemConstructorOptions[] = [
            ...(isDev ? [{ role: "reload" }, { role: "forceReload" }, { role: "toggleDevTools" }, { type: "separator" }] as MenuItemConstructorOptions[] : []),
            { role: "resetZoom" }, { role: "zoomIn" }, { role: "zoomOut" }, { type: "separator" }, { role: "togglefullscreen" }
        ];
        const template: MenuItemConstructorOptions[] = [
            ...(isMac ? [{ role: "appMenu" }] as MenuItemConstructorOptions[] : [{ label: "&File", submenu: [{ role: "quit" }] }] as MenuItemConstructorOptions[]),
            { role: "editMenu" },
            { label: "&View", submenu: view },
            { role: "windowMenu" }
        ];
        return Menu.buildFromTemplate(template);
    }

    // ---- life ------------------------------------------------------------------------------------

    app.on("second-instance", () => showWindow());
    app.on("activate", () => showWindow());
    app.on("before-quit", () => { quitting = true; });
    app.on("window-all-closed", () => app.quit());
    app.on("will-quit", (event) => {
        if (nodeStopped) return;
        event.preventDefault();
        if (stopRequested) return;
        stopRequested = true;
        say("quitting: stopping the node");
        void supervisor.stop().finally(() => {
            nodeStopped = true;
            logs.close();
            tray?.destroy();
            app.quit();
        });
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => app.quit());

    app.whenReady().then(() => {
        secureSession();
        Menu.setApplicationMenu(appMenu());
        supervisor.start();
        createWindow();
        createTray();
    }).catch((e: unknown) => {
        console.error("hearth: the app could not start:", e);
        app.exit(1);
    });
}

// ---- the node's log ------------------------------------------------------------------------------

interface NodeLog {
    readonly file: string;
    write(chunk: Buffer, stream: "out" | "err"): void;
    line(text: string): void;
    close(): void;
}

/** The node's stdout and stderr, and main's own notes, in <dataDir>/logs/node.log (the previous one kept as node.old.log past 10 MB); echoed to the terminal in dev. */
function openNodeLog(dir: string): NodeLog {
    const file = path.join(dir, "node.log");
    let out: fs.WriteStream | null = null;
    try {
        fs.mkdirSync(dir, { recursive: true });
        try {
            if (fs.statSync(file).size > 10 * 1024 * 1024) fs.renameSync(file, path.join(dir, "node.old.log"));
        } catch { /* no log yet */ }
        out = fs.createWriteStream(file, { flags: "a" });
        out.on("error", () => { out = null; });
    } catch {
        out = null;
    }
    const echo = (chunk: Buffer | string, stream: "out" | "err"): void => {
        if (!isDev) return;
        try {
            (stream === "out" ? process.stdout : process.stderr).write(chunk);
        } catch { /* no terminal */ }
    };
    return {
        file,
        write(chunk, stream) {
            out?.write(chunk);
            echo(chunk, stream);
        },
        line(text) {
            const stamped = `${new Date().toISOString()} ${text}\n`;
            out?.write(stamped);
            echo(`hearth: ${text}\n`, "err");
        },
        close() {
            out?.end();
            out = null;
        }
    };
}
