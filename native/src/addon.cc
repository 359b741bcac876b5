// ltkit native addon: the only code that includes libtorch headers.
//
// It exposes (see src/engine/native.ts for the typed view):
//   - a tensor box (an at::Tensor inside a napi External, freed by a GC finalizer),
//   - one generic call of any ATen operator through the dispatcher, converting JS values
//     to IValues from the operator's schema (arguments, defaults, returns),
//   - tensor I/O (copy from/to typed arrays), autograd entry points, runtime settings.
// Every entry point turns C++ exceptions into a JS Error that names the op.

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/autograd/function.h>
#include <torch/version.h>
#include <c10/core/CPUAllocator.h>
#include <napi.h>
#include "common.h"
#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ltn {

// ------------------------------------------------------------- CPU allocator

// libtorch's CPU tensors come from posix_memalign(64). With glibc, a freed block of the same size is often a
// few bytes too small for the next aligned request once small allocations sit between blocks, so a loop
// that allocates and frees one activation per step can take a fresh block every step (RSS growing by the
// whole buffer per iteration). This allocator keeps freed blocks of 64 KiB and more in free lists by size
// class (1/8 steps of a power of two) and hands them out again, as PyTorch's CUDA caching allocator does:
// memory stays at the loop's peak, without page faults. Idle cached bytes are capped (LTKIT_CPU_CACHE_MB,
// default 1024); past the cap freed blocks go back to the system.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kHeader = 64;  // keeps the data 64-byte aligned; holds the block's size class
  static constexpr size_t kMinCached = 64 << 10;

  CachingCpuAllocator() {
    const char* mb = std::getenv("LTKIT_CPU_CACHE_MB");
    limit_ = (mb != nullptr ? static_cast<size_t>(std::strtoull(mb, nullptr, 10)) : 1024) << 20;
  }

  // c10::Allocator's interface differs between libtorch versions: 1.13 declares `allocate(size_t) const`,
  // 2.x `allocate(size_t)` and a pure `copy_data`. Both overloads are declared (without `override`, since
  // only one overrides in either version) so the same code builds against both; the class stays abstract,
  // and the build fails, if neither matches a future signature.
  c10::DataPtr allocate(size_t n) const { return take(n); }
  c10::DataPtr allocate(size_t n) { return take(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  c10::DeleterFnPtr raw_deleter() const override { return &Release; }

 private:
  c10::DataPtr take(size_t n) const {
    const size_t cls = sizeClass(n);
    void* base = nullptr;
    if (cls >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        base = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
      }
    }
    if (base == nullptr) {
      if (posix_memalign(&base, kHeader, kHeader + cls) != 0) {
        throw c10::Error({__func__, __FILE__, static_cast<uint32_t>(__LINE__)},
                         "out of memory allocating " + std::to_string(n) + " bytes");
      }
      *static_cast<size_t*>(base) = cls;
    }
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &Release, c10::Device(c10::DeviceType::CPU)};
  }

  static size_t sizeClass(size_t n) {
    if (n < kMinCached) return n == 0 ? 1 : n;
    size_t p = kMinCached;
    while (p <= n / 2) p *= 2;  // p ≤ n < 2p
    const size_t step = p / 8;
    return (n + step - 1) / step * step;
  }

  static void Release(void* data);
  void release(void* data) const {
    void* base = static_cast<char*>(data) - kHeader;
    const size_t cls = *static_cast<size_t*>(base);
    if (cls >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + cls <= limit_) {
        free_[cls].push_back(base);
        cached_ += cls;
        return;
      }
    }
    std::free(base);
  }

  size_t limit_;
  mutable std::mutex mu_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cached_ = 0;
};

// Never destroyed: tensors may outlive static destruction at exit.
CachingCpuAllocator* g_cpu_allocator = new CachingCpuAllocator();

void CachingCpuAllocator::Release(void* data) {
  if (data != nullptr) g_cpu_allocator->release(data);
}

// ---------------------------------------------------------------- tensor box

// Node-API "basic" finalizers (NAPI_EXPERIMENTAL; Node ≥ 20.10 / 18.20 headers) run inside garbage collection.
// Older headers have only regular finalizers, which Node runs on a later event-loop turn.
#ifdef NODE_API_EXPERIMENTAL_HAS_POST_FINALIZER
using FinalizeEnv = node_api_nogc_env;
#else
using FinalizeEnv = napi_env;
#endif

