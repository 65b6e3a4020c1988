// Model output rendered as Markdown, safely: raw HTML stays text, only http(s) links, code fences
// as <pre><code>; checked on the markup React would put in the page.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderToStaticMarkup } from "react-dom/server";
import { decodeEntities, renderMarkdown, safeHref } from "../renderer/lib/markdown.ts";

const html = (text: string) => renderToStaticMarkup(renderMarkdown(text));

test("<script> and <img onerror> in model output come out as text, never as elements", { timeout: 10000 }, () => {
    const out = html("Here:\n\n<script>alert('x')</script>\n\nand <img src=x onerror=alert(1)> inline, <b>bold?</b>");
    assert.doesNotMatch(out, /<script/i);
    assert.doesNotMatch(out, /<img/i);
    assert.doesNotMatch(out, /<b>/);
    assert.match(out, /&lt;script&gt;alert\(&#x27;x&#x27;\)&lt;\/script&gt;/);
    assert.match(out, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(out, /&lt;b&gt;bold\?&lt;\/b&gt;/);
});

test("a code fence becomes <pre><code> with its language, its text escaped; an unclosed fence (still streaming) too", { timeout: 10000 }, () => {
    const out = html("Try:\n\n```js\nif (a < b && c) { run(\"<x>\"); }\n```\n");
    assert.match(out, /<pre class="md-code" data-lang="js"><code class="language-js">if \(a &lt; b &amp;&amp; c\) \{ run\(&quot;&lt;x&gt;&quot;\); \}<\/code><\/pre>/);
    const streaming = html("```python\nprint('hi')\nfor i in");
    assert.match(streaming, /<pre[^>]*><code class="language-python">print\(&#x27;hi&#x27;\)\nfor i in<\/code><\/pre>/);
    assert.match(html("use `a<b>` here"), /<code class="md-codespan">a&lt;b&gt;<\/code>/);
});

test("links: only http(s), opened with rel=noopener; javascript: and data: links are plain text", { timeout: 10000 }, () => {
    const out = html("[docs](https://example.com/a?b=1) [bad](javascript:alert(1)) [data](data:text/html,<b>x</b>) <https://auto.link/x>");
    assert.match(out, /<a href="https:\/\/example.com\/a\?b=1" target="_blank" rel="noopener noreferrer">docs<\/a>/);
    assert.match(out, /<a href="https:\/\/auto.link\/x" target="_blank" rel="noopener noreferrer">/);
    assert.doesNotMatch(out, /javascript:/);
    assert.doesNotMatch(out, /href="data:/);
    assert.match(out, /bad/);
    assert.equal(safeHref("JAVASCRIPT:alert(1)"), null);
    assert.equal(safeHref(" http://x.y/ "), "http://x.y/");
    assert.equal(safeHref("//evil.example/"), null);
    // Images are never loaded: they show as a link to the image.
    const image = html("![cat](http://img.example/cat.png) ![x](javascript:alert(1))");
    assert.doesNotMatch(image, /<img/);
    assert.match(image, /<a href="http:\/\/img.example\/cat.png"[^>]*>\[image: cat\]<\/a>/);
});

test("the usual Markdown renders: emphasis, headings, lists, tables, quotes, line breaks, entities", { timeout: 10000 }, () => {
    const out = html("# Title\n\n**bold** *it* ~~gone~~\n\n1. one\n2. two\n\n- [x] done\n- item\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n> quoted\n\nline1  \nline2 &amp; &#x2014; &copy;");
    assert.match(out, /<h3 class="md-heading">Title<\/h3>/);
    assert.match(out, /<strong>bold<\/strong> <em>it<\/em> <del>gone<\/del>/);
    assert.match(out, /<ol><li>one<\/li><li>two<\/li><\/ol>/);
    assert.match(out, /<li class="md-task"><input type="checkbox" disabled="" readOnly="" checked=""\/> done<\/li>/);
    assert.match(out, /<th style="text-align:left">a<\/th><th style="text-align:right">b<\/th>/);
    assert.match(out, /<blockquote><p>quoted<\/p><\/blockquote>/);
    assert.match(out, /line1<br\/>line2 &amp; — ©/);
    assert.equal(decodeEntities("&lt;b&gt; &#39;q&#39; &unknown; &#0;"), "<b> 'q' &unknown; &#0;");
});

test("empty and plain text: nothing, and a paragraph", { timeout: 10000 }, () => {
    assert.equal(html(""), "");
    assert.equal(html("just words"), "<p>just words</p>");
});
