// The app as a first-time user meets it, in a real browser against real nodes on 127.0.0.1:
// create a cluster, invite two more machines (they join with the codes the UI shows), see the
// three machines with their memory, load the test model and see its layers placed across the
// three, chat and watch the reply grow token by token (the text is the engine's greedy output),
// stop a reply midway, reload and find the chat still there, stop a machine and see it lost and
// the placement change, start it again and see the model placed over three once more. Every pane
// is photographed under e2e/artifacts/.
import fs from "node:fs";
import path from "node:path";
import { expect, test, type BrowserType, type Page } from "@playwright/test";
import { Tokenizer } from "../app/model/tokenizer.ts";
import { chatPrompt } from "../app/model/chat.ts";
import { getLlamaInstance } from "../app/native/llama.ts";
import { effectiveThreads } from "../app/stage/options.ts";
import { artifacts, nodeAddress, restartNode, startJoiningNode, startWebNode, stop, tempDir, type Proc } from "./helpers.ts";

const MB = 1024 * 1024;
/** Each machine may give its stages 140 MB: the test model (212 MB at the UI's 4096-token context) needs all three. */
const LIMIT = ["--memory-limit", String(140 * MB)];

let dir = "";
const procs: Proc[] = [];

test.beforeAll(() => {
    dir = tempDir("app");
    fs.mkdirSync(artifacts, { recursive: true });
});
test.afterAll(async () => {
    await Promise.all(procs.map((p) => stop(p)));
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
});

async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: false });
}

/** The engine's own greedy reply (node-llama-cpp on the whole model, one context) to `prompt` as a chat's first message. */
async function engineReply(model: string, prompt: string, tokens: number): Promise<string> {
    const tokenizer = await Tokenizer.load(model);
    try {
        const promptTokens = chatPrompt(tokenizer, [{ role: "user", content: prompt }]).tokens;
        const llama = await getLlamaInstance();
        const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
        try {
            // One thread per core: node-llama-cpp's default here is 4 threads on 2 cores, which makes
            // its decoding about 100× slower (spinning threads wait on each other); the tokens are the same.
            const context = await m.createContext({ contextSize: 4096, sequences: 1, threads: effectiveThreads(0) });
            const out: number[] = [];
            for await (const t of context.getSequence().evaluate(promptTokens as never[], { temperature: 0 })) {
                out.push(t as number);
                if (out.length >= tokens) break;
            }
            await context.dispose();
            return tokenizer.decode(out.filter((t) => !tokenizer.isEndOfGeneration(t)));
        } finally {
            await m.dispose();
        }
    } finally {
        await tokenizer.dispose();
    }
}

/** Letters and digits only: what Markdown rendering never changes. */
const letters = (s: string) => s.replace(/[^\p{L}\p{N}]/gu, "");

/**
 * The app's first page for this machine ("alpha"): the web UI of `hearth node --web` in Chromium,
 * or (HEARTH_E2E_TARGET=electron) the desktop app's window, its node in the same settings.
 */
async function openApp(playwright: { chromium: BrowserType }, alphaDir: string): Promise<{ page: Page; close: () => Promise<void> }> {
    if (process.env.HEARTH_E2E_TARGET === "electron") {
        const { launchElectronApp } = await import("../main/e2e-launch.ts");
        const launched = await launchElectronApp({ dataDir: alphaDir, env: {
            HEARTH_NAME: "alpha", HEARTH_PORT: "0", HEARTH_HOST: "127.0.0.1", HEARTH_DISCOVERY: "0", HEARTH_SPEED_TEST: "0", HEARTH_MEMORY_LIMIT: String(140 * MB), HEARTH_MAX_REPLY_TOKENS: "300"
        } });
        await launched.page.setViewportSize({ width: 1280, height: 800 });
        return { page: launched.page, close: launched.close };
    }
    // Replies of at most 300 tokens keep the run short on a small machine.
    const web = await startWebNode("alpha", alphaDir, [...LIMIT, "--max-reply-tokens", "300"]);
    procs.push(web.proc);
    const browser = await playwright.chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(web.url);
    return { page, close: () => browser.close() };
}

