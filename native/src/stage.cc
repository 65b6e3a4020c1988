#include "stage.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "ggml-backend.h"
#include "ggml-cpu.h"

namespace {

bool EvalCallback(ggml_tensor* t, bool ask, void* userData) {
    auto* stage = static_cast<Stage*>(userData);
    bool wanted = stage->capturing && stage->captureName == ggml_get_name(t);
    if (ask) return wanted;
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

template <typename T>
T Opt(const Napi::Object& o, const char* key, T fallback) {
    if (!o.Has(key)) return fallback;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if constexpr (std::is_same_v<T, bool>) return v.ToBoolean().Value();
    else return static_cast<T>(v.ToNumber().DoubleValue());
}

SamplerParams ParseSampler(const Napi::Object& o) {
    SamplerParams p;
    p.temperature = Opt<float>(o, "temperature", p.temperature);
    p.topK = Opt<int32_t>(o, "topK", p.topK);
    p.topP = Opt<float>(o, "topP", p.topP);
    p.minP = Opt<float>(o, "minP", p.minP);
    p.repeatPenalty = Opt<float>(o, "repeatPenalty", p.repeatPenalty);
    p.repeatLastN = Opt<int32_t>(o, "repeatLastN", p.repeatLastN);
    p.frequencyPenalty = Opt<float>(o, "frequencyPenalty", p.frequencyPenalty);
    p.presencePenalty = Opt<float>(o, "presencePenalty", p.presencePenalty);
    p.seed = Opt<uint32_t>(o, "seed", p.seed);
    return p;
}

class LoadWorker : public Napi::AsyncWorker {
   public:
    LoadWorker(Napi::Env env, Napi::Object stageObj)
        : Napi::AsyncWorker(env, "hearth.loadStage"), deferred(Napi::Promise::Deferred::New(env)) {
        ref = Napi::Persistent(stageObj);
        stage = Stage::Unwrap(stageObj);
    }
    void Execute() override {
        try {
            stage->LoadBlocking();
        } catch (const std::exception& e) {
            SetError(e.what());
        }
    }
    void OnOK() override { deferred.Resolve(ref.Value()); }
    void OnError(const Napi::Error& e) override { deferred.Reject(e.Value()); }
    Napi::Promise Promise() { return deferred.Promise(); }

   private:
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference ref;
    Stage* stage;
};

class ForwardWorker : public Napi::AsyncWorker {
   public:
    ForwardWorker(Napi::Env env, Napi::Object stageObj, ForwardRequest request)
        : Napi::AsyncWorker(env, "hearth.forward"), deferred(Napi::Promise::Deferred::New(env)), req(std::move(request)) {
        ref = Napi::Persistent(stageObj);
        stage = Stage::Unwrap(stageObj);
    }
    void Execute() override {
        try {
            result = stage->ForwardBlocking(req);
        } catch (const std::exception& e) {
            SetError(e.what());
        }
        stage->busy = false;
    }
    void OnOK() override {
        Napi::Env env = Env();
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
    void OnError(const Napi::Error& e) override { deferred.Reject(e.Value()); }
    Napi::Promise Promise() { return deferred.Promise(); }

   private:
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference ref;
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

}  // namespace

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
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
        throw Napi::TypeError::New(info.Env(), "Stage(path, options)");
    path = info[0].As<Napi::String>();
    Napi::Object o = info[1].As<Napi::Object>();
    gpuLayers = Opt<int32_t>(o, "gpuLayers", 0);
    contextSize = Opt<uint32_t>(o, "contextSize", 4096);
    batchSize = Opt<uint32_t>(o, "batchSize", 512);
    maxSequences = Opt<uint32_t>(o, "maxSequences", 1);
    threads = Opt<int32_t>(o, "threads", 0);
    flashAttention = Opt<int32_t>(o, "flashAttention", -1);
    threadPolling = std::min(100, std::max(0, Opt<int32_t>(o, "threadPolling", 0)));
    if (o.Has("inputTable") && o.Get("inputTable").IsObject()) {
        Napi::Object t = o.Get("inputTable").As<Napi::Object>();
        inputTableOffset = Opt<int64_t>(t, "offset", -1);
        inputTable.type = static_cast<ggml_type>(Opt<int32_t>(t, "type", 0));
        inputTable.nRows = Opt<int64_t>(t, "rows", 0);
        inputTable.nEmbd = Opt<int64_t>(t, "embd", 0);
    }
    if (contextSize == 0 || batchSize == 0 || maxSequences == 0)
        throw Napi::RangeError::New(info.Env(), "contextSize, batchSize and maxSequences must be positive");
}

Stage::~Stage() { FreeAll(); }

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
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = gpuLayers;
    model = llama_model_load_from_file(path.c_str(), mp);
    if (!model) throw std::runtime_error("llama.cpp could not load " + path + " (see the log for the reason)");

    if (inputTableOffset >= 0) {
        if (inputTable.type >= GGML_TYPE_COUNT || ggml_get_type_traits(inputTable.type)->blck_size == 0)
            throw std::runtime_error("input embedding table has an unknown ggml type");
        if (inputTable.nEmbd != llama_model_n_embd_inp(model))
            throw std::runtime_error("input embedding table width " + std::to_string(inputTable.nEmbd) +
                                     " does not match the model's n_embd " + std::to_string(llama_model_n_embd_inp(model)));
        if (inputTable.type != GGML_TYPE_F32 && ggml_get_type_traits(inputTable.type)->to_float == nullptr)
            throw std::runtime_error(std::string("no dequantizer for input table type ") + ggml_type_name(inputTable.type));
        inputTable.rowBytes = ggml_row_size(inputTable.type, inputTable.nEmbd);
        size_t bytes = inputTable.rowBytes * static_cast<size_t>(inputTable.nRows);
        std::ifstream f(path, std::ios::binary);
        if (!f) throw std::runtime_error("cannot open " + path);
        f.seekg(inputTableOffset);
        inputTable.data.resize(bytes);
        f.read(reinterpret_cast<char*>(inputTable.data.data()), static_cast<std::streamsize>(bytes));
        if (static_cast<size_t>(f.gcount()) != bytes) throw std::runtime_error("input embedding table is truncated in " + path);
    }

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = contextSize * maxSequences;  // one KV stream of contextSize cells per sequence
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
    if (!hasHead || inputTableOffset >= 0) {
        cp.cb_eval = EvalCallback;
        cp.cb_eval_user_data = this;
    }
    cp.abort_callback = AbortCallback;
    cp.abort_callback_data = this;
    cp.no_perf = true;
    ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        llama_model_free(model);
        model = nullptr;
        throw std::runtime_error("llama.cpp could not create a context for " + path +
                                 " (out of memory? lower contextSize or maxSequences; see the log)");
    }
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

ForwardResult Stage::ForwardBlocking(ForwardRequest& req) {
    if (!ctx) throw std::runtime_error("stage is not loaded or was disposed");
    const int32_t nEmbd = llama_model_n_embd_inp(model);
    const bool byToken = !req.tokens.empty();
    const int32_t n = byToken ? static_cast<int32_t>(req.tokens.size()) : static_cast<int32_t>(req.hidden.size() / nEmbd);
    if (n <= 0) throw std::runtime_error("empty batch");
    if (!byToken && req.hidden.size() != static_cast<size_t>(n) * nEmbd)
        throw std::runtime_error("hidden-state batch size is not a multiple of n_embd " + std::to_string(nEmbd));
    if (static_cast<uint32_t>(n) > batchSize)
        throw std::runtime_error("batch of " + std::to_string(n) + " tokens exceeds the stage batch size " + std::to_string(batchSize));
    if (req.segments.empty()) throw std::runtime_error("a batch needs at least one segment");
    int32_t covered = 0;
    bool wantsHead = false;
    for (const Segment& sg : req.segments) {
        if (sg.seqId < 0 || static_cast<uint32_t>(sg.seqId) >= maxSequences)
            throw std::runtime_error("sequence id " + std::to_string(sg.seqId) + " out of range [0, " + std::to_string(maxSequences) + ")");
        if (sg.pos < 0 || sg.n <= 0) throw std::runtime_error("bad segment position or length");
        for (const Segment& other : req.segments)
            if (&other != &sg && other.seqId == sg.seqId) throw std::runtime_error("a sequence appears twice in one batch");
        covered += sg.n;
        wantsHead = wantsHead || sg.logitsMode != 0 || sg.sample;
    }
    if (covered != n) throw std::runtime_error("segments cover " + std::to_string(covered) + " tokens but the batch has " + std::to_string(n));
    if (wantsHead && llama_vocab_n_tokens(llama_model_get_vocab(model)) <= 1)
        throw std::runtime_error("this stage has no output head (it is not the last stage)");

    const bool useTable = byToken && inputTable.loaded();
    llama_batch batch = llama_batch_init(n, (useTable || !byToken) ? nEmbd : 0, 1);
    std::unique_ptr<llama_batch, void (*)(llama_batch*)> guard(&batch, [](llama_batch* b) { llama_batch_free(*b); });
    batch.n_tokens = n;
    if (useTable) {
        const auto* traits = ggml_get_type_traits(inputTable.type);
        for (int32_t i = 0; i < n; i++) {
            llama_token tok = req.tokens[i];
            if (tok < 0 || tok >= inputTable.nRows)
                throw std::runtime_error("token id " + std::to_string(tok) + " out of range [0, " + std::to_string(inputTable.nRows) + ")");
            const uint8_t* row = inputTable.data.data() + static_cast<size_t>(tok) * inputTable.rowBytes;
            float* dst = batch.embd + static_cast<size_t>(i) * nEmbd;
            if (inputTable.type == GGML_TYPE_F32) std::memcpy(dst, row, nEmbd * sizeof(float));
            else traits->to_float(row, dst, nEmbd);
        }
    } else if (byToken) {
        const int32_t nVocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
        for (int32_t i = 0; i < n; i++) {
            if (req.tokens[i] < 0 || req.tokens[i] >= nVocab)
                throw std::runtime_error("token id " + std::to_string(req.tokens[i]) + " out of range [0, " + std::to_string(nVocab) + ")");
            batch.token[i] = req.tokens[i];
        }
    } else {
        std::memcpy(batch.embd, req.hidden.data(), req.hidden.size() * sizeof(float));
    }
    int32_t i = 0;
    for (const Segment& sg : req.segments) {
        for (int32_t k = 0; k < sg.n; k++, i++) {
            batch.pos[i] = sg.pos + k;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = sg.seqId;
            bool last = k == sg.n - 1;
            batch.logits[i] = (req.outputHidden || sg.logitsMode == 2 || (last && (sg.logitsMode == 1 || sg.sample))) ? 1 : 0;
        }
    }

    captured.clear();
    captureError.clear();
    capturing = req.outputHidden;
    if (capturing) captured.reserve(static_cast<size_t>(n) * llama_model_n_embd(model));

    auto t0 = std::chrono::steady_clock::now();
    int32_t rc = llama_decode(ctx, batch);
    capturing = false;
    if (rc != 0) throw std::runtime_error(DecodeError(rc));
    ForwardResult res;
    res.nTokens = n;
    if (req.outputHidden) {
        if (!captureError.empty()) throw std::runtime_error(captureError);
        size_t want = static_cast<size_t>(n) * llama_model_n_embd(model);
        if (captured.size() != want)
            throw std::runtime_error("captured " + std::to_string(captured.size()) + " hidden values, expected " + std::to_string(want));
        res.hidden.swap(captured);
    }
    const int32_t nVocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    int32_t start = 0;
    for (const Segment& sg : req.segments) {
        SegmentResult out;
        int32_t lastIdx = start + sg.n - 1;
        if (sg.logitsMode == 1) {
            const float* l = llama_get_logits_ith(ctx, lastIdx);
            out.logits.assign(l, l + nVocab);
        } else if (sg.logitsMode == 2) {
            out.logits.resize(static_cast<size_t>(sg.n) * nVocab);
            for (int32_t k = 0; k < sg.n; k++)
                std::memcpy(out.logits.data() + static_cast<size_t>(k) * nVocab, llama_get_logits_ith(ctx, start + k), nVocab * sizeof(float));
        }
        if (sg.sample) {
            llama_sampler* smpl = SamplerFor(sg.seqId);
            for (llama_token t : sg.accept) llama_sampler_accept(smpl, t);
            out.token = llama_sampler_sample(smpl, ctx, lastIdx);
        }
        res.segments.push_back(std::move(out));
        start += sg.n;
    }
    res.computeMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

Napi::Value Stage::Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "forward(request)");
    if (!ctx) throw Napi::Error::New(env, "stage is not loaded or was disposed");
    Napi::Object o = info[0].As<Napi::Object>();
    ForwardRequest req;
    req.outputHidden = Opt<bool>(o, "outputHidden", false);
    if (!o.Has("segments") || !o.Get("segments").IsArray()) throw Napi::TypeError::New(env, "forward needs segments (an array)");
    Napi::Array segs = o.Get("segments").As<Napi::Array>();
    for (uint32_t k = 0; k < segs.Length(); k++) {
        if (!segs.Get(k).IsObject()) throw Napi::TypeError::New(env, "each segment must be an object");
        Napi::Object so = segs.Get(k).As<Napi::Object>();
        Segment sg;
        sg.seqId = Opt<int32_t>(so, "seqId", 0);
        sg.pos = Opt<int32_t>(so, "pos", 0);
        sg.n = Opt<int32_t>(so, "n", 0);
        sg.logitsMode = Opt<int32_t>(so, "logits", 0);
        sg.sample = Opt<bool>(so, "sample", false);
        if (so.Has("accept") && so.Get("accept").IsTypedArray()) {
            auto a = so.Get("accept").As<Napi::Int32Array>();
            sg.accept.assign(a.Data(), a.Data() + a.ElementLength());
        }
        req.segments.push_back(std::move(sg));
    }
    if (o.Has("tokens") && o.Get("tokens").IsTypedArray()) {
        auto a = o.Get("tokens").As<Napi::Int32Array>();
        req.tokens.assign(a.Data(), a.Data() + a.ElementLength());
    }
    if (o.Has("hidden") && o.Get("hidden").IsTypedArray()) {
        auto a = o.Get("hidden").As<Napi::Float32Array>();
        req.hidden.assign(a.Data(), a.Data() + a.ElementLength());
    }
    if (req.tokens.empty() == req.hidden.empty()) throw Napi::TypeError::New(env, "forward needs exactly one of tokens (Int32Array) or hidden (Float32Array)");
    bool expected = false;
    if (!busy.compare_exchange_strong(expected, true)) throw Napi::Error::New(env, "stage is busy: calls must be serialized");
    auto* worker = new ForwardWorker(env, Value(), std::move(req));
    worker->Queue();
    return worker->Promise();
}

