// Model output as Markdown, rendered SAFELY: marked's lexer turns the text into tokens and this
// file turns the tokens into React elements itself. Nothing is ever parsed as HTML: raw HTML in
// the text (<script>, <img onerror=…>) comes out as text, links are kept only for http(s) and
// open with rel="noopener noreferrer", and images are shown as links (the CSP would block them,
// and a model's image URL is not something to fetch unasked). Written without JSX so the tests
// (Node's runner, no JSX step) can import it.
import { createElement as h, Fragment, type ReactNode } from "react";
import { marked, type Token, type Tokens } from "marked";

/** The Markdown as React elements. */
export function renderMarkdown(text: string): ReactNode {
    let tokens: Token[];
    try {
        tokens = marked.lexer(text, { gfm: true, breaks: false });
    } catch {
        // The lexer should not throw; if it does, the text as it is is still worth showing.
        return h("p", null, text);
    }
    return h(Fragment, null, ...blocks(tokens, "b"));
}

/** The href when it is safe to link to (http or https), else null. */
export function safeHref(href: string | null | undefined): string | null {
    if (typeof href !== "string") return null;
    const trimmed = href.trim();
    if (!/^https?:\/\//i.test(trimmed)) return null;
    try {
        const url = new URL(trimmed);
        return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
        return null;
    }
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0", copy: "©", reg: "®", hellip: "…", mdash: "—", ndash: "–" };

/** Character references in Markdown text ("&amp;", "&#39;", "&#x2014;") decoded; React escapes the result again. */
export function decodeEntities(text: string): string {
    if (!text.includes("&")) return text;
    return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (whole, body: string) => {
        if (body[0] === "#") {
            const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
            return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
        }
        return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
    });
}

function blocks(tokens: readonly Token[], keyPrefix: string): ReactNode[] {
    const out: ReactNode[] = [];
    tokens.forEach((token, i) => {
        const node = block(token, `${keyPrefix}${i}`);
        if (node !== null) out.push(node);
    });
    return out;
}

function block(token: Token, key: string): ReactNode {
    switch (token.type) {
        case "space":
        case "def":
            return null;
        case "paragraph":
            return h("p", { key }, ...inlines((token as Tokens.Paragraph).tokens, key));
        case "heading": {
            const t = token as Tokens.Heading;
            // Headings inside a chat reply read better a step smaller than the page's own.
            const level = Math.min(6, Math.max(1, t.depth) + 2);
            return h(`h${level}`, { key, className: "md-heading" }, ...inlines(t.tokens, key));
        }
        case "code": {
            const t = token as Tokens.Code;
            const lang = (t.lang ?? "").trim().split(/\s+/)[0] ?? "";
            return h("pre", { key, className: "md-code", "data-lang": lang || undefined },
                h("code", { className: lang ? `language-${lang.replace(/[^\w-]/g, "")}` : undefined }, t.text));
        }
        case "blockquote":
            return h("blockquote", { key }, ...blocks((token as Tokens.Blockquote).tokens, key));
        case "hr":
            return h("hr", { key });
        case "list": {
            const t = token as Tokens.List;
            const items = t.items.map((item, j) => listItem(item, t.loose, `${key}-${j}`));
            if (t.ordered) {
                const start = typeof t.start === "number" && t.start !== 1 ? t.start : undefined;
                return h("ol", { key, start }, ...items);
            }
            return h("ul", { key }, ...items);
        }
        case "table": {
            const t = token as Tokens.Table;
            const align = (a: Tokens.TableCell["align"]) => (a === null ? undefined : { textAlign: a });
            return h("div", { key, className: "md-table-wrap" },
                h("table", null,
                    h("thead", null, h("tr", null, ...t.header.map((cell, j) => h("th", { key: j, style: align(cell.align) }, ...inlines(cell.tokens, `${key}h${j}`))))),
                    h("tbody", null, ...t.rows.map((row, r) => h("tr", { key: r }, ...row.map((cell, j) => h("td", { key: j, style: align(cell.align) }, ...inlines(cell.tokens, `${key}r${r}c${j}`))))))));
        }
        case "html":
            // Raw HTML is shown as the text it is, never parsed.
            return h("p", { key, className: "md-raw" }, (token as Tokens.HTML).text);
        case "text": {
            const t = token as Tokens.Text;
            return h("p", { key }, ...(t.tokens ? inlines(t.tokens, key) : [decodeEntities(t.text)]));
        }
        default: {
            // A token type this renderer does not know (an extension): its raw text, as text.
            const raw = (token as { raw?: unknown }).raw;
            return typeof raw === "string" && raw.trim() !== "" ? h("p", { key }, raw) : null;
        }
    }
}

function listItem(item: Tokens.ListItem, loose: boolean, key: string): ReactNode {
    const children: ReactNode[] = [];
    item.tokens.forEach((token, i) => {
        const k = `${key}.${i}`;
        if (token.type === "checkbox") {
            children.push(h("input", { key: k, type: "checkbox", checked: (token as Tokens.Checkbox).checked, disabled: true, readOnly: true }), " ");
        } else if (token.type === "text" && !loose) {
            // A tight list's text is inline, with no paragraph around it.
            const t = token as Tokens.Text;
            children.push(h(Fragment, { key: k }, ...(t.tokens ? inlines(t.tokens, k) : [decodeEntities(t.text)])));
        } else {
            const node = block(token, k);
            if (node !== null) children.push(node);
        }
    });
    return h("li", { key, className: item.task ? "md-task" : undefined }, ...children);
}

function inlines(tokens: readonly Token[] | undefined, keyPrefix: string): ReactNode[] {
    if (tokens === undefined) return [];
    return tokens.map((token, i) => inline(token, `${keyPrefix}-${i}`));
}

function inline(token: Token, key: string): ReactNode {
    switch (token.type) {
        case "text": {
            const t = token as Tokens.Text;
            return t.tokens ? h(Fragment, { key }, ...inlines(t.tokens, key)) : h(Fragment, { key }, decodeEntities(t.text));
        }
        case "escape":
            return h(Fragment, { key }, (token as Tokens.Escape).text);
        case "strong":
            return h("strong", { key }, ...inlines((token as Tokens.Strong).tokens, key));
        case "em":
            return h("em", { key }, ...inlines((token as Tokens.Em).tokens, key));
        case "del":
            return h("del", { key }, ...inlines((token as Tokens.Del).tokens, key));
        case "codespan":
            return h("code", { key, className: "md-codespan" }, (token as Tokens.Codespan).text);
        case "br":
            return h("br", { key });
        case "link": {
            const t = token as Tokens.Link;
            const href = safeHref(t.href);
            const content = inlines(t.tokens, key);
            if (href === null) return h(Fragment, { key }, ...content);
            return h("a", { key, href, target: "_blank", rel: "noopener noreferrer", title: t.title ?? undefined }, ...content);
        }
        case "image": {
            const t = token as Tokens.Image;
            const href = safeHref(t.href);
            const label = `image: ${t.text || href || "?"}`;
            if (href === null) return h(Fragment, { key }, `[${label}]`);
            return h("a", { key, href, target: "_blank", rel: "noopener noreferrer" }, `[${label}]`);
        }
        case "html":
            return h(Fragment, { key }, (token as Tokens.Tag).text);
        case "checkbox":
            return h("input", { key, type: "checkbox", checked: (token as Tokens.Checkbox).checked, disabled: true, readOnly: true });
        default: {
            const raw = (token as { raw?: unknown }).raw;
            return h(Fragment, { key }, typeof raw === "string" ? raw : "");
        }
    }
}
