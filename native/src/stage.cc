#include "stage.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>

#include "ggml-backend.h"
#include "ggml-cpu.h"

// Lifetime of the stage thread's threadsafe function, shared by its finalizer and the Stage (JS thread only).
struct TsfnState {
    bool live = true;       // not finalized yet
    bool released = false;  // the Stage's one thread reference was given up
    bool stageGone = false; // the Stage was destroyed before the finalizer ran
};

namespace {

constexpr int64_t kMaxRows = 2147483647;  // 2^31 - 1
constexpr int32_t kMaxThreads = 1024;

bool EvalCallback(ggml_tensor* t, bool ask, void* userData) {
    auto* stage = static_cast<Stage*>(userData);
    bool restore = stage->restoreSrc != nullptr && stage->restoreName == ggml_get_name(t);
    bool wanted = stage->capturing && stage->captureName == ggml_get_name(t);
    if (ask) return wanted || restore;
    if (restore) {
        // The graph scaled this stage's input (already scaled by the stage before): put the input
        // back, bit for bit, before any later node reads it.
        if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t) || t->ne[0] != llama_model_n_embd_inp(stage->model) ||
            ggml_nelements(t) != stage->restoreRows * t->ne[0]) {
            stage->restoreError = "input tensor " + stage->restoreName + " is not the contiguous f32 n_embd x n_tokens input";
        } else {
            ggml_backend_tensor_set(t, stage->restoreSrc, 0, static_cast<size_t>(ggml_nbytes(t)));
            stage->restoreCount++;
        }
    }
    if (wanted) {
        if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) {
            stage->captureError = "hidden-state tensor " + stage->captureName + " is not contiguous f32";
            return true;
        }
        size_t count = static_cast<size_t>(ggml_nelements(t));
        size_t before = stage->captured.size();
        stage->captured.resize(before + count);
        ggml_backend_tensor_get(t, stage->captured.data() + before, 0, count * sizeof(float));
    }
    return true;  // keep computing
}

bool AbortCallback(void* userData) { return static_cast<Stage*>(userData)->aborted.load(); }

std::string DecodeError(int32_t rc) {
    switch (rc) {
        case 1: return "no free KV-cache slot for the batch (the sequence is longer than the context size; raise contextSize)";
        case 2: return "computation was aborted";
        case -1: return "llama.cpp rejected the batch (invalid positions or sequence ids; see the log)";
        default: return "llama_decode failed with code " + std::to_string(rc);
    }
}

std::string Num(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return buf;
}

// Options are checked before any conversion: a double outside the target type (or NaN) is a
// RangeError naming the key, never a silent (undefined-behaviour) cast.
bool Present(const Napi::Object& o, const char* key, Napi::Value& v) {
    if (!o.Has(key)) return false;
    v = o.Get(key);
    return !(v.IsUndefined() || v.IsNull());
}

double NumberOf(const Napi::Env& env, const Napi::Value& v, const std::string& name) {
    if (!v.IsNumber()) throw Napi::TypeError::New(env, name + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
}

int64_t CheckedInt(const Napi::Env& env, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) {
    double d = NumberOf(env, v, name);
    if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
        throw Napi::RangeError::New(env, name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + Num(d));
    return static_cast<int64_t>(d);
}

template <typename T>
T IntOpt(const Napi::Object& o, const char* key, T fallback, const std::string& prefix = "",
         int64_t lo = static_cast<int64_t>(std::numeric_limits<T>::min()), int64_t hi = static_cast<int64_t>(std::numeric_limits<T>::max())) {
    Napi::Value v;
    if (!Present(o, key, v)) return fallback;
    return static_cast<T>(CheckedInt(o.Env(), v, prefix + key, lo, hi));
}

float FloatOpt(const Napi::Object& o, const char* key, float fallback, const std::string& prefix = "") {
    Napi::Value v;
    if (!Present(o, key, v)) return fallback;
    double d = NumberOf(o.Env(), v, prefix + key);
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(FLT_MAX))
        throw Napi::RangeError::New(o.Env(), prefix + key + " must be a finite number, got " + Num(d));
    return static_cast<float>(d);
}

bool BoolOpt(const Napi::Object& o, const char* key, bool fallback) {
    Napi::Value v;
    if (!Present(o, key, v)) return fallback;
    return v.ToBoolean().Value();
}

template <typename Arr>
bool TypedOpt(const Napi::Object& o, const char* key, napi_typedarray_type type, const char* typeName, const std::string& prefix, Arr& out) {
    Napi::Value v;
    if (!Present(o, key, v)) return false;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
        throw Napi::TypeError::New(o.Env(), prefix + key + " must be " + typeName);
    out = v.As<Arr>();
    return true;
}

SamplerParams ParseSampler(const Napi::Object& o) {
    SamplerParams p;
    p.temperature = FloatOpt(o, "temperature", p.temperature);
    p.topK = IntOpt<int32_t>(o, "topK", p.topK);
    p.topP = FloatOpt(o, "topP", p.topP);
    p.minP = FloatOpt(o, "minP", p.minP);
    p.repeatPenalty = FloatOpt(o, "repeatPenalty", p.repeatPenalty);
    p.repeatLastN = IntOpt<int32_t>(o, "repeatLastN", p.repeatLastN, "", -1);
    p.frequencyPenalty = FloatOpt(o, "frequencyPenalty", p.frequencyPenalty);
    p.presencePenalty = FloatOpt(o, "presencePenalty", p.presencePenalty);
    p.seed = IntOpt<uint32_t>(o, "seed", p.seed);
    return p;
}