std::atomic<int64_t> g_live{0};       // boxes holding a defined tensor
std::atomic<int64_t> g_live_bytes{0}; // bytes those boxes reported to V8

struct Box {
  at::Tensor t;
  int64_t reported = 0;
};

int64_t tensorBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void releaseBox(FinalizeEnv env, Box* box) {
  if (!box->t.defined()) return;
  g_live--;
  g_live_bytes -= box->reported;
  if (env != nullptr && box->reported > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, -box->reported, &ignored);
  }
  box->reported = 0;
  box->t.reset();
}

void finalizeBox(FinalizeEnv env, void* data, void* /*hint*/) {
  Box* b = static_cast<Box*>(data);
  releaseBox(env, b);
  delete b;
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* box = new Box{std::move(t), 0};
  box->reported = tensorBytes(box->t);
  g_live++;
  g_live_bytes += box->reported;
  if (box->reported > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, box->reported, &ignored);
  }
  // A basic ("pure") finalizer: it only frees native memory, so Node runs it during garbage collection
  // itself. A regular finalizer waits for the event loop, and a loop that never yields would pile up
  // every collected tensor (the box and, when not disposed, its storage) until it does.
  napi_value v;
  napi_status st = napi_create_external(env, box, finalizeBox, nullptr, &v);
  if (st != napi_ok) {
    releaseBox(env, box);
    delete box;
    fail(env, "tensor: napi_create_external failed");
  }
  return Napi::Value(env, v);
}

[[noreturn]] void fail(Napi::Env env, const std::string& msg) {
  throw Napi::Error::New(env, msg);
}

[[noreturn]] void failType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

const at::Tensor& unbox(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) failType(env, std::string(what) + ": expected a Tensor");
  Box* box = v.As<Napi::External<Box>>().Data();
  if (!box->t.defined()) fail(env, std::string(what) + ": tensor was used after dispose()");
  return box->t;
}

// ----------------------------------------------------------- operator table

enum class Kind : uint8_t {
  Tensor, TensorList, OptTensorList, Int, IntList, Float, FloatList, Bool, BoolList,
  Scalar, String, Device, Generator, Unsupported
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;       // `T?`: null/undefined means None
  bool hasDefault;
  c10::IValue defaultValue;
};

struct RetSpec {
  Kind kind;
  bool aliasWrite;     // `Tensor(a!)`: the op returns its (mutated) input
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string label;   // "aten::name.overload" for error messages
  std::vector<ArgSpec> args;
  std::vector<RetSpec> rets;
  int deviceArg = -1;  // a factory op (no tensor arguments): the index of its `device` argument
};

std::vector<OpEntry> g_ops;

// The device factory ops use when the caller names none (setDefaultDevice; unset = CPU). Ops with a tensor
// argument keep their own rule (e.g. zeros_like follows its input).
c10::optional<c10::Device> g_default_device;