Napi::Value Stage::RemoveSequence(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ctx) throw Napi::Error::New(env, "stage is not loaded or was disposed");
    if (busy) throw Napi::Error::New(env, "stage is busy: calls must be serialized");
    int32_t seqId = info[0].As<Napi::Number>().Int32Value();
    int32_t fromPos = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
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
    if (busy) throw Napi::Error::New(env, "stage is busy: calls must be serialized");
    int32_t seqId = info[0].As<Napi::Number>().Int32Value();
    auto it = samplers.find(seqId);
    if (it != samplers.end()) {
        llama_sampler_free(it->second);
        samplers.erase(it);
    }
    if (info.Length() > 1 && info[1].IsObject()) samplerParams[seqId] = ParseSampler(info[1].As<Napi::Object>());
    else samplerParams.erase(seqId);
    return env.Undefined();
}

Napi::Value Stage::Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!model) throw Napi::Error::New(env, "stage is not loaded or was disposed");
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

Napi::Value Stage::Dispose(const Napi::CallbackInfo& info) {
    if (busy) {
        aborted = true;
        throw Napi::Error::New(info.Env(), "stage is busy; the running computation was asked to abort, dispose again when it ends");
    }
    FreeAll();
    return info.Env().Undefined();
}

Napi::Value LoadStage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Function ctor = env.GetInstanceData<Napi::FunctionReference>()->Value();
    Napi::Object obj = ctor.New({info[0], info[1]});
    auto* worker = new LoadWorker(env, obj);
    worker->Queue();
    return worker->Promise();
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
        throw Napi::TypeError::New(env, "quantize(inPath, outPath, ftype, threads?)");
    int threads = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
    auto* worker = new QuantizeWorker(env, info[0].As<Napi::String>(), info[1].As<Napi::String>(),
                                      info[2].As<Napi::Number>().Int32Value(), threads);
    worker->Queue();
    return worker->Promise();
}
