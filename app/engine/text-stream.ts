// Generated tokens to text, incrementally: each token is detokenized with the tokens before it as
// context (node-llama-cpp's detokenize(tokens, special, lastTokens)), so the cost per token is
// constant; a token that ends inside a multi-byte character waits for the rest; text that could be
// the start of a stop string is held back until it is known not to be one.

export interface Detokenizer {
    /** the text of `tokens`, given the tokens that came before them */
    detokenize(tokens: readonly number[], lastTokens: readonly number[]): string;
}

const CONTEXT_TOKENS = 8;
/** the most tokens one character can span (a 4-byte UTF-8 character as byte tokens) */
const MAX_PENDING = 4;

export interface TextPush {
    /** text released by this token (may be empty) */
    text: string;
    /** the stop string found, if any: the text ends right before it */
    stop?: string;
}

export class TextStream {
    private readonly history: number[] = [];
    private pendingTokens: number[] = [];
    private decoded = "";
    private released = 0;
    private stopped: string | null = null;
    private readonly holdBack: number;

    constructor(private readonly detokenizer: Detokenizer, private readonly stopStrings: readonly string[] = []) {
        this.holdBack = Math.max(0, ...stopStrings.map((s) => s.length - 1));
    }

    /** All text so far (released or not), cut at a stop string once one is found. */
    get text(): string { return this.decoded; }

    push(token: number): TextPush {
        if (this.stopped != null) return { text: "" };
        this.pendingTokens.push(token);
        const piece = this.detokenizer.detokenize(this.pendingTokens, this.history.slice(-CONTEXT_TOKENS));
        if (piece.endsWith("\uFFFD") && this.pendingTokens.length < MAX_PENDING) return { text: "" }; // a character is not complete yet
        this.history.push(...this.pendingTokens);
        this.pendingTokens = [];
        this.decoded += piece;
        const stop = this.findStop();
        if (stop != null) {
            this.decoded = this.decoded.slice(0, stop.at);
            this.stopped = stop.text;
            return { text: this.release(this.decoded.length), stop: stop.text };
        }
        return { text: this.release(this.decoded.length - this.holdBack) };
    }

    /** The text still held back (at the end of a generation). */
    finish(): string {
        if (this.stopped == null && this.pendingTokens.length > 0) {
            this.decoded += this.detokenizer.detokenize(this.pendingTokens, this.history.slice(-CONTEXT_TOKENS));
            this.history.push(...this.pendingTokens);
            this.pendingTokens = [];
            const stop = this.findStop();
            if (stop != null) { this.decoded = this.decoded.slice(0, stop.at); this.stopped = stop.text; }
        }
        return this.release(this.decoded.length);
    }

    private findStop(): { at: number; text: string } | null {
        let best: { at: number; text: string } | null = null;
        // Only the new part (and the held-back tail before it) can contain a new stop string.
        const from = Math.max(0, this.released - this.holdBack);
        for (const s of this.stopStrings) {
            if (s === "") continue;
            const at = this.decoded.indexOf(s, from);
            if (at >= 0 && (best == null || at < best.at)) best = { at, text: s };
        }
        return best;
    }

    private release(upTo: number): string {
        if (upTo <= this.released) return "";
        const out = this.decoded.slice(this.released, upTo);
        this.released = upTo;
        return out;
    }
}