test("a first-time user: cluster of three, the test model placed across them, a streaming chat, Stop, reload, a machine lost and back", async ({ playwright }) => {
    const alphaDir = path.join(dir, "alpha");
    const opened = await openApp(playwright, alphaDir);
    const page = opened.page;
    try {
        await firstTimeUser(page, alphaDir);
    } finally {
        await opened.close();
    }
});

async function firstTimeUser(page: Page, alphaDir: string): Promise<void> {

    // Setup: this machine is in no cluster.
    await expect(page.getByTestId("setup-create")).toBeVisible();
    await shot(page, "1-setup");
    await page.getByTestId("setup-name").fill("alpha");
    await page.getByTestId("setup-create").click();

    // Invite two machines; each joins with the code the UI shows.
    await page.getByTestId("nav-cluster").click();
    for (const name of ["beta", "gamma"]) {
        await page.getByTestId("invite-button").click();
        const code = (await page.getByTestId("invite-code").innerText()).trim();
        expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
        await expect(page.getByTestId("invite-expiry")).toBeVisible();
        if (name === "beta") await shot(page, "2-invite");
        procs.push(await startJoiningNode(name, path.join(dir, name), code, nodeAddress(alphaDir), LIMIT));
    }
    const cards = page.getByTestId("machine-card");
    for (const name of ["alpha", "beta", "gamma"]) await expect(page.locator(`[data-testid="machine-card"][data-name="${name}"]`)).toHaveAttribute("data-state", "member", { timeout: 30_000 });
    await expect(cards).toHaveCount(3);
    for (const name of ["alpha", "beta", "gamma"]) {
        const bar = page.locator(`[data-testid="machine-card"][data-name="${name}"] [data-testid="ram-bar"]`);
        await expect(bar).toBeVisible();
        expect(Number(await bar.getAttribute("data-total-bytes"))).toBeGreaterThan(0);
    }
    await shot(page, "3-cluster");

    // The test model, placed across the three machines.
    await page.getByTestId("nav-model").click();
    await page.getByTestId("open-test-model").click();
    await expect(page.getByTestId("load-progress")).toBeVisible();
    await shot(page, "4-model-loading");
    await expect(page.getByTestId("model-facts")).toContainText("llama", { timeout: 120_000 });
    await page.getByTestId("nav-placement").click();
    const segments = page.getByTestId("placement-segment");
    await expect(segments).toHaveCount(3, { timeout: 120_000 });
    expect((await segments.evaluateAll((els) => els.map((e) => e.getAttribute("data-name")))).sort()).toEqual(["alpha", "beta", "gamma"]);
    const ranges = await segments.evaluateAll((els) => els.map((e) => e.getAttribute("data-layers")!));
    expect(ranges[0]!.startsWith("0-")).toBe(true);
    expect(ranges.at(-1)!.endsWith("-6")).toBe(true);
    await expect(page.getByTestId("predicted-tps")).toBeVisible();
    await shot(page, "5-placement");
    await page.getByTestId("nav-model").click();
    await shot(page, "6-model");

    // The OpenAI-compatible API: off by default; switched on in the Cluster pane, it serves the cluster's model.
    await page.getByTestId("nav-cluster").click();
    await expect(page.getByTestId("api-toggle")).not.toBeChecked();
    // A controlled checkbox: it shows the engine's state once the setting is applied.
    await page.getByTestId("api-toggle").click();
    await expect(page.getByTestId("api-toggle")).toBeChecked();
    const apiUrl = (await page.getByTestId("api-url").locator("code").innerText()).trim();
    expect(apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await (await fetch(`${apiUrl}/models`)).json() as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(["hearth-test-model.gguf"]);
    await page.getByTestId("api-setting").scrollIntoViewIfNeeded();
    await shot(page, "6b-api-setting");

    // A chat: the reply grows token by token; its text is the engine's greedy reply.
    await page.getByTestId("nav-chat").click();
    await page.getByTestId("chat-new").click();
    const prompt = "Tell me about the hearth.";
    await page.getByTestId("chat-input").fill(prompt);
    await page.getByTestId("chat-send").click();
    const reply = page.locator('[data-testid="message"][data-role="assistant"]').last();
    const lengths: number[] = [];
    for (let i = 0; i < 400; i++) {
        const status = await reply.getAttribute("data-status").catch(() => null);
        const text = await reply.getByTestId("message-text").innerText().catch(() => "");
        lengths.push(letters(text).length);
        if (status != null && status !== "streaming") break;
        await page.waitForTimeout(25);
    }
    await expect(reply).toHaveAttribute("data-status", "done", { timeout: 120_000 });
    const final = letters(await reply.getByTestId("message-text").innerText());
    const partial = lengths.filter((n) => n > 0 && n < final.length);
    expect(partial.length, `saw the reply part-way (lengths seen: ${lengths.slice(0, 40).join(",")}…)`).toBeGreaterThan(1);
    for (let i = 1; i < lengths.length; i++) expect(lengths[i]!).toBeGreaterThanOrEqual(lengths[i - 1]!);
    await expect(reply.getByTestId("reply-stats")).toBeVisible();
    await shot(page, "7-chat");
    // The chat on disk holds the reply and its token count; the engine's greedy reply has the same text.
    const chatFiles = fs.readdirSync(path.join(alphaDir, "chats")).filter((f) => f.endsWith(".json"));
    const stored = chatFiles.map((f) => JSON.parse(fs.readFileSync(path.join(alphaDir, "chats", f), "utf8")) as { chat: { messages: Array<{ role: string; text: string; stats: { tokens: number } | null }> } })
        .find((c) => c.chat.messages.some((m) => m.role === "user" && m.text === prompt))!;
    const storedReply = stored.chat.messages.find((m) => m.role === "assistant")!;
    const model = path.join(alphaDir, "models", "hearth-test-model.gguf");
    const expected = await engineReply(model, prompt, storedReply.stats!.tokens);
    expect(storedReply.text).toBe(expected);
    expect(final).toBe(letters(expected));

    // Stop mid-reply.
    await page.getByTestId("chat-input").fill("Now tell me a much longer story, please.");
    await page.getByTestId("chat-send").click();
    const second = page.locator('[data-testid="message"][data-role="assistant"]').last();
    await expect(second).toHaveAttribute("data-status", "streaming");
    await expect.poll(async () => letters(await second.getByTestId("message-text").innerText()).length).toBeGreaterThan(5);
    await page.getByTestId("chat-stop").click();
    await expect(second).toHaveAttribute("data-status", "stopped");
    const stoppedText = await second.getByTestId("message-text").innerText();

    // Reload: the chat and both replies are still there.
    await page.reload();
    await page.getByTestId("nav-chat").click();
    await expect(page.getByTestId("chat-list-item").first()).toBeVisible();
    await page.getByTestId("chat-list-item").first().click();
    const assistant = page.locator('[data-testid="message"][data-role="assistant"]');
    await expect(assistant).toHaveCount(2);
    expect(letters(await assistant.first().getByTestId("message-text").innerText())).toBe(letters(expected));
    await expect(assistant.last()).toHaveAttribute("data-status", "stopped");
    expect(await assistant.last().getByTestId("message-text").innerText()).toBe(stoppedText);
    await shot(page, "8-chat-after-reload");

    // A machine stops: it is marked lost, and the placement changes (two cannot hold the model: the planner says why).
    const gamma = procs.find((p) => p.name === "gamma")!;
    await stop(gamma, "SIGKILL");
    await page.getByTestId("nav-cluster").click();
    await expect(page.locator('[data-testid="machine-card"][data-name="gamma"]')).toHaveAttribute("data-state", "lost", { timeout: 30_000 });
    await shot(page, "9-cluster-machine-lost");
    await page.getByTestId("nav-placement").click();
    await expect(page.getByTestId("placement-error")).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId("placement-error")).toContainText(/more|add a machine/i);
    await shot(page, "10-placement-cannot-place");

    // It comes back: the model is placed over the three again.
    procs.push(await restartNode("gamma", gamma.dataDir, LIMIT));
    await expect(page.getByTestId("placement-segment")).toHaveCount(3, { timeout: 60_000 });
    await expect(page.getByTestId("placement-error")).toHaveCount(0);
    await shot(page, "11-placement-again");
}