Kind kindOf(const c10::TypePtr& type, bool* optional) {
  c10::TypePtr t = type;
  *optional = false;
  if (t->kind() == c10::TypeKind::OptionalType) {
    *optional = true;
    t = t->castRaw<c10::OptionalType>()->getElementType();
  }
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: {
      auto elem = t->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::TensorType: return Kind::TensorList;
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType: return Kind::IntList;
        case c10::TypeKind::FloatType: return Kind::FloatList;
        case c10::TypeKind::BoolType: return Kind::BoolList;
        case c10::TypeKind::OptionalType:
          if (elem->castRaw<c10::OptionalType>()->getElementType()->kind() ==
              c10::TypeKind::TensorType)
            return Kind::OptTensorList;
          return Kind::Unsupported;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

int64_t toInt(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (!v.IsNumber()) failType(env, where + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    failType(env, where + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double toDouble(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
  if (!v.IsNumber()) failType(env, where + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Array asArray(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (!v.IsArray()) failType(env, where + ": expected an array");
  return v.As<Napi::Array>();
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const ArgSpec& a,
                     const std::string& op) {
  const std::string where = op + " argument '" + a.name + "'";
  if (v.IsUndefined()) {
    if (a.hasDefault) return a.defaultValue;
    if (a.optional || a.kind == Kind::Generator) return c10::IValue();
    failType(env, where + ": missing (no default)");
  }
  if (v.IsNull()) {
    if (a.optional || a.kind == Kind::Generator) return c10::IValue();
    failType(env, where + ": may not be null");
  }
  switch (a.kind) {
    case Kind::Tensor: return unbox(env, v, where.c_str());
    case Kind::TensorList: {
      auto arr = asArray(env, v, where);
      std::vector<at::Tensor> ts;
      ts.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); i++) ts.push_back(unbox(env, arr[i], where.c_str()));
      return c10::IValue(ts);
    }
    case Kind::OptTensorList: {
      auto arr = asArray(env, v, where);
      c10::List<c10::optional<at::Tensor>> ts;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value e = arr[i];
        if (e.IsNull() || e.IsUndefined()) ts.push_back(c10::nullopt);
        else ts.push_back(unbox(env, e, where.c_str()));
      }
      return c10::IValue(ts);
    }
    case Kind::Int: return toInt(env, v, where);
    case Kind::IntList: {
      if (v.IsNumber()) return c10::IValue(std::vector<int64_t>{toInt(env, v, where)});
      auto arr = asArray(env, v, where);
      std::vector<int64_t> xs(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); i++) xs[i] = toInt(env, arr[i], where);
      return c10::IValue(xs);
    }
    case Kind::Float: return toDouble(env, v, where);
    case Kind::FloatList: {
      auto arr = asArray(env, v, where);
      std::vector<double> xs(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); i++) xs[i] = toDouble(env, arr[i], where);
      return c10::IValue(xs);
    }
    case Kind::Bool:
      if (!v.IsBoolean()) failType(env, where + ": expected a boolean");
      return v.As<Napi::Boolean>().Value();
    case Kind::BoolList: {
      auto arr = asArray(env, v, where);
      c10::List<bool> xs;
      for (uint32_t i = 0; i < arr.Length(); i++) xs.push_back(Napi::Value(arr[i]).ToBoolean());
      return c10::IValue(xs);
    }
    case Kind::Scalar:
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      if (v.IsBigInt()) {
        bool lossless;
        return c10::IValue(v.As<Napi::BigInt>().Int64Value(&lossless));
      }
      if (!v.IsNumber()) failType(env, where + ": expected a number");
      {
        // Like Python: an integral value is an int Scalar (int tensors stay int), else a float.
        double d = v.As<Napi::Number>().DoubleValue();
        if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.007199254740992e15)
          return c10::IValue(static_cast<int64_t>(d));
        return c10::IValue(d);
      }
    case Kind::String:
      if (!v.IsString()) failType(env, where + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case Kind::Device:
      if (!v.IsString()) failType(env, where + ": expected a device string such as 'cpu'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case Kind::Generator: return c10::IValue();
    case Kind::Unsupported: break;
  }
  fail(env, where + ": this argument type is not supported by ltkit's generic call");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrap(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr[static_cast<uint32_t>(i)] = wrap(env, list.get(i));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++)
      arr[static_cast<uint32_t>(i)] = Napi::Number::New(env, static_cast<double>(list[i]));
    return arr;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  }
  fail(env, std::string("unsupported return type ") + v.tagKind());
}

// resolveOp(name, overload) -> id, cached in g_ops.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  std::string label = name + (overload.empty() ? "" : "." + overload);
  return guarded(env, label, [&]() -> Napi::Value {
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle) fail(env, label + ": no such operator in this libtorch");
    OpEntry entry{*handle, label, {}, {}};
    const auto& schema = handle->schema();
    for (const auto& a : schema.arguments()) {
      ArgSpec spec;
      spec.name = a.name();
      spec.kind = kindOf(a.type(), &spec.optional);
      spec.hasDefault = a.default_value().has_value();
      if (spec.hasDefault) spec.defaultValue = *a.default_value();
      entry.args.push_back(std::move(spec));
    }
    bool takesTensor = false;
    for (size_t i = 0; i < entry.args.size(); i++) {
      Kind k = entry.args[i].kind;
      if (k == Kind::Tensor || k == Kind::TensorList || k == Kind::OptTensorList) takesTensor = true;
      if (k == Kind::Device && entry.deviceArg < 0) entry.deviceArg = static_cast<int>(i);
    }
    if (takesTensor) entry.deviceArg = -1;
    for (const auto& r : schema.returns()) {
      bool opt;
      RetSpec spec{kindOf(r.type(), &opt), r.alias_info() != nullptr && r.alias_info()->isWrite()};
      entry.rets.push_back(spec);
    }
    g_ops.push_back(std::move(entry));
    return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
  });
}

