// Text <-> token ids with the model's own vocabulary, through a vocabulary-only load in node-llama-cpp.
import type { LlamaModel } from "node-llama-cpp";
import type { Detokenizer } from "../engine/text-stream.ts";
import { getLlamaInstance } from "../native/llama.ts";
import { readGgufHeader } from "../gguf/reader.ts";
import { checkModelHeader } from "../stage/model-check.ts";

export class Tokenizer implements Detokenizer {
    private constructor(private readonly model: LlamaModel) {}

    static async load(modelPath: string): Promise<Tokenizer> {
        checkModelHeader(readGgufHeader(modelPath), modelPath, { role: "vocab" });
        const llama = await getLlamaInstance();
        return new Tokenizer(await llama.loadModel({ modelPath, vocabOnly: true }));
    }

    /** Prompt tokens with the model's own BOS rule; special-token text is parsed when `special`. */
    encode(text: string, options: { special?: boolean } = {}): number[] {
        const tokens = this.model.tokenize(text, options.special ?? false) as number[];
        const bos = this.model.tokens.bos;
        if (this.model.tokens.shouldPrependBosToken && bos != null && tokens[0] !== bos) return [bos as number, ...tokens];
        return tokens;
    }

    decode(tokens: readonly number[]): string {
        return this.model.detokenize(tokens as never[], false);
    }

    /** The text of `tokens` after `lastTokens` (incremental detokenization, see engine/text-stream.ts). */
    detokenize(tokens: readonly number[], lastTokens: readonly number[]): string {
        return this.model.detokenize(tokens as never[], false, lastTokens as never[]);
    }

    isEndOfGeneration(token: number): boolean {
        return this.model.isEogToken(token as never);
    }

    get llamaModel(): LlamaModel { return this.model; }

    dispose(): Promise<void> { return this.model.dispose(); }
}
