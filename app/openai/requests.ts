// OpenAI's API shapes to and from the node's Chat RPC (pure: no I/O, tested without processes).
// A chat completion or a completion request is checked field by field and becomes a ChatRequest
// (messages through the model's chat template, or a raw prompt; the sampler; the stop strings);
// a ChatResult becomes OpenAI's response, its usage and its finish_reason; errors take OpenAI's
// shape ({"error": {"message", "type", "param", "code"}}) with the HTTP status that fits.
// What Hearth cannot do (several choices, tools, log-probabilities, images…) is refused clearly
// rather than ignored; fields that change nothing (user, metadata, store…) are ignored.
import * as grpc from "@grpc/grpc-js";
import type { ClusterModel } from "../cluster/cluster-view-types.ts";
import type { ChatRequest, ChatResult__Output } from "../protocol/proto.ts";
import { MAX_CHAT_MESSAGES, MAX_CHAT_TEXT, MAX_CHAT_TOKENS, MAX_STOP_LENGTH, MAX_STOP_STRINGS } from "../node/service.ts";

// The Chat RPC's limits are the API's: stop strings (4 of at most 200 characters, as OpenAI's),
// messages, characters of one text, tokens asked for (a chat without max_tokens goes on until the
// context is full).

/** OpenAI's default max_tokens of a (legacy) completion. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

export type OpenAiErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "server_error";

/** An error as OpenAI's API gives it: an HTTP status and the error object. */
export class OpenAiError extends Error {
    constructor(readonly status: number, message: string, readonly type: OpenAiErrorType = status >= 500 ? "server_error" : "invalid_request_error",
        readonly param: string | null = null, readonly code: string | null = null) {
        super(message);
        this.name = "OpenAiError";
    }

    get body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
        return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
    }
}

const bad = (message: string, param: string | null = null, code: string | null = null) => new OpenAiError(400, message, "invalid_request_error", param, code);