class LoadJob : public StageJob {
   public:
    LoadJob(Napi::Env env, Stage* stage) : StageJob(env), stage(stage) { isLoad = true; }
    void Run() override { stage->LoadBlocking(); }
    void Resolve(Napi::Env) override { deferred.Resolve(ref.Value()); }

   private:
    Stage* stage;
};

class ForwardJob : public StageJob {
   public:
    ForwardJob(Napi::Env env, Stage* stage, ForwardRequest request) : StageJob(env), stage(stage), req(std::move(request)) {}
    void Run() override { result = stage->ForwardBlocking(req); }
    void Resolve(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        out.Set("nTokens", result.nTokens);
        out.Set("computeMs", result.computeMs);
        if (req.outputHidden) {
            auto arr = Napi::Float32Array::New(env, result.hidden.size());
            std::memcpy(arr.Data(), result.hidden.data(), result.hidden.size() * sizeof(float));
            out.Set("hidden", arr);
        }
        Napi::Array segs = Napi::Array::New(env, result.segments.size());
        for (size_t k = 0; k < result.segments.size(); k++) {
            const SegmentResult& sr = result.segments[k];
            const Segment& sg = req.segments[k];
            Napi::Object so = Napi::Object::New(env);
            if (sg.logitsMode != 0) {
                auto arr = Napi::Float32Array::New(env, sr.logits.size());
                std::memcpy(arr.Data(), sr.logits.data(), sr.logits.size() * sizeof(float));
                so.Set("logits", arr);
            }
            if (sg.sample) so.Set("token", sr.token);
            segs.Set(static_cast<uint32_t>(k), so);
        }
        out.Set("segments", segs);
        deferred.Resolve(out);
    }

   private:
    Stage* stage;
    ForwardRequest req;
    ForwardResult result;
};

class QuantizeWorker : public Napi::AsyncWorker {
   public:
    QuantizeWorker(Napi::Env env, std::string in, std::string out, int ftype, int threads)
        : Napi::AsyncWorker(env, "hearth.quantize"), deferred(Napi::Promise::Deferred::New(env)),
          in(std::move(in)), out(std::move(out)), ftype(ftype), threads(threads) {}
    void Execute() override {
        llama_model_quantize_params params = llama_model_quantize_default_params();
        params.ftype = static_cast<llama_ftype>(ftype);
        params.nthread = threads;
        if (llama_model_quantize(in.c_str(), out.c_str(), &params) != 0)
            SetError("llama.cpp could not quantize " + in + " (see the log)");
    }
    void OnOK() override { deferred.Resolve(Env().Undefined()); }
    void OnError(const Napi::Error& e) override { deferred.Reject(e.Value()); }
    Napi::Promise Promise() { return deferred.Promise(); }

   private:
    Napi::Promise::Deferred deferred;
    std::string in, out;
    int ftype, threads;
};

void FinalizeTsfn(Napi::Env, TsfnState* state, Stage*) {
    if (state->stageGone) delete state;
    else state->live = false;
}

}  // namespace

// JS thread: a job finished on the stage thread (env is null when the environment is shutting down).
void CallJsJob(Napi::Env env, Napi::Function, Stage* stage, StageJob* job) {
    if (env == nullptr) {
        job->ref.SuppressDestruct();
        delete job;
        return;
    }
    stage->Finished(env, job);
}

Napi::Function Stage::Init(Napi::Env env) {
    return DefineClass(env, "Stage", {
        InstanceMethod("forward", &Stage::Forward),
        InstanceMethod("removeSequence", &Stage::RemoveSequence),
        InstanceMethod("setSampler", &Stage::SetSampler),
        InstanceMethod("info", &Stage::Info),
        InstanceMethod("dispose", &Stage::Dispose),
    });
}

