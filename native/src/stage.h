// A pipeline stage: one llama.cpp model (a slice of layers, or a whole model) and its context.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ggml.h"
#include "llama.h"

struct SamplerParams {
    float temperature = 0.0f;  // <= 0: greedy
    int32_t topK = 0;          // 0: off
    float topP = 1.0f;         // 1: off
    float minP = 0.0f;         // 0: off
    float repeatPenalty = 1.0f;
    int32_t repeatLastN = 64;
    float frequencyPenalty = 0.0f;
    float presencePenalty = 0.0f;
    uint32_t seed = 0;
};

// Rows of the model's token embedding table, kept in its own (possibly quantized) type.
struct InputTable {
    ggml_type type = GGML_TYPE_F32;
    int64_t nRows = 0;
    int64_t nEmbd = 0;
    size_t rowBytes = 0;
    std::vector<uint8_t> data;
    bool loaded() const { return !data.empty(); }
};

// One sequence's part of a batch: `n` consecutive tokens of `seqId` from position `pos`.
struct Segment {
    int32_t seqId = 0;
    int32_t pos = 0;
    int32_t n = 0;
    int logitsMode = 0;               // 0 none, 1 last token, 2 all tokens
    bool sample = false;              // sample the next token after the segment's last token
    std::vector<llama_token> accept;  // tokens to feed the sequence's sampler first (penalty history)
};

// Several sequences computed in one llama_decode; inputs are concatenated in segment order.
struct ForwardRequest {
    std::vector<Segment> segments;
    std::vector<llama_token> tokens;  // token ids (first stage, or a whole model)
    std::vector<float> hidden;        // n_tokens x n_embd (later stages)
    bool outputHidden = false;        // return the residual stream after this stage's last layer
};

struct SegmentResult {
    std::vector<float> logits;
    int32_t token = -1;
};

struct ForwardResult {
    int32_t nTokens = 0;
    std::vector<float> hidden;  // concatenated, segment order
    std::vector<SegmentResult> segments;
    double computeMs = 0;
};

class Stage : public Napi::ObjectWrap<Stage> {
   public:
    static Napi::Function Init(Napi::Env env);
    explicit Stage(const Napi::CallbackInfo& info);
    ~Stage() override;

    // Used by the async workers (run off the JS thread; JS serializes calls per stage).
    void LoadBlocking();
    ForwardResult ForwardBlocking(ForwardRequest& req);

    llama_model* model = nullptr;
    llama_context* ctx = nullptr;

    // load options
    std::string path;
    int32_t gpuLayers = 0;
    uint32_t contextSize = 4096;
    uint32_t batchSize = 512;
    uint32_t maxSequences = 1;
    int32_t threads = 0;
    int flashAttention = -1;  // -1 auto, 0 off, 1 on
    int threadPolling = 0;    // 0-100: how long idle CPU workers spin before sleeping
    ggml_threadpool_t threadpool = nullptr;
    void (*freePool)(ggml_threadpool_t) = nullptr;
    int64_t inputTableOffset = -1;
    InputTable inputTable;

    // hidden-state capture (cb_eval)
    std::string captureName;
    bool capturing = false;
    std::vector<float> captured;
    std::string captureError;

    std::atomic<bool> busy{false};
    std::atomic<bool> aborted{false};

   private:
    Napi::Value Forward(const Napi::CallbackInfo& info);
    Napi::Value RemoveSequence(const Napi::CallbackInfo& info);
    Napi::Value SetSampler(const Napi::CallbackInfo& info);
    Napi::Value Info(const Napi::CallbackInfo& info);
    Napi::Value Dispose(const Napi::CallbackInfo& info);
    void FreeAll();

    std::map<int32_t, llama_sampler*> samplers;
    std::map<int32_t, SamplerParams> samplerParams;
    llama_sampler* SamplerFor(int32_t seqId);
};

Napi::Value LoadStage(const Napi::CallbackInfo& info);
Napi::Value Quantize(const Napi::CallbackInfo& info);
