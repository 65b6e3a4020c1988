#include <napi.h>

#include <cstring>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"
#include "stage.h"

namespace {

Napi::Value SystemInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("llamaSystemInfo", llama_print_system_info());
    Napi::Array devices = Napi::Array::New(env);
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        size_t free = 0, total = 0;
        ggml_backend_dev_memory(dev, &free, &total);
        Napi::Object d = Napi::Object::New(env);
        d.Set("name", ggml_backend_dev_name(dev));
        d.Set("description", ggml_backend_dev_description(dev));
        const char* type = "cpu";
        switch (ggml_backend_dev_type(dev)) {
            case GGML_BACKEND_DEVICE_TYPE_GPU: type = "gpu"; break;
            case GGML_BACKEND_DEVICE_TYPE_IGPU: type = "igpu"; break;
            case GGML_BACKEND_DEVICE_TYPE_ACCEL: type = "accel"; break;
            default: break;
        }
        d.Set("type", type);
        d.Set("freeBytes", static_cast<double>(free));
        d.Set("totalBytes", static_cast<double>(total));
        devices.Set(devices.Length(), d);
    }
    out.Set("devices", devices);
    return out;
}

// ggml's type table (block size, bytes per block), so the TS side can check its own copy.
Napi::Value TypeTraits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    for (int i = 0; i < GGML_TYPE_COUNT; i++) {
        const auto* traits = ggml_get_type_traits(static_cast<ggml_type>(i));
        if (traits->blck_size == 0 || traits->type_name == nullptr) continue;
        Napi::Object t = Napi::Object::New(env);
        t.Set("id", i);
        t.Set("name", traits->type_name);
        t.Set("blockSize", static_cast<double>(traits->blck_size));
        t.Set("typeSize", static_cast<double>(traits->type_size));
        out.Set(out.Length(), t);
    }
    return out;
}

// Activations travel as f16 when asked: conversions with ggml's own rounding.
Napi::Value F32ToF16(const Napi::CallbackInfo& info) {
    auto in = info[0].As<Napi::Float32Array>();
    auto out = Napi::Uint8Array::New(info.Env(), in.ElementLength() * 2);
    ggml_fp32_to_fp16_row(in.Data(), reinterpret_cast<ggml_fp16_t*>(out.Data()), static_cast<int64_t>(in.ElementLength()));
    return out;
}

Napi::Value F16ToF32(const Napi::CallbackInfo& info) {
    auto in = info[0].As<Napi::Uint8Array>();
    if (in.ByteLength() % 2 != 0) throw Napi::RangeError::New(info.Env(), "f16 data has an odd number of bytes");
    size_t n = in.ByteLength() / 2;
    std::vector<ggml_fp16_t> tmp(n);
    std::memcpy(tmp.data(), in.Data(), n * 2);  // the source may be unaligned
    auto out = Napi::Float32Array::New(info.Env(), n);
    ggml_fp16_to_fp32_row(tmp.data(), out.Data(), static_cast<int64_t>(n));
    return out;
}

// Backends are normally registered already by node-llama-cpp (same shared ggml); load them from
// the given folder only when none is.
Napi::Value EnsureBackends(const Napi::CallbackInfo& info) {
    if (ggml_backend_dev_count() == 0 && info.Length() > 0 && info[0].IsString()) {
        std::string dir = info[0].As<Napi::String>();
        ggml_backend_load_all_from_path(dir.c_str());
    }
    llama_backend_init();
    return Napi::Number::New(info.Env(), static_cast<double>(ggml_backend_dev_count()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function stageClass = Stage::Init(env);
    env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(stageClass)));
    exports.Set("Stage", stageClass);
    exports.Set("loadStage", Napi::Function::New(env, LoadStage));
    exports.Set("quantize", Napi::Function::New(env, Quantize));
    exports.Set("systemInfo", Napi::Function::New(env, SystemInfo));
    exports.Set("f32ToF16", Napi::Function::New(env, F32ToF16));
    exports.Set("f16ToF32", Napi::Function::New(env, F16ToF32));
    exports.Set("typeTraits", Napi::Function::New(env, TypeTraits));
    exports.Set("ensureBackends", Napi::Function::New(env, EnsureBackends));
    return exports;
}

}  // namespace

NODE_API_MODULE(hearth_stage, Init)