// opSchema(name, overload) -> {schema, args: [{name, type, default, kwargOnly}], returns: [...]}
Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  return guarded(env, name, [&]() -> Napi::Value {
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle) return env.Null();
    const auto& schema = handle->schema();
    auto out = Napi::Object::New(env);
    std::ostringstream ss;
    ss << schema;
    out["schema"] = ss.str();
    auto args = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& a : schema.arguments()) {
      auto o = Napi::Object::New(env);
      o["name"] = a.name();
      o["type"] = a.real_type()->str();
      o["kwargOnly"] = a.kwarg_only();
      o["mutable"] = a.alias_info() != nullptr && a.alias_info()->isWrite();
      if (a.default_value()) {
        std::ostringstream d;
        d << *a.default_value();
        o["default"] = d.str();
      }
      args[i++] = o;
    }
    out["args"] = args;
    auto rets = Napi::Array::New(env);
    i = 0;
    for (const auto& r : schema.returns()) {
      auto o = Napi::Object::New(env);
      o["name"] = r.name();
      o["type"] = r.real_type()->str();
      o["aliasWrite"] = r.alias_info() != nullptr && r.alias_info()->isWrite();
      rets[i++] = o;
    }
    out["returns"] = rets;
    return out;
  });
}

// callOp(id, argsArray) -> Tensor | number | boolean | null | array (multiple returns)
// Returns that alias a mutated input (`Tensor(a!)`) come back as undefined: the JS side
// already holds that tensor.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= g_ops.size()) fail(env, "callOp: bad operator id");
  const OpEntry& op = g_ops[id];
  Napi::Array jsArgs = info[1].As<Napi::Array>();
  uint32_t n = jsArgs.Length();
  if (n > op.args.size())
    failType(env, op.label + ": expected at most " + std::to_string(op.args.size()) +
                      " arguments, got " + std::to_string(n));
  return guarded(env, op.label, [&]() -> Napi::Value {
    torch::jit::Stack stack;
    stack.reserve(op.args.size());
    for (size_t i = 0; i < op.args.size(); i++) {
      Napi::Value v = i < n ? jsArgs.Get(static_cast<uint32_t>(i)) : env.Undefined();
      stack.push_back(toIValue(env, v, op.args[i], op.label));
    }
    if (op.deviceArg >= 0 && g_default_device && stack[op.deviceArg].isNone())
      stack[op.deviceArg] = c10::IValue(*g_default_device);
    op.handle.callBoxed(&stack);
    const size_t nr = op.rets.size();
    if (nr == 0) return env.Undefined();
    if (nr == 1) return op.rets[0].aliasWrite ? env.Undefined() : fromIValue(env, stack[0]);
    auto arr = Napi::Array::New(env, nr);
    for (size_t i = 0; i < nr; i++)
      arr[static_cast<uint32_t>(i)] = op.rets[i].aliasWrite ? env.Undefined() : fromIValue(env, stack[i]);
    return arr;
  });
}

// ---------------------------------------------------------------- tensor I/O

// fromBuffer(typedArray, shape, dtypeCode, device) -> Tensor (a copy)
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "fromBuffer", [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) failType(env, "fromBuffer: expected a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    auto shapeArr = asArray(env, info[1], "fromBuffer shape");
    std::vector<int64_t> shape(shapeArr.Length());
    int64_t numel = 1;
    for (uint32_t i = 0; i < shapeArr.Length(); i++) {
      shape[i] = toInt(env, shapeArr[i], "fromBuffer shape");
      if (shape[i] < 0) fail(env, "fromBuffer: negative dimension in shape");
      numel *= shape[i];
    }
    auto dtype = static_cast<at::ScalarType>(toInt(env, info[2], "fromBuffer dtype"));
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t bytes = static_cast<size_t>(numel) * t.element_size();
    if (ta.ByteLength() != bytes)
      fail(env, "fromBuffer: data has " + std::to_string(ta.ByteLength()) + " bytes but shape " +
                    c10::str(t.sizes()) + " of " + c10::toString(dtype) + " needs " +
                    std::to_string(bytes));
    if (bytes > 0) {
      auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      std::memcpy(t.data_ptr(), src, bytes);
    }
    if (info.Length() > 3 && info[3].IsString()) {
      std::string dev = info[3].As<Napi::String>().Utf8Value();
      if (dev != "cpu") t = t.to(c10::Device(dev));
    }
    return wrap(env, std::move(t));
  });
}