Stage::Stage(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Stage>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
        throw Napi::TypeError::New(env, "Stage(path, options)");
    path = info[0].As<Napi::String>();
    Napi::Object o = info[1].As<Napi::Object>();
    gpuLayers = IntOpt<int32_t>(o, "gpuLayers", 0);
    contextSize = IntOpt<uint32_t>(o, "contextSize", 4096, "", 1);
    batchSize = IntOpt<uint32_t>(o, "batchSize", 512, "", 1);
    maxSequences = IntOpt<uint32_t>(o, "maxSequences", 1, "", 1, 256);  // llama.cpp's LLAMA_MAX_SEQ
    threads = IntOpt<int32_t>(o, "threads", 0, "", 0, kMaxThreads);
    flashAttention = IntOpt<int32_t>(o, "flashAttention", -1, "", -1, 1);
    threadPolling = std::min(100, std::max(0, IntOpt<int32_t>(o, "threadPolling", 0)));
    if (static_cast<uint64_t>(contextSize) * maxSequences > std::numeric_limits<uint32_t>::max())
        throw Napi::RangeError::New(env, "contextSize x maxSequences exceeds 2^32 - 1 KV cells");
    Napi::Value tv;
    if (Present(o, "inputTable", tv)) {
        if (!tv.IsObject()) throw Napi::TypeError::New(env, "inputTable must be an object");
        Napi::Object t = tv.As<Napi::Object>();
        for (const char* key : {"offset", "type", "rows", "embd"})
            if (!t.Has(key) || t.Get(key).IsUndefined() || t.Get(key).IsNull())
                throw Napi::TypeError::New(env, std::string("inputTable.") + key + " is missing");
        inputTableOffset = IntOpt<int64_t>(t, "offset", -1, "inputTable.", 0, (int64_t{1} << 53));
        inputTable.type = static_cast<ggml_type>(IntOpt<int32_t>(t, "type", 0, "inputTable.", 0, GGML_TYPE_COUNT - 1));
        inputTable.nRows = IntOpt<int64_t>(t, "rows", 0, "inputTable.", 1, kMaxRows);
        inputTable.nEmbd = IntOpt<int64_t>(t, "embd", 0, "inputTable.", 1, kMaxRows);
    }
    tsfnState = new TsfnState();
    tsfn = StageTsfn::New(env, "hearth.stage", 0, 1, this, FinalizeTsfn, tsfnState);
    tsfn.Unref(env);  // only a job in flight keeps the process alive
    worker = std::thread([this] { WorkerLoop(); });
}

Stage::~Stage() {
    aborted = true;
    StopWorker();
    if (tsfnState != nullptr) {
        if (tsfnState->live && !tsfnState->released) {
            tsfnState->released = true;
            tsfn.Release();
        }
        if (tsfnState->live) tsfnState->stageGone = true;  // the finalizer deletes it
        else delete tsfnState;
        tsfnState = nullptr;
    }
    FreeAll();
}

void Stage::WorkerLoop() {
    for (;;) {
        StageJob* job = nullptr;
        {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [this] { return stopping || !jobs.empty(); });
            if (jobs.empty()) return;  // stopping, nothing left
            job = jobs.front();
            jobs.pop_front();
        }
        try {
            job->Run();
        } catch (const std::exception& e) {
            job->failed = true;
            job->error = e.what();
        } catch (...) {
            job->failed = true;
            job->error = "unknown native error";
        }
        if (tsfn.BlockingCall(job) != napi_ok) {
            // The environment is shutting down: nobody waits for the promise any more.
        }
    }
}

void Stage::StopWorker() {
    if (!worker.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
    }
    cv.notify_all();
    worker.join();
}

Napi::Promise Stage::Submit(Napi::Env env, StageJob* job) {
    std::unique_ptr<StageJob> owned(job);
    if (tsfnState == nullptr || !tsfnState->live || tsfnState->released || !worker.joinable()) throw Napi::Error::New(env, "stage was disposed");
    job->ref = Napi::Persistent(Value());
    Napi::Promise promise = job->deferred.Promise();
    if (pending++ == 0) tsfn.Ref(env);
    {
        std::lock_guard<std::mutex> lock(mu);
        jobs.push_back(owned.release());
    }
    cv.notify_one();
    return promise;
}

void Stage::Finished(Napi::Env env, StageJob* job) {
    std::unique_ptr<StageJob> owned(job);
    if (--pending == 0) tsfn.Unref(env);
    if (job->releasesBusy) busy = false;
    bool failedLoad = job->failed && job->isLoad;
    if ((disposePending || failedLoad) && !busy) DisposeNow();
    if (job->failed) job->deferred.Reject(Napi::Error::New(env, job->error).Value());
    else job->Resolve(env);
}

void Stage::DisposeNow() {
    StopWorker();
    if (tsfnState != nullptr && tsfnState->live && !tsfnState->released) {
        tsfnState->released = true;
        tsfn.Release();
    }
    FreeAll();
    disposed = true;
    disposePending = false;
    aborted = false;
}

void Stage::FreeAll() {
    for (auto& [_, s] : samplers) llama_sampler_free(s);
    samplers.clear();
    if (ctx) llama_free(ctx);
    ctx = nullptr;
    if (threadpool != nullptr && freePool != nullptr) freePool(threadpool);
    threadpool = nullptr;
    if (model) llama_model_free(model);
    model = nullptr;
    inputTable.data.clear();
    inputTable.data.shrink_to_fit();
}