/** What a request asks for, as the Chat RPC carries it, and how to answer. */
export interface TranslatedRequest {
    kind: "chat" | "completion";
    chat: ChatRequest;
    /** the model the request names; null when it names none */
    model: string | null;
    stream: boolean;
    /** stream_options.include_usage: a last chunk with the usage */
    includeUsage: boolean;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json { return typeof v === "object" && v !== null && !Array.isArray(v); }
const given = (body: Json, key: string) => body[key] !== undefined && body[key] !== null;

function optionalNumber(body: Json, key: string, min: number, max: number, fallback: number): number {
    if (!given(body, key)) return fallback;
    const v = body[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw bad(`${key} must be a number from ${min} to ${max} (got ${JSON.stringify(v)})`, key);
    return v;
}

function optionalBoolean(body: Json, key: string): boolean {
    if (!given(body, key)) return false;
    if (typeof body[key] !== "boolean") throw bad(`${key} must be true or false (got ${JSON.stringify(body[key])})`, key);
    return body[key] as boolean;
}

function maxTokens(body: Json, keys: readonly string[], fallback: number): number {
    const key = keys.find((k) => given(body, k));
    if (key == null) return fallback;
    const v = body[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_CHAT_TOKENS)
        throw bad(`${key} must be a whole number from 1 to ${MAX_CHAT_TOKENS.toLocaleString("en-US")} (got ${JSON.stringify(v)})`, key);
    return v;
}

function stopStrings(body: Json): string[] {
    if (!given(body, "stop")) return [];
    const v = body.stop;
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || list.some((s) => typeof s !== "string")) throw bad("stop must be a string or an array of strings", "stop");
    if (list.length > MAX_STOP_STRINGS) throw bad(`stop has at most ${MAX_STOP_STRINGS} strings (got ${list.length})`, "stop");
    for (const s of list as string[]) {
        if (s.length === 0) throw bad("a stop string must not be empty", "stop");
        if (s.length > MAX_STOP_LENGTH) throw bad(`a stop string is at most ${MAX_STOP_LENGTH} characters (got one of ${s.length})`, "stop");
    }
    return list as string[];
}

/** OpenAI's seed (any integer) as the sampler's: 1..0xfffffffe (0 means "a random one" on the wire, 0xffffffff is llama.cpp's "pick one"). */
export function samplerSeed(seed: number): number {
    const m = 0xfffffffe;
    return (((seed % m) + m) % m) + 1;
}

function sampler(body: Json): NonNullable<ChatRequest["sampler"]> {
    let seed = 0;
    if (given(body, "seed")) {
        if (typeof body.seed !== "number" || !Number.isSafeInteger(body.seed)) throw bad(`seed must be an integer (got ${JSON.stringify(body.seed)})`, "seed");
        seed = samplerSeed(body.seed);
    }
    return {
        temperature: optionalNumber(body, "temperature", 0, 2, 1),
        topP: optionalNumber(body, "top_p", 0, 1, 1),
        frequencyPenalty: optionalNumber(body, "frequency_penalty", -2, 2, 0),
        presencePenalty: optionalNumber(body, "presence_penalty", -2, 2, 0),
        // Off, as OpenAI's models have them.
        topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64,
        seed
    };
}

/** The fields every request shares: the model, streaming, one choice, and what Hearth refuses. */
function common(body: Json): { model: string | null; stream: boolean; includeUsage: boolean } {
    if (given(body, "model") && typeof body.model !== "string") throw bad("model must be a string: the model's id, as GET /v1/models lists it", "model");
    const stream = optionalBoolean(body, "stream");
    let includeUsage = false;
    if (given(body, "stream_options")) {
        if (!stream) throw bad("stream_options goes only with stream: true", "stream_options");
        if (!isObject(body.stream_options)) throw bad("stream_options must be an object", "stream_options");
        includeUsage = optionalBoolean(body.stream_options, "include_usage");
    }
    if (given(body, "n") && body.n !== 1) throw bad(`n must be 1: Hearth makes one choice per request (got ${JSON.stringify(body.n)}); send the request several times instead`, "n");
    if (given(body, "logit_bias") && !(isObject(body.logit_bias) && Object.keys(body.logit_bias).length === 0)) throw bad("logit_bias is not supported by Hearth", "logit_bias");
    return { model: given(body, "model") ? (body.model as string) : null, stream, includeUsage };
}

function refuse(body: Json, key: string, allowed: (v: unknown) => boolean, what: string): void {
    if (given(body, key) && !allowed(body[key])) throw bad(`${key}: ${what}`, key);
}

/** A message's content as text: a string, or text parts. */
function messageText(content: unknown, i: number, role: string): string {
    if (typeof content === "string") return content;
    if (content == null && role === "assistant") return "";
    if (Array.isArray(content)) {
        const parts = content.map((p, j) => {
            if (!isObject(p) || p.type !== "text" || typeof p.text !== "string")
                throw bad(`messages[${i}].content[${j}]: only text parts ({"type": "text", "text": "..."}) are supported (got ${isObject(p) ? `type ${JSON.stringify(p.type)}` : JSON.stringify(p)})`, `messages[${i}].content`);
            return p.text;
        });
        return parts.join("\n");
    }
    throw bad(`messages[${i}].content must be a string or an array of text parts`, `messages[${i}].content`);
}

/** POST /v1/chat/completions → the Chat RPC's request (messages through the model's chat template). */
export function chatCompletionRequest(body: unknown): TranslatedRequest {
    if (!isObject(body)) throw bad("the request body must be a JSON object");
    const shared = common(body);
    refuse(body, "tools", (v) => Array.isArray(v) && v.length === 0, "tools (function calling) are not supported by Hearth");
    refuse(body, "functions", (v) => Array.isArray(v) && v.length === 0, "functions (function calling) are not supported by Hearth");
    refuse(body, "tool_choice", (v) => v === "none" || v === "auto", "tool_choice can only be \"none\" (Hearth has no function calling)");
    refuse(body, "function_call", (v) => v === "none" || v === "auto", "function_call can only be \"none\" (Hearth has no function calling)");
    refuse(body, "logprobs", (v) => v === false, "logprobs are not supported by Hearth");
    refuse(body, "top_logprobs", (v) => v === 0, "top_logprobs are not supported by Hearth");
    refuse(body, "response_format", (v) => isObject(v) && v.type === "text", "only {\"type\": \"text\"} is supported (no JSON mode or schemas)");
    refuse(body, "modalities", (v) => Array.isArray(v) && v.every((m) => m === "text"), "only [\"text\"] is supported");
    refuse(body, "audio", () => false, "audio output is not supported by Hearth");
    refuse(body, "prediction", () => false, "predicted outputs are not supported by Hearth");
    refuse(body, "web_search_options", () => false, "web search is not supported by Hearth");

    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw bad("messages must be a non-empty array of {\"role\", \"content\"}", "messages");
    if (messages.length > MAX_CHAT_MESSAGES) throw bad(`a chat has at most ${MAX_CHAT_MESSAGES} messages (got ${messages.length})`, "messages");
    const turns = messages.map((m, i) => {
        if (!isObject(m)) throw bad(`messages[${i}] must be an object with a role and a content`, `messages[${i}]`);
        const role = m.role === "developer" ? "system" : m.role;
        if (role !== "system" && role !== "user" && role !== "assistant") {
            const why = m.role === "tool" || m.role === "function" ? " (Hearth has no function calling)" : "";
            throw bad(`messages[${i}].role must be "system", "developer", "user" or "assistant" (got ${JSON.stringify(m.role)})${why}`, `messages[${i}].role`);
        }
        if (given(m, "tool_calls") || given(m, "function_call")) throw bad(`messages[${i}]: tool calls are not supported by Hearth`, `messages[${i}].tool_calls`);
        const content = messageText(m.content, i, role);
        if (content.length > MAX_CHAT_TEXT) throw bad(`messages[${i}].content is at most ${MAX_CHAT_TEXT.toLocaleString("en-US")} characters`, `messages[${i}].content`);
        return { role, content };
    });
    if (turns.at(-1)!.role !== "user") throw bad("the last message must be the user's: Hearth answers it with the assistant's reply", "messages");
    return {
        kind: "chat", ...shared,
        chat: {
            messages: turns, maxTokens: maxTokens(body, ["max_completion_tokens", "max_tokens"], MAX_CHAT_TOKENS),
            sampler: sampler(body), prompt: "", stop: stopStrings(body)
        }
    };
}

/** POST /v1/completions → the Chat RPC's request (the raw prompt, no chat template). */
export function completionRequest(body: unknown): TranslatedRequest {
    if (!isObject(body)) throw bad("the request body must be a JSON object");
    const shared = common(body);
    refuse(body, "echo", (v) => v === false, "echo is not supported by Hearth");
    refuse(body, "best_of", (v) => v === 1, "best_of must be 1: Hearth makes one choice per request");
    refuse(body, "suffix", (v) => v === "", "suffix (inserting text) is not supported by Hearth");
    refuse(body, "logprobs", (v) => v === 0 || v === false, "logprobs are not supported by Hearth");
    let prompt = body.prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") prompt = prompt[0];
    if (Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === "number" || Array.isArray(prompt[0]))) throw bad("prompt must be text: token ids are not supported", "prompt");
    if (Array.isArray(prompt) && prompt.length > 1) throw bad("prompt must be one string: Hearth completes one prompt per request", "prompt");
    if (typeof prompt !== "string") throw bad("prompt must be a string", "prompt");
    if (prompt === "") throw bad("prompt must not be empty", "prompt");
    if (prompt.length > MAX_CHAT_TEXT) throw bad(`prompt is at most ${MAX_CHAT_TEXT.toLocaleString("en-US")} characters`, "prompt");
    return {
        kind: "completion", ...shared,
        chat: { messages: [], prompt, maxTokens: maxTokens(body, ["max_tokens"], DEFAULT_COMPLETION_MAX_TOKENS), sampler: sampler(body), stop: stopStrings(body) }
    };
}

