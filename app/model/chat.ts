// Chat mode: the model's own chat template (node-llama-cpp's chat wrappers, chosen from the GGUF's
// metadata) turns a conversation into prompt tokens and tells when the model's turn ends.
import { LlamaText, resolveChatWrapper, type ChatHistoryItem } from "node-llama-cpp";
import type { Tokenizer } from "./tokenizer.ts";

export interface ChatMessage { role: "system" | "user" | "assistant"; content: string }

export interface ChatPrompt {
    tokens: number[];
    /** text that ends the model's turn */
    stopStrings: string[];
    /** single tokens that end the model's turn (besides end-of-generation tokens) */
    stopTokens: number[];
    template: string;
}

export function chatPrompt(tokenizer: Tokenizer, messages: ChatMessage[]): ChatPrompt {
    if (messages.length === 0 || messages.at(-1)!.role !== "user") throw new Error("a chat turn needs the user's message last");
    const model = tokenizer.llamaModel;
    const wrapper = resolveChatWrapper(model);
    const history: ChatHistoryItem[] = messages.map((m) =>
        m.role === "system" ? { type: "system", text: m.content } : m.role === "user" ? { type: "user", text: m.content } : { type: "model", response: [m.content] });
    history.push({ type: "model", response: [] });
    const state = wrapper.generateContextState({ chatHistory: history });
    const stopStrings: string[] = [];
    const stopTokens: number[] = [];
    for (const trigger of state.stopGenerationTriggers) {
        const text = LlamaText(trigger);
        if (text.values.every((v) => typeof v === "string")) {
            const s = text.values.join("");
            if (s !== "") stopStrings.push(s);
        } else {
            const toks = text.tokenize(model.tokenizer) as number[];
            if (toks.length === 1) stopTokens.push(toks[0]!);
        }
    }
    return { tokens: state.contextText.tokenize(model.tokenizer) as number[], stopStrings, stopTokens, template: wrapper.wrapperName };
}

/** Finds the first stop string in generated text; returns the text before it, or null. */
export function cutAtStop(text: string, stopStrings: readonly string[]): string | null {
    let cut = -1;
    for (const s of stopStrings) {
        const i = text.indexOf(s);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    return cut < 0 ? null : text.slice(0, cut);
}