void Stage::LoadBlocking() {
    try {
        // The input table's own shape is checked before anything is loaded or allocated.
        size_t tableBytes = 0;
        if (inputTableOffset >= 0) {
            const auto* traits = ggml_get_type_traits(inputTable.type);
            if (traits->blck_size == 0 || traits->type_size == 0)
                throw std::runtime_error("input embedding table has an unknown or removed ggml type " + std::to_string(inputTable.type));
            if (inputTable.type != GGML_TYPE_F32 && traits->to_float == nullptr)
                throw std::runtime_error(std::string("no dequantizer for input table type ") + ggml_type_name(inputTable.type));
            if (inputTable.nRows < 1 || inputTable.nRows > kMaxRows)
                throw std::runtime_error("input embedding table has " + std::to_string(inputTable.nRows) + " rows (must be 1 to 2^31-1)");
            if (inputTable.nEmbd < 1 || inputTable.nEmbd % traits->blck_size != 0)
                throw std::runtime_error("input embedding table width " + std::to_string(inputTable.nEmbd) +
                                         " is not a positive multiple of the " + ggml_type_name(inputTable.type) + " block size");
            uint64_t blocks = static_cast<uint64_t>(inputTable.nEmbd) / static_cast<uint64_t>(traits->blck_size);
            if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size)
                throw std::runtime_error("input embedding table row size overflows");
            uint64_t rowBytes = blocks * traits->type_size;
            if (rowBytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(inputTable.nRows))
                throw std::runtime_error("input embedding table size overflows");
            uint64_t bytes = rowBytes * static_cast<uint64_t>(inputTable.nRows);
            if (bytes > std::numeric_limits<size_t>::max() || bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - static_cast<uint64_t>(inputTableOffset))
                throw std::runtime_error("input embedding table size overflows");
            std::ifstream f(path, std::ios::binary | std::ios::ate);
            if (!f) throw std::runtime_error("cannot open " + path);
            int64_t fileSize = static_cast<int64_t>(f.tellg());
            if (fileSize < 0) throw std::runtime_error("cannot read the size of " + path);
            if (static_cast<uint64_t>(inputTableOffset) + bytes != static_cast<uint64_t>(fileSize))
                throw std::runtime_error("input embedding table (offset " + std::to_string(inputTableOffset) + ", " + std::to_string(bytes) +
                                         " bytes) does not end at the end of " + path + " (" + std::to_string(fileSize) + " bytes)");
            inputTable.rowBytes = static_cast<size_t>(rowBytes);
            tableBytes = static_cast<size_t>(bytes);
        }

        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = gpuLayers;
        model = llama_model_load_from_file(path.c_str(), mp);
        if (!model) throw std::runtime_error("llama.cpp could not load " + path + " (see the log for the reason)");

        if (inputTableOffset >= 0) {
            if (inputTable.nEmbd != llama_model_n_embd_inp(model))
                throw std::runtime_error("input embedding table width " + std::to_string(inputTable.nEmbd) +
                                         " does not match the model's n_embd " + std::to_string(llama_model_n_embd_inp(model)));
            std::ifstream f(path, std::ios::binary);
            if (!f) throw std::runtime_error("cannot open " + path);
            f.seekg(inputTableOffset);
            inputTable.data.resize(tableBytes);
            f.read(reinterpret_cast<char*>(inputTable.data.data()), static_cast<std::streamsize>(tableBytes));
            if (static_cast<size_t>(f.gcount()) != tableBytes) throw std::runtime_error("input embedding table is truncated in " + path);
        }

        // Input scaling (see stage.h), from the stage file's metadata.
        {
            char buf[256];
            if (llama_model_meta_val_str(model, "hearth.stage.scale_input", buf, sizeof(buf)) >= 0 && std::string(buf) == "true") {
                if (inputTableOffset < 0) throw std::runtime_error("hearth.stage.scale_input is set but the stage has no input table");
                scaleInput = true;
                inputScale = sqrtf(static_cast<float>(llama_model_n_embd(model)));  // the graph's sqrtf(n_embd)
            }
            int32_t len = llama_model_meta_val_str(model, "hearth.stage.restore_input", buf, sizeof(buf));
            if (len >= 0) {
                if (inputTableOffset >= 0) throw std::runtime_error("hearth.stage.restore_input is set on a first stage");
                if (len == 0 || len >= static_cast<int32_t>(sizeof(buf))) throw std::runtime_error("hearth.stage.restore_input is not a tensor name");
                restoreName = buf;
            }
        }

        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = contextSize * maxSequences;  // one KV stream of contextSize cells per sequence (product checked)
        cp.n_batch = batchSize;
        cp.n_ubatch = batchSize;
        cp.n_seq_max = maxSequences;
        cp.kv_unified = false;
        int32_t nThreads = threads > 0 ? threads : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
        cp.n_threads = nThreads;
        cp.n_threads_batch = nThreads;
        cp.flash_attn_type = flashAttention < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO
                             : flashAttention == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_ENABLED;
        // Only stages that hand hidden states on need the eval callback: it makes llama.cpp compute
        // the graph in pieces, and the last stage must run as fast as a plain context.
        bool hasHead = llama_vocab_n_tokens(llama_model_get_vocab(model)) > 1;
        if (!hasHead || inputTableOffset >= 0 || !restoreName.empty()) {
            cp.cb_eval = EvalCallback;
            cp.cb_eval_user_data = this;
        }
        cp.abort_callback = AbortCallback;
        cp.abort_callback_data = this;
        cp.no_perf = true;
        ctx = llama_init_from_model(model, cp);
        if (!ctx)
            throw std::runtime_error("llama.cpp could not create a context for " + path +
                                     " (out of memory? lower contextSize or maxSequences; see the log)");
        captureName = "l_out-" + std::to_string(llama_model_n_layer(model) - 1);

        // Our own CPU threadpool, so that the polling of idle workers is ours to set: several stages in
        // one process (or a stage beside other work) must not spin on cores another stage computes on.
        ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
        if (cpu != nullptr) {
            auto newPool = reinterpret_cast<ggml_threadpool_t (*)(ggml_threadpool_params*)>(ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new"));
            freePool = reinterpret_cast<void (*)(ggml_threadpool_t)>(ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_free"));
            if (newPool != nullptr && freePool != nullptr) {
                ggml_threadpool_params tp = ggml_threadpool_params_default(nThreads);
                tp.poll = static_cast<uint32_t>(threadPolling);
                threadpool = newPool(&tp);
                if (threadpool != nullptr) llama_attach_threadpool(ctx, threadpool, threadpool);
            }
        }
    } catch (...) {
        FreeAll();  // model, context, threadpool and table: nothing outlives a failed load
        throw;
    }
}

llama_sampler* Stage::SamplerFor(int32_t seqId) {
    auto it = samplers.find(seqId);
    if (it != samplers.end()) return it->second;
    SamplerParams p = samplerParams.count(seqId) ? samplerParams[seqId] : SamplerParams{};
    const llama_vocab* vocab = llama_model_get_vocab(model);
    llama_sampler* chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (p.repeatPenalty != 1.0f || p.frequencyPenalty != 0.0f || p.presencePenalty != 0.0f)
        llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), p.repeatLastN, p.repeatPenalty,
                                                                    p.frequencyPenalty, p.presencePenalty));
    if (p.temperature <= 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else {
        if (p.topK > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(p.topK));
        if (p.topP < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(p.topP, 1));
        if (p.minP > 0.0f) llama_sampler_chain_add(chain, llama_sampler_init_min_p(p.minP, 1));
        llama_sampler_chain_add(chain, llama_sampler_init_temp(p.temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_dist(p.seed));
    }
    samplers[seqId] = chain;
    return chain;
}

// What llama_sampler_sample does on the CPU path (this stage has no backend samplers), from a row
// of logits the caller keeps: the rows of one request come from several llama_decode calls.
llama_token Stage::SampleFrom(llama_sampler* smpl, const float* logits) {
    const int32_t nVocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    sampleBuf.resize(static_cast<size_t>(nVocab));
    for (llama_token t = 0; t < nVocab; t++) sampleBuf[t] = llama_token_data{t, logits[t], 0.0f};
    llama_token_data_array cur = {sampleBuf.data(), sampleBuf.size(), -1, false};
    llama_sampler_apply(smpl, &cur);
    if (cur.selected < 0 || cur.selected >= static_cast<int64_t>(cur.size)) throw std::runtime_error("the sampler selected no token");
    llama_token token = cur.data[cur.selected].id;
    llama_sampler_accept(smpl, token);
    return token;
}

// With one KV stream per sequence (kv_unified = false) llama.cpp splits a batch with
// split_equal(sequential = true): a ubatch holds only a run of consecutive, increasing sequence ids
// with the same number of tokens each, and the hidden states the eval callback captures come in
// ubatch order. So the segments are decoded in groups whose ubatch is known: a run of single-token
// segments with consecutive sequence ids together (one llama_decode = one ubatch, the same
// computation per row as alone), every other segment alone. Outputs go back in the caller's order.
ForwardResult Stage::ForwardBlocking(ForwardRequest& req) {
    if (!ctx) throw std::runtime_error("stage is not loaded or was disposed");
    const int32_t nEmbdInp = llama_model_n_embd_inp(model);
    const int32_t nEmbdOut = llama_model_n_embd(model);
    const bool byToken = !req.tokens.empty();
    if (!byToken && req.hidden.size() % static_cast<size_t>(nEmbdInp) != 0)
        throw std::runtime_error("hidden-state batch size is not a multiple of n_embd " + std::to_string(nEmbdInp));
    const size_t nRows = byToken ? req.tokens.size() : req.hidden.size() / nEmbdInp;
    if (nRows == 0) throw std::runtime_error("empty batch");
    if (nRows > batchSize)
        throw std::runtime_error("batch of " + std::to_string(nRows) + " tokens exceeds the stage batch size " + std::to_string(batchSize));
    const int32_t n = static_cast<int32_t>(nRows);
    if (req.segments.empty()) throw std::runtime_error("a batch needs at least one segment");
    const size_t nSeg = req.segments.size();
    std::vector<int32_t> rowStart(nSeg);
    std::vector<bool> seen(maxSequences, false);
    int64_t covered = 0;
    bool wantsHead = false;
    for (size_t k = 0; k < nSeg; k++) {
        const Segment& sg = req.segments[k];
        if (sg.seqId < 0 || static_cast<uint32_t>(sg.seqId) >= maxSequences)
            throw std::runtime_error("sequence id " + std::to_string(sg.seqId) + " out of range [0, " + std::to_string(maxSequences) + ")");
        if (sg.pos < 0 || sg.n <= 0 || static_cast<int64_t>(sg.pos) + sg.n > std::numeric_limits<int32_t>::max())
            throw std::runtime_error("bad segment position or length");
        if (seen[sg.seqId]) throw std::runtime_error("a sequence appears twice in one batch");
        seen[sg.seqId] = true;
        rowStart[k] = static_cast<int32_t>(covered);
        covered += sg.n;  // at most batchSize segments of int32 lengths: no overflow in int64
        wantsHead = wantsHead || sg.logitsMode != 0 || sg.sample;
    }
    if (covered != n) throw std::runtime_error("segments cover " + std::to_string(covered) + " tokens but the batch has " + std::to_string(n));
    const int32_t nVocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    if (wantsHead && nVocab <= 1) throw std::runtime_error("this stage has no output head (it is not the last stage)");
    const bool useTable = byToken && inputTable.loaded();
    const int64_t tokenLimit = useTable ? inputTable.nRows : nVocab;
    if (byToken)
        for (llama_token tok : req.tokens)
            if (tok < 0 || tok >= tokenLimit)
                throw std::runtime_error("token id " + std::to_string(tok) + " out of range [0, " + std::to_string(tokenLimit) + ")");

    // The decode groups, as lists of segment indices in increasing sequence id.
    std::vector<std::vector<size_t>> groups;
    if (nSeg == 1) {
        groups.push_back({0});
    } else {
        std::vector<size_t> order(nSeg);
        for (size_t k = 0; k < nSeg; k++) order[k] = k;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return req.segments[a].seqId < req.segments[b].seqId; });
        for (size_t k : order) {
            const Segment& sg = req.segments[k];
            bool joins = sg.n == 1 && !groups.empty() && req.segments[groups.back().back()].n == 1 &&
                         req.segments[groups.back().back()].seqId + 1 == sg.seqId;
            if (joins) groups.back().push_back(k);
            else groups.push_back({k});
        }
    }
    // One group in the caller's own order: its outputs are the request's outputs as they come.
    bool inOrder = groups.size() == 1;
    for (size_t j = 0; inOrder && j < groups[0].size(); j++) inOrder = groups[0][j] == j;

    llama_batch batch = llama_batch_init(n, (useTable || !byToken) ? nEmbdInp : 0, 1);
    std::unique_ptr<llama_batch, void (*)(llama_batch*)> guard(&batch, [](llama_batch* b) { llama_batch_free(*b); });
    const auto* traits = useTable ? ggml_get_type_traits(inputTable.type) : nullptr;

    ForwardResult res;
    res.nTokens = n;
    res.segments.resize(nSeg);
    if (req.outputHidden && !inOrder) res.hidden.resize(static_cast<size_t>(n) * nEmbdOut);
    std::vector<std::vector<float>> sampleRows(nSeg);  // last-token logits of sampling segments, when not kept anyway
    std::vector<size_t> done;                           // segments already in the KV cache
    llama_memory_t mem = llama_get_memory(ctx);
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& group : groups) {
        int32_t m = 0;
        for (size_t k : group) {
            const Segment& sg = req.segments[k];
            for (int32_t t = 0; t < sg.n; t++, m++) {
                const size_t src = static_cast<size_t>(rowStart[k] + t);
                if (useTable) {
                    const uint8_t* row = inputTable.data.data() + static_cast<size_t>(req.tokens[src]) * inputTable.rowBytes;
                    float* dst = batch.embd + static_cast<size_t>(m) * nEmbdInp;
                    if (inputTable.type == GGML_TYPE_F32) std::memcpy(dst, row, nEmbdInp * sizeof(float));
                    else traits->to_float(row, dst, nEmbdInp);
                    if (scaleInput)
                        for (int32_t i = 0; i < nEmbdInp; i++) dst[i] = dst[i] * inputScale;  // float32 multiply, as ggml_scale
                } else if (byToken) {
                    batch.token[m] = req.tokens[src];
                } else {
                    std::memcpy(batch.embd + static_cast<size_t>(m) * nEmbdInp, req.hidden.data() + src * nEmbdInp, nEmbdInp * sizeof(float));
                }
                batch.pos[m] = sg.pos + t;
                batch.n_seq_id[m] = 1;
                batch.seq_id[m][0] = sg.seqId;
                bool last = t == sg.n - 1;
                batch.logits[m] = (req.outputHidden || sg.logitsMode == 2 || (last && (sg.logitsMode == 1 || sg.sample))) ? 1 : 0;
            }
        }
        batch.n_tokens = m;

        captured.clear();
        captureError.clear();
        capturing = req.outputHidden;
        if (capturing) captured.reserve(static_cast<size_t>(m) * nEmbdOut);
        const bool restoring = !restoreName.empty() && !byToken;
        restoreSrc = restoring ? batch.embd : nullptr;
        restoreRows = m;
        restoreCount = 0;
        restoreError.clear();
        int32_t rc = llama_decode(ctx, batch);
        capturing = false;
        restoreSrc = nullptr;
        std::string failure;
        if (rc != 0) failure = DecodeError(rc);
        else if (restoring && !restoreError.empty()) failure = restoreError;
        else if (restoring && restoreCount != 1)
            failure = "the graph computed input tensor " + restoreName + " " + std::to_string(restoreCount) + " times, expected once";
        else if (req.outputHidden && !captureError.empty()) failure = captureError;
        else if (req.outputHidden && captured.size() != static_cast<size_t>(m) * nEmbdOut)
            failure = "captured " + std::to_string(captured.size()) + " hidden values, expected " + std::to_string(static_cast<size_t>(m) * nEmbdOut);
        if (!failure.empty()) {
            // All or nothing: what earlier groups (and a half-run one) put in the cache is taken out again.
            for (size_t k : done) llama_memory_seq_rm(mem, req.segments[k].seqId, req.segments[k].pos, -1);
            if (rc == 0)
                for (size_t k : group) llama_memory_seq_rm(mem, req.segments[k].seqId, req.segments[k].pos, -1);
            throw std::runtime_error(failure);
        }
        int32_t row = 0;
        for (size_t k : group) {
            const Segment& sg = req.segments[k];
            if (req.outputHidden && !inOrder) {
                std::memcpy(res.hidden.data() + static_cast<size_t>(rowStart[k]) * nEmbdOut,
                                 captured.data() + static_cast<size_t>(row) * nEmbdOut, static_cast<size_t>(sg.n) * nEmbdOut * sizeof(float));
            }
            SegmentResult& out = res.segments[k];
            const int32_t lastIdx = row + sg.n - 1;
            if (sg.logitsMode == 1) {
                const float* l = llama_get_logits_ith(ctx, lastIdx);
                out.logits.assign(l, l + nVocab);
            } else if (sg.logitsMode == 2) {
                out.logits.resize(static_cast<size_t>(sg.n) * nVocab);
                for (int32_t t = 0; t < sg.n; t++)
                    std::memcpy(out.logits.data() + static_cast<size_t>(t) * nVocab, llama_get_logits_ith(ctx, row + t), nVocab * sizeof(float));
            } else if (sg.sample && groups.size() > 1) {
                const float* l = llama_get_logits_ith(ctx, lastIdx);
                sampleRows[k].assign(l, l + nVocab);
            }
            if (sg.sample && groups.size() == 1) {  // sampled now, straight from the context's logits
                llama_sampler* smpl = SamplerFor(sg.seqId);
                for (llama_token t : sg.accept) llama_sampler_accept(smpl, t);
                out.token = SampleFrom(smpl, llama_get_logits_ith(ctx, lastIdx));
            }
            row += sg.n;
            done.push_back(k);
        }
        if (req.outputHidden && inOrder) res.hidden.swap(captured);  // the one group, already in the caller's order
    }
    // Samplers change only once every group has been computed.
    if (groups.size() > 1) {
        for (size_t k = 0; k < nSeg; k++) {
            const Segment& sg = req.segments[k];
            if (!sg.sample) continue;
            SegmentResult& out = res.segments[k];
            const float* l = sg.logitsMode == 0 ? sampleRows[k].data()
                                                : out.logits.data() + (sg.logitsMode == 2 ? static_cast<size_t>(sg.n - 1) * nVocab : 0);
            llama_sampler* smpl = SamplerFor(sg.seqId);
            for (llama_token t : sg.accept) llama_sampler_accept(smpl, t);
            out.token = SampleFrom(smpl, l);
        }
    }
    res.computeMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