/** The model id a request may name for `model` (the hosted file's name; also without ".gguf"). */
export function modelMatches(requested: string, loaded: string): boolean {
    return requested === loaded || requested === loaded.replace(/\.gguf$/i, "");
}

/** The model a request runs on: the cluster's, when it has one that is not failed and the request names it (or none). */
export function checkModel(requested: string | null, model: ClusterModel | null): string {
    if (model == null)
        throw new OpenAiError(503, "no model is loaded in this cluster: load one with 'hearth load --model FILE' on a member (or open one in the app's Model pane), then try again", "server_error", null, "model_not_loaded");
    if (requested != null && requested !== "" && !modelMatches(requested, model.name))
        throw new OpenAiError(404, `The model '${requested}' does not exist here: this cluster runs '${model.name}' (GET /v1/models lists it)`, "invalid_request_error", "model", "model_not_found");
    if (model.state === "failed")
        throw new OpenAiError(503, `the cluster's model '${model.name}' failed${model.message !== "" ? `: ${model.message}` : ""}; load it again with 'hearth load --model FILE' on ${model.hostName || "its host"}`, "server_error", null, "model_not_ready");
    return model.name;
}

/** GET /v1/models: the cluster's model (or none). */
export function modelList(model: ClusterModel | null, created: number): { object: "list"; data: ModelObject[] } {
    return { object: "list", data: model == null ? [] : [modelObject(model, created)] };
}

