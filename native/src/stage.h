// A pipeline stage: one llama.cpp model (a slice of layers, or a whole model) and its context.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
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

// Several sequences computed together; inputs and outputs are concatenated in segment order, which
// may be any order of sequence ids (the native side decodes them in an order llama.cpp keeps).
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

class Stage;

// Work for a stage's own thread: Run() there, then Complete() on the JS thread.
struct StageJob {
    virtual ~StageJob() = default;
    virtual void Run() = 0;                     // worker thread; may throw
    virtual void Resolve(Napi::Env env) = 0;    // JS thread, after Run() returned
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference ref;                  // keeps the Stage's JS object alive while queued
    std::string error;
    bool failed = false;
    bool releasesBusy = true;
    bool isLoad = false;
    explicit StageJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void CallJsJob(Napi::Env env, Napi::Function, Stage* stage, StageJob* job);
struct TsfnState;
using StageTsfn = Napi::TypedThreadSafeFunction<Stage, StageJob, CallJsJob>;

class Stage : public Napi::ObjectWrap<Stage> {
   public:
    static Napi::Function Init(Napi::Env env);
    explicit Stage(const Napi::CallbackInfo& info);
    ~Stage() override;

    // Run on the stage's own thread (JS serializes calls per stage; native refuses overlaps).
    void LoadBlocking();
    ForwardResult ForwardBlocking(ForwardRequest& req);

    // JS thread: queue a job on the stage thread (its promise settles on the JS thread).
    Napi::Promise Submit(Napi::Env env, StageJob* job);
    void Finished(Napi::Env env, StageJob* job);

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

    // Input scaling the graph does on token ids only or on every input (Gemma), from the stage file's
    // metadata (app/stage/slice.ts): the first stage of a graph that scales only token ids
    // (hearth.stage.scale_input) multiplies its looked-up embeddings by sqrtf(n_embd) itself, as the
    // graph's ggml_scale would; a later stage of a graph that scales every input
    // (hearth.stage.restore_input) overwrites that scaled tensor with its unscaled input.
    bool scaleInput = false;
    float inputScale = 1.0f;
    std::string restoreName;
    const float* restoreSrc = nullptr;  // the decode's input rows (n_tokens x n_embd), while it runs
    int64_t restoreRows = 0;
    int restoreCount = 0;               // times the tensor was overwritten in this decode
    std::string restoreError;

    // hidden-state capture (cb_eval)
    std::string captureName;
    bool capturing = false;
    std::vector<float> captured;
    std::string captureError;

    std::atomic<bool> busy{false};
    std::atomic<bool> aborted{false};
    bool disposed = false;       // JS thread only
    bool disposePending = false; // dispose() came while busy: free when the running job ends

   private:
    Napi::Value Forward(const Napi::CallbackInfo& info);
    Napi::Value RemoveSequence(const Napi::CallbackInfo& info);
    Napi::Value SetSampler(const Napi::CallbackInfo& info);
    Napi::Value Info(const Napi::CallbackInfo& info);
    Napi::Value Dispose(const Napi::CallbackInfo& info);
    void FreeAll();
    void DisposeNow();
    void StopWorker();
    void WorkerLoop();
    void CheckUsable(Napi::Env env, bool needContext);
    llama_token SampleFrom(llama_sampler* smpl, const float* logits);

    // The stage's own compute thread, so that llama.cpp work never occupies libuv's threadpool.
    std::thread worker;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<StageJob*> jobs;
    bool stopping = false;
    StageTsfn tsfn;
    TsfnState* tsfnState = nullptr;
    int pending = 0;  // JS thread: jobs submitted and not yet finished
    std::vector<llama_token_data> sampleBuf;

    std::map<int32_t, llama_sampler*> samplers;
    std::map<int32_t, SamplerParams> samplerParams;
    llama_sampler* SamplerFor(int32_t seqId);
};

Napi::Value LoadStage(const Napi::CallbackInfo& info);
Napi::Value Quantize(const Napi::CallbackInfo& info);