void Stage::CheckUsable(Napi::Env env, bool needContext) {
    if (disposed || disposePending) throw Napi::Error::New(env, "stage was disposed");
    if (busy) throw Napi::Error::New(env, "stage is busy: calls must be serialized");
    if (needContext ? !ctx : !model) throw Napi::Error::New(env, "stage is not loaded or was disposed");
}

Napi::Value Stage::Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "forward(request)");
    if (disposed || disposePending || !ctx) throw Napi::Error::New(env, "stage is not loaded or was disposed");
    Napi::Object o = info[0].As<Napi::Object>();
    ForwardRequest req;
    req.outputHidden = BoolOpt(o, "outputHidden", false);
    if (!o.Has("segments") || !o.Get("segments").IsArray()) throw Napi::TypeError::New(env, "forward needs segments (an array)");
    Napi::Array segs = o.Get("segments").As<Napi::Array>();
    if (segs.Length() > batchSize) throw Napi::RangeError::New(env, "more segments than the stage batch size");
    for (uint32_t k = 0; k < segs.Length(); k++) {
        if (!segs.Get(k).IsObject()) throw Napi::TypeError::New(env, "each segment must be an object");
        Napi::Object so = segs.Get(k).As<Napi::Object>();
        const std::string prefix = "segments[" + std::to_string(k) + "].";
        Segment sg;
        // Whole numbers of int32 here; their meaning (range, cover, repeats) is checked by ForwardBlocking.
        sg.seqId = IntOpt<int32_t>(so, "seqId", 0, prefix);
        sg.pos = IntOpt<int32_t>(so, "pos", 0, prefix);
        sg.n = IntOpt<int32_t>(so, "n", 0, prefix);
        sg.logitsMode = IntOpt<int32_t>(so, "logits", 0, prefix, 0, 2);
        sg.sample = BoolOpt(so, "sample", false);
        Napi::Int32Array accept;
        if (TypedOpt(so, "accept", napi_int32_array, "an Int32Array", prefix, accept))
            sg.accept.assign(accept.Data(), accept.Data() + accept.ElementLength());
        req.segments.push_back(std::move(sg));
    }
    Napi::Int32Array tokens;
    if (TypedOpt(o, "tokens", napi_int32_array, "an Int32Array", "", tokens)) req.tokens.assign(tokens.Data(), tokens.Data() + tokens.ElementLength());
    Napi::Float32Array hidden;
    if (TypedOpt(o, "hidden", napi_float32_array, "a Float32Array", "", hidden)) req.hidden.assign(hidden.Data(), hidden.Data() + hidden.ElementLength());
    if (req.tokens.empty() == req.hidden.empty()) throw Napi::TypeError::New(env, "forward needs exactly one of tokens (Int32Array) or hidden (Float32Array)");
    bool expected = false;
    if (!busy.compare_exchange_strong(expected, true)) throw Napi::Error::New(env, "stage is busy: calls must be serialized");
    try {
        return Submit(env, new ForwardJob(env, this, std::move(req)));
    } catch (...) {
        busy = false;
        throw;
    }
}