// toBuffer(tensor) -> ArrayBuffer with the contiguous CPU bytes
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "toBuffer", [&]() -> Napi::Value {
    at::Tensor t = unbox(env, info[0], "toBuffer");
    c10::InferenceMode guard;
    t = t.detach().to(at::kCPU).contiguous();
    size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    auto buf = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    return buf;
  });
}

// meta(tensor) -> [shape, dtypeCode, device, requiresGrad]
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = unbox(env, info[0], "tensor");
  auto sizes = t.sizes();
  auto shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++)
    shape[static_cast<uint32_t>(i)] = Napi::Number::New(env, static_cast<double>(sizes[i]));
  auto out = Napi::Array::New(env, 4);
  out[0u] = shape;
  out[1u] = Napi::Number::New(env, static_cast<int>(t.scalar_type()));
  out[2u] = Napi::String::New(env, t.device().str());
  out[3u] = Napi::Boolean::New(env, t.requires_grad());
  return out;
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto sizes = unbox(env, info[0], "shape").sizes();
  auto shape = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++)
    shape[static_cast<uint32_t>(i)] = Napi::Number::New(env, static_cast<double>(sizes[i]));
  return shape;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) failType(env, "dispose: expected a Tensor");
  releaseBox(env, info[0].As<Napi::External<Box>>().Data());
  return env.Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) failType(env, "isDisposed: expected a Tensor");
  return Napi::Boolean::New(env, !info[0].As<Napi::External<Box>>().Data()->t.defined());
}

// ------------------------------------------------------------------ autograd

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "backward", [&]() -> Napi::Value {
    at::Tensor t = unbox(env, info[0], "backward");
    std::vector<at::Tensor> grads;
    if (info.Length() > 1 && info[1].IsExternal()) grads.push_back(unbox(env, info[1], "backward gradient"));
    bool retain = info.Length() > 2 && info[2].ToBoolean();
    bool create = info.Length() > 3 && info[3].ToBoolean();
    torch::autograd::backward({t}, grads, retain, create);
    return env.Undefined();
  });
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return wrap(env, unbox(env, info[0], "grad").grad());
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setGrad", [&]() -> Napi::Value {
    at::Tensor t = unbox(env, info[0], "setGrad");
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
    else t.mutable_grad() = unbox(env, info[1], "setGrad value");
    return env.Undefined();
  });
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "retainGrad", [&]() -> Napi::Value {
    unbox(env, info[0], "retainGrad").retain_grad();
    return env.Undefined();
  });
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "requiresGrad", [&]() -> Napi::Value {
    at::Tensor t = unbox(env, info[0], "requiresGrad");
    t.set_requires_grad(info[1].ToBoolean());
    return env.Undefined();
  });
}

Napi::Value GradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = unbox(env, info[0], "gradFn");
  auto fn = t.grad_fn();
  if (!fn) return env.Null();
  return Napi::String::New(env, fn->name());
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, unbox(env, info[0], "isLeaf").is_leaf());
}