export interface ModelObject { id: string; object: "model"; created: number; owned_by: string }

export function modelObject(model: ClusterModel, created: number): ModelObject {
    return { id: model.name, object: "model", created, owned_by: "hearth" };
}

export type FinishReason = "stop" | "length";

/** The Chat RPC's stop reason as OpenAI's finish_reason. */
export function finishReason(stopReason: string): FinishReason {
    return stopReason === "maxTokens" || stopReason === "contextFull" ? "length" : "stop";
}

export interface Usage { prompt_tokens: number; completion_tokens: number; total_tokens: number }

export function usage(result: Pick<ChatResult__Output, "promptTokens" | "tokens">): Usage {
    const prompt = result.promptTokens.length, completion = result.tokens.length;
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** What every response and chunk of one request carries. */
export interface ResponseContext { id: string; created: number; model: string }

export function chatCompletionResponse(ctx: ResponseContext, result: ChatResult__Output) {
    return {
        id: ctx.id, object: "chat.completion" as const, created: ctx.created, model: ctx.model,
        choices: [{ index: 0, message: { role: "assistant" as const, content: result.text, refusal: null }, logprobs: null, finish_reason: finishReason(result.stopReason) }],
        usage: usage(result)
    };
}

/** A chunk of a streamed chat completion: a delta, or (with `finish`) the last one; with `usage`, the usage chunk (no choices). */
export function chatCompletionChunk(ctx: ResponseContext, part: { delta: { role?: "assistant"; content?: string }; finish?: FinishReason } | { usage: Usage }, withUsage: boolean) {
    const base = { id: ctx.id, object: "chat.completion.chunk" as const, created: ctx.created, model: ctx.model };
    if ("usage" in part) return { ...base, choices: [], usage: part.usage };
    return { ...base, choices: [{ index: 0, delta: part.delta, logprobs: null, finish_reason: part.finish ?? null }], ...(withUsage ? { usage: null } : {}) };
}

export function completionResponse(ctx: ResponseContext, result: ChatResult__Output) {
    return {
        id: ctx.id, object: "text_completion" as const, created: ctx.created, model: ctx.model,
        choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: finishReason(result.stopReason) }],
        usage: usage(result)
    };
}

export function completionChunk(ctx: ResponseContext, part: { text: string; finish?: FinishReason } | { usage: Usage }, withUsage: boolean) {
    const base = { id: ctx.id, object: "text_completion" as const, created: ctx.created, model: ctx.model };
    if ("usage" in part) return { ...base, choices: [], usage: part.usage };
    return { ...base, choices: [{ index: 0, text: part.text, logprobs: null, finish_reason: part.finish ?? null }], ...(withUsage ? { usage: null } : {}) };
}

/** A failed Chat call (its gRPC status) as OpenAI's error; `promptParam` names what was too long for the context. */
export function errorFromChatStatus(code: number | undefined, details: string, promptParam: "messages" | "prompt" = "messages"): OpenAiError {
    switch (code) {
        case grpc.status.INVALID_ARGUMENT:
            return /the context holds/.test(details) ? bad(details, promptParam, "context_length_exceeded") : bad(details);
        case grpc.status.FAILED_PRECONDITION:
            return new OpenAiError(503, `${details} (then try again)`, "server_error", null, "model_not_ready");
        case grpc.status.DEADLINE_EXCEEDED:
            return new OpenAiError(504, `the cluster did not answer in time: ${details}`, "server_error", null, "timeout");
        case grpc.status.UNAVAILABLE: case grpc.status.RESOURCE_EXHAUSTED: case grpc.status.CANCELLED: case grpc.status.ABORTED:
            return new OpenAiError(503, `the cluster is unavailable: ${details}; check that the machines of the model's plan are on ('hearth peers'), then try again`, "server_error", null, "cluster_unavailable");
        case grpc.status.UNAUTHENTICATED: case grpc.status.PERMISSION_DENIED:
            return new OpenAiError(503, `this machine's node cannot use the cluster: ${details}`, "server_error", null, "cluster_unavailable");
        default:
            return new OpenAiError(500, `the generation failed: ${details}`, "server_error", null, null);
    }
}