Napi::Value Stage::RemoveSequence(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, true);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "removeSequence(seqId, fromPos?)");
    int32_t seqId = static_cast<int32_t>(CheckedInt(env, info[0], "seqId", 0, static_cast<int64_t>(maxSequences) - 1));
    int32_t fromPos = 0;
    if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull())
        fromPos = static_cast<int32_t>(CheckedInt(env, info[1], "fromPos", 0, std::numeric_limits<int32_t>::max()));
    bool ok = llama_memory_seq_rm(llama_get_memory(ctx), seqId, fromPos <= 0 ? -1 : fromPos, -1);
    auto it = samplers.find(seqId);
    if (it != samplers.end()) {
        if (fromPos <= 0) {
            llama_sampler_free(it->second);
            samplers.erase(it);
            samplerParams.erase(seqId);
        } else {
            llama_sampler_reset(it->second);
        }
    }
    return Napi::Boolean::New(env, ok);
}

Napi::Value Stage::SetSampler(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, false);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "setSampler(seqId, params)");
    int32_t seqId = static_cast<int32_t>(CheckedInt(env, info[0], "seqId", 0, static_cast<int64_t>(maxSequences) - 1));
    bool hasParams = info.Length() > 1 && info[1].IsObject();
    SamplerParams params = hasParams ? ParseSampler(info[1].As<Napi::Object>()) : SamplerParams{};  // checked before anything changes
    auto it = samplers.find(seqId);
    if (it != samplers.end()) {
        llama_sampler_free(it->second);
        samplers.erase(it);
    }
    if (hasParams) samplerParams[seqId] = params;
    else samplerParams.erase(seqId);
    return env.Undefined();
}