// autogradGrad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "autograd.grad", [&]() -> Napi::Value {
    auto toList = [&](const Napi::Value& v, const char* what) {
      std::vector<at::Tensor> out;
      if (v.IsNull() || v.IsUndefined()) return out;
      auto arr = asArray(env, v, what);
      for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(unbox(env, arr[i], what));
      return out;
    };
    auto outputs = toList(info[0], "autograd.grad outputs");
    auto inputs = toList(info[1], "autograd.grad inputs");
    auto gradOutputs = toList(info[2], "autograd.grad gradOutputs");
    c10::optional<bool> retain;
    if (info[3].IsBoolean()) retain = info[3].ToBoolean().Value();
    bool create = info[4].ToBoolean();
    bool allowUnused = info[5].ToBoolean();
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    auto arr = Napi::Array::New(env, grads.size());
    for (size_t i = 0; i < grads.size(); i++) arr[static_cast<uint32_t>(i)] = wrap(env, grads[i]);
    return arr;
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean());
  return Napi::Boolean::New(env, prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ------------------------------------------------------------------- runtime

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "manualSeed", [&]() -> Napi::Value {
    uint64_t seed = static_cast<uint64_t>(toInt(env, info[0], "manualSeed"));
    // The CPU generator and every GPU's, as torch.manual_seed. at::manual_seed goes through
    // Context::defaultGenerator(Device), which 1.13 and 2.x both have; the CUDA hooks' accessor it used to
    // call by hand is getDefaultCUDAGenerator in 1.13 but getDefaultGenerator in recent 2.x (2.13 here).
    at::manual_seed(seed);
    return env.Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setNumThreads", [&]() -> Napi::Value {
    at::set_num_threads(static_cast<int>(toInt(env, info[0], "setNumThreads")));
    return env.Undefined();
  });
}

// setDefaultDevice('cuda:0' | 'cpu' | null): where factory ops put their results when no device is named.
Napi::Value SetDefaultDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "setDefaultDevice", [&]() -> Napi::Value {
    if (info[0].IsNull() || info[0].IsUndefined()) g_default_device = c10::nullopt;
    else g_default_device = c10::Device(info[0].As<Napi::String>().Utf8Value());
    return env.Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value Runtime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out["torchVersion"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH);
  out["cuda"] = at::hasCUDA();
  out["cudaDevices"] = at::hasCUDA() ? static_cast<int>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
  out["mkldnn"] = at::hasMKLDNN();
  out["openmp"] = at::hasOpenMP();
  out["parallelInfo"] = at::get_parallel_info();
#ifdef NODE_API_EXPERIMENTAL_HAS_POST_FINALIZER
  out["gcFreesTensors"] = true;  // collected tensors are freed inside garbage collection
#else
  out["gcFreesTensors"] = false;  // … on the next event-loop turn
#endif
  return out;
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env(), 2);
  out[0u] = Napi::Number::New(info.Env(), static_cast<double>(g_live.load()));
  out[1u] = Napi::Number::New(info.Env(), static_cast<double>(g_live_bytes.load()));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // glibc returns big buffers to the OS and faults them in again every step; keep them on the
  // heap instead. The mmap threshold must be at most 32 MiB (glibc rejects larger values), and
  // setting any of these turns off glibc's dynamic threshold, so all three are set together:
  // with the threshold left at 128 KiB every activation would be a fresh mmap (page faults made
  // elementwise ops ~30x slower here). Tensors above 32 MiB still use mmap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  // Tensor storage from the caching allocator above (priority above libtorch's default CPU allocator).
  c10::SetCPUAllocator(g_cpu_allocator, 100);
#define EXPORT(name) exports[#name] = Napi::Function::New(env, name, #name)
  EXPORT(ResolveOp); EXPORT(OpSchema); EXPORT(CallOp);
  EXPORT(FromBuffer); EXPORT(ToBuffer); EXPORT(Meta); EXPORT(Shape); EXPORT(Dispose);
  EXPORT(IsDisposed);
  EXPORT(Backward); EXPORT(Grad); EXPORT(SetGrad); EXPORT(RetainGrad); EXPORT(SetRequiresGrad);
  EXPORT(GradFn); EXPORT(IsLeaf); EXPORT(AutogradGrad); EXPORT(SetGradEnabled); EXPORT(IsGradEnabled);
  EXPORT(ManualSeed); EXPORT(SetNumThreads); EXPORT(GetNumThreads); EXPORT(Runtime);
  EXPORT(LiveTensors); EXPORT(SetDefaultDevice);
#undef EXPORT
  InitAmp(env, exports);
  InitDist(env, exports);
  return exports;
}

}  // namespace ltn

namespace {
Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ltn::Init(env, exports); }
}  // namespace

NODE_API_MODULE(ltkit, InitModule)
