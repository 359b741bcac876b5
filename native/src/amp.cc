// Mixed precision: autocast state (thread-local in libtorch, set on the JS thread that runs the ops).
//
// Autocast is a dispatch key (AutocastCPU, Autocast for CUDA) that libtorch keeps excluded from the thread's
// dispatch set until `set_*_enabled(true)`; while it is included, every operator call through the dispatcher —
// CallOp's boxed calls included — first reaches the autocast kernel, which casts the arguments to the region's
// dtype (conv, linear, matmul) or to float32 (losses, reductions) per libtorch's op lists
// (aten/src/ATen/autocast_mode.cpp). AutocastEnter/AutocastExit mirror torch/amp/autocast_mode.py's
// `autocast.__enter__` / `__exit__` (PyTorch 1.13): save the previous state, set enabled + dtype, bump the
// nesting counter; on exit, drop the cast cache when leaving the outermost region, then restore.
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "common.h"

namespace ltn {
namespace {

enum class AmpDevice { CPU, CUDA };

AmpDevice ampDevice(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) failType(env, std::string(what) + ": device must be 'cpu' or 'cuda'");
  const std::string d = v.As<Napi::String>().Utf8Value();
  if (d == "cpu") return AmpDevice::CPU;
  if (d == "cuda") return AmpDevice::CUDA;
  fail(env, std::string(what) + ": device '" + d + "' has no autocast here (allowed: cpu, cuda)");
}

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
// libtorch 2.4 made the state per device type (pytorch#124359); the per-device functions below print a
// deprecation warning on every call there.
c10::DeviceType deviceType(AmpDevice d) { return d == AmpDevice::CPU ? c10::DeviceType::CPU : c10::DeviceType::CUDA; }
bool isEnabled(AmpDevice d) { return at::autocast::is_autocast_enabled(deviceType(d)); }
at::ScalarType getDtype(AmpDevice d) { return at::autocast::get_autocast_dtype(deviceType(d)); }
void setState(AmpDevice d, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(deviceType(d), enabled);
  at::autocast::set_autocast_dtype(deviceType(d), dtype);
}
#else
bool isEnabled(AmpDevice d) { return d == AmpDevice::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled(); }
at::ScalarType getDtype(AmpDevice d) {
  return d == AmpDevice::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void setState(AmpDevice d, bool enabled, at::ScalarType dtype) {
  if (d == AmpDevice::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  }
}
#endif

at::ScalarType lowDtype(Napi::Env env, const Napi::Value& v, const char* what) {
  auto dtype = static_cast<at::ScalarType>(toInt(env, v, std::string(what) + " dtype"));
  if (dtype != at::kBFloat16 && dtype != at::kHalf && dtype != at::kFloat)
    fail(env, std::string(what) + ": dtype " + c10::toString(dtype) + " is not an autocast dtype (bfloat16, float16)");
  return dtype;
}

// autocastEnter(device, dtypeCode) -> [prevEnabled, prevDtypeCode, prevCacheEnabled]
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "autocastEnter", [&]() -> Napi::Value {
    const AmpDevice d = ampDevice(env, info[0], "autocastEnter");
    const at::ScalarType dtype = lowDtype(env, info[1], "autocastEnter");
    auto prev = Napi::Array::New(env, 3);
    prev[0u] = Napi::Boolean::New(env, isEnabled(d));
    prev[1u] = Napi::Number::New(env, static_cast<int>(getDtype(d)));
    prev[2u] = Napi::Boolean::New(env, at::autocast::is_autocast_cache_enabled());
    setState(d, true, dtype);
    at::autocast::increment_nesting();
    at::autocast::set_autocast_cache_enabled(true);
    return prev;
  });
}

// autocastExit(device, prevEnabled, prevDtypeCode, prevCacheEnabled) -> nesting depth after leaving
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "autocastExit", [&]() -> Napi::Value {
    const AmpDevice d = ampDevice(env, info[0], "autocastExit");
    const bool prevEnabled = info[1].ToBoolean();
    const at::ScalarType prevDtype = lowDtype(env, info[2], "autocastExit");
    const bool prevCache = info[3].ToBoolean();
    const int depth = at::autocast::decrement_nesting();
    // The cache holds the low-precision copies of leaf weights made inside the region (one cast per weight and
    // step); they must not outlive the outermost region, or an optimizer step would leave them stale.
    if (depth == 0) at::autocast::clear_cache();
    setState(d, prevEnabled, prevDtype);
    at::autocast::set_autocast_cache_enabled(prevCache);
    return Napi::Number::New(env, depth);
  });
}

// autocastState(device) -> [enabled, dtypeCode]
Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "autocastState", [&]() -> Napi::Value {
    const AmpDevice d = ampDevice(env, info[0], "autocastState");
    auto out = Napi::Array::New(env, 2);
    out[0u] = Napi::Boolean::New(env, isEnabled(d));
    out[1u] = Napi::Number::New(env, static_cast<int>(getDtype(d)));
    return out;
  });
}

}  // namespace

void InitAmp(Napi::Env env, Napi::Object exports) {
  exports["AutocastEnter"] = Napi::Function::New(env, AutocastEnter, "AutocastEnter");
  exports["AutocastExit"] = Napi::Function::New(env, AutocastExit, "AutocastExit");
  exports["AutocastState"] = Napi::Function::New(env, AutocastState, "AutocastState");
}

}  // namespace ltn