Napi::Value Stage::Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, true);
    Napi::Object o = Napi::Object::New(env);
    char desc[256];
    llama_model_desc(model, desc, sizeof(desc));
    o.Set("description", desc);
    o.Set("nEmbd", llama_model_n_embd(model));
    o.Set("nLayer", llama_model_n_layer(model));
    o.Set("nVocab", llama_vocab_n_tokens(llama_model_get_vocab(model)));
    o.Set("modelBytes", static_cast<double>(llama_model_size(model)));
    o.Set("contextSize", contextSize);
    o.Set("maxSequences", maxSequences);
    o.Set("inputTableBytes", static_cast<double>(inputTable.data.size()));
    auto* mem = llama_get_memory(ctx);
    Napi::Array seqs = Napi::Array::New(env);
    for (uint32_t s = 0; s < maxSequences; s++) {
        llama_pos maxPos = llama_memory_seq_pos_max(mem, static_cast<llama_seq_id>(s));
        if (maxPos >= 0) {
            Napi::Object so = Napi::Object::New(env);
            so.Set("seqId", s);
            so.Set("nextPos", maxPos + 1);
            seqs.Set(seqs.Length(), so);
        }
    }
    o.Set("sequences", seqs);
    return o;
}

// While a computation runs, dispose asks it to abort and frees everything when it has ended (its
// promise then rejects); the stage refuses every call from now on either way.
Napi::Value Stage::Dispose(const Napi::CallbackInfo& info) {
    if (disposed || disposePending) return info.Env().Undefined();
    if (busy) {
        disposePending = true;
        aborted = true;
        return info.Env().Undefined();
    }
    DisposeNow();
    return info.Env().Undefined();
}

Napi::Value LoadStage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function ctor = env.GetInstanceData<Napi::FunctionReference>()->Value();
    Napi::Object obj = ctor.New({info[0], info[1]});
    Stage* stage = Stage::Unwrap(obj);
    stage->busy = true;
    return stage->Submit(env, new LoadJob(env, stage));
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
        throw Napi::TypeError::New(env, "quantize(inPath, outPath, ftype, threads?)");
    int ftype = static_cast<int>(CheckedInt(env, info[2], "ftype", 0, std::numeric_limits<int32_t>::max()));
    int threads = info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()
                      ? static_cast<int>(std::min<int64_t>(kMaxThreads, CheckedInt(env, info[3], "threads", 0, std::numeric_limits<int32_t>::max()))) : 0;
    auto* worker = new QuantizeWorker(env, info[0].As<Napi::String>(), info[1].As<Napi::String>(), ftype, threads);
    worker->Queue();
    return worker->Promise();
}
