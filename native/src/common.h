// Shared by the addon's translation units (addon.cc: tensors and operators; amp.cc: autocast;
// dist.cc: process groups). Only these files include libtorch headers.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>

namespace ltn {

// A JS value holding a tensor (an External box; freed by a GC finalizer).
Napi::Value wrap(Napi::Env env, at::Tensor t);
// The tensor inside a box; a TypeError when v is not a tensor, an Error when it was disposed.
const at::Tensor& unbox(Napi::Env env, const Napi::Value& v, const char* what);

[[noreturn]] void fail(Napi::Env env, const std::string& msg);
[[noreturn]] void failType(Napi::Env env, const std::string& msg);

int64_t toInt(Napi::Env env, const Napi::Value& v, const std::string& where);
double toDouble(Napi::Env env, const Napi::Value& v, const std::string& where);
Napi::Array asArray(Napi::Env env, const Napi::Value& v, const std::string& where);

// Runs fn and converts every C++ exception into a JS Error that names `what`.
template <typename F>
Napi::Value guarded(Napi::Env env, const std::string& what, F&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail(env, what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(env, what + ": " + e.what());
  }
}

// Each translation unit adds its entry points to the addon's exports.
void InitAmp(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);

}  // namespace ltn
