// Process groups (c10d): PyTorch's own distributed runtime, as torch.distributed uses it.
//
// A group is Gloo (CPU tensors) or NCCL (CUDA tensors, CUDA builds only) over a TCPStore (MASTER_ADDR:PORT;
// rank 0 hosts it unless told otherwise) or a FileStore. Collectives run on the backend's own threads; the JS
// thread waits on each with the group's timeout, so a dead peer ends in an Error, never a hang. GradReducer
// is c10d::Reducer — DDP's gradient bucketing with allreduce overlapped with backward through autograd hooks —
// driven as torch/nn/parallel/distributed.py drives it (PyTorch 1.13).
//
// binding.gyp defines USE_C10D_GLOO / USE_C10D_NCCL when scripts/setup.sh found them; without either, every
// entry point but DistSupport throws, and DistSupport says nothing was compiled in.
#include "common.h"

#include <torch/version.h>

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
#define LTKIT_C10D 1
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/csrc/autograd/custom_function.h>
#endif
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ltn {

namespace {

#ifdef USE_C10D_GLOO
constexpr bool kGloo = true;
#else
constexpr bool kGloo = false;
#endif
#ifdef USE_C10D_NCCL
constexpr bool kNccl = true;
#else
constexpr bool kNccl = false;
#endif

// DistSupport() -> {gloo, nccl}: what this addon was compiled with (the TS side adds the reasons).
Napi::Value DistSupport(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out["gloo"] = kGloo;
  out["nccl"] = kNccl;
  return out;
}

#ifdef LTKIT_C10D

using Ms = std::chrono::milliseconds;

// Externals are tagged so a tensor box can never be taken for a group or a reducer.
const napi_type_tag kGroupTag = {0x6c746b6974646973ULL, 0x7470726f63677270ULL};
const napi_type_tag kReducerTag = {0x6c746b6974646973ULL, 0x747265647563722eULL};

struct Group {
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank = 0, size = 1;
  std::string backend;
  Ms timeout{0};
  std::string label(const std::string& op) const {
    return "process group " + op + " (rank " + std::to_string(rank) + " of " + std::to_string(size) + ", " +
           backend + ")";
  }
};

struct ReducerBox {
  std::unique_ptr<c10d::Reducer> reducer;
  std::string where;  // the group's label, for messages
  bool findUnused = false;
};

template <typename T>
T* untag(Napi::Env env, const Napi::Value& v, const napi_type_tag& tag, const std::string& what) {
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &tag, &ok);
  if (!ok) failType(env, what + ": expected a " + (&tag == &kGroupTag ? "process group" : "GradReducer"));
  return v.As<Napi::External<T>>().Data();
}

Group& group(Napi::Env env, const Napi::Value& v, const std::string& op) {
  Group* g = untag<Group>(env, v, kGroupTag, "process group " + op);
  if (!g->pg) fail(env, g->label(op) + ": the process group was destroyed");
  return *g;
}

std::vector<at::Tensor> tensors(Napi::Env env, const Napi::Value& v, const std::string& where) {
  auto arr = asArray(env, v, where);
  std::vector<at::Tensor> ts;
  for (uint32_t i = 0; i < arr.Length(); i++) ts.push_back(unbox(env, arr[i], where.c_str()));
  return ts;
}

// Waits for a collective with the group's timeout; c10d rethrows the backend's error (a closed connection when
// a peer died, Gloo's own timeout) or throws "Operation timed out!".
void finish(const Group& g, const c10::intrusive_ptr<c10d::Work>& work) {
  if (!work->wait(g.timeout)) throw std::runtime_error("the collective was aborted");
}

// Gloo and NCCL reduce lists of same-shaped replicas (one per device), not lists of different tensors: run the
// collective once per dtype/device over a flat buffer of that group's tensors and copy the results back in place
// (as torch.distributed's coalesced helpers do). A lone contiguous tensor is used as it is.
template <typename F>
void coalesced(std::vector<at::Tensor>& ts, F&& collective) {
  at::NoGradGuard noGrad;
  std::vector<bool> taken(ts.size(), false);
  for (size_t i = 0; i < ts.size(); i++) {
    if (taken[i]) continue;
    std::vector<at::Tensor> same;
    for (size_t j = i; j < ts.size(); j++) {
      if (taken[j] || ts[j].scalar_type() != ts[i].scalar_type() || ts[j].device() != ts[i].device()) continue;
      taken[j] = true;
      same.push_back(ts[j]);
    }
    if (same.size() == 1 && same[0].is_contiguous()) {
      collective(same[0]);
      continue;
    }
    std::vector<at::Tensor> flat;
    for (const auto& t : same) flat.push_back(t.reshape({-1}));
    at::Tensor buf = at::cat(flat);
    collective(buf);
    int64_t off = 0;
    for (auto& t : same) {
      t.copy_(buf.narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

c10::intrusive_ptr<c10d::Store> makeStore(Napi::Env env, const Napi::Object& s, int size, Ms timeout) {
  const std::string kind = s.Get("kind").ToString().Utf8Value();
  c10::intrusive_ptr<c10d::Store> store;
  if (kind == "tcp") {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(toInt(env, s.Get("port"), "store.port"));
    o.isServer = s.Get("server").ToBoolean();
    o.numWorkers = static_cast<size_t>(size);
    o.waitWorkers = true;  // every instance counts itself in; the server waits for all of them
    o.timeout = timeout;
    o.multiTenant = true;  // like torch.distributed's env:// rendezvous
    store = c10::make_intrusive<c10d::TCPStore>(s.Get("host").ToString().Utf8Value(), o);
  } else if (kind == "file") {
    store = c10::make_intrusive<c10d::FileStore>(s.Get("path").ToString().Utf8Value(), size);
  } else {
    failType(env, "process group store.kind: '" + kind + "' (allowed: tcp, file)");
  }
  store->setTimeout(timeout);
  if (s.Get("prefix").IsString()) store = c10::make_intrusive<c10d::PrefixStore>(s.Get("prefix").ToString(), store);
  return store;
}

#if TORCH_VERSION_MAJOR >= 2
// libtorch 2.x splits a group into a ProcessGroup front and per-device backends (as dist.init_process_group does).
c10::intrusive_ptr<c10d::ProcessGroup> front(const c10::intrusive_ptr<c10d::Store>& store, const Group& g,
                                             c10::intrusive_ptr<c10d::Backend> b, c10::DeviceType dev,
                                             c10d::ProcessGroup::BackendType type) {
  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, g.rank, g.size);
  pg->setDefaultBackend(type);
  pg->setBackend(dev, type, b);
  return pg;
}
#define AS_GROUP(b, dev, type) front(store, *g, b, c10::DeviceType::dev, c10d::ProcessGroup::BackendType::type)
#else
#define AS_GROUP(b, dev, type) (b)  // 1.13: the backend is the group
#endif

// PgNew({rank, worldSize, backend, timeoutMs, store: {kind, host, port, server, path, prefix}, gloo: {host,
// iface}}) -> group. Blocks until every rank has joined (or the timeout).
Napi::Value PgNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) failType(env, "initProcessGroup: expected an options object");
  auto o = info[0].As<Napi::Object>();
  auto g = std::make_unique<Group>();
  g->rank = static_cast<int>(toInt(env, o.Get("rank"), "initProcessGroup rank"));
  g->size = static_cast<int>(toInt(env, o.Get("worldSize"), "initProcessGroup worldSize"));
  g->backend = o.Get("backend").ToString().Utf8Value();
  g->timeout = Ms(toInt(env, o.Get("timeoutMs"), "initProcessGroup timeoutMs"));
  if (!o.Get("store").IsObject()) failType(env, "initProcessGroup store: expected an object");
  return guarded(env, g->label("init"), [&]() -> Napi::Value {
    auto store = makeStore(env, o.Get("store").As<Napi::Object>(), g->size, g->timeout);
    if (g->backend == "gloo") {
#ifdef USE_C10D_GLOO
      using PGG = c10d::ProcessGroupGloo;
      auto opts = PGG::Options::create(g->timeout);
      auto dev = o.Get("gloo").IsObject() ? o.Get("gloo").As<Napi::Object>() : Napi::Object::New(env);
      if (dev.Has("iface")) opts->devices.push_back(PGG::createDeviceForInterface(dev.Get("iface").ToString()));
      else if (dev.Has("host")) opts->devices.push_back(PGG::createDeviceForHostname(dev.Get("host").ToString()));
      else opts->devices.push_back(PGG::createDefaultDevice());
      g->pg = AS_GROUP(c10::make_intrusive<PGG>(store, g->rank, g->size, opts), CPU, GLOO);
#else
      fail(env, g->label("init") + ": this addon was built without Gloo");
#endif
    } else if (g->backend == "nccl") {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->pg = AS_GROUP(c10::make_intrusive<c10d::ProcessGroupNCCL>(store, g->rank, g->size, opts), CUDA, NCCL);
#else
      fail(env, g->label("init") + ": this addon was built without NCCL (a CUDA libtorch is needed)");
#endif
    } else {
      failType(env, "initProcessGroup backend: '" + g->backend + "' (allowed: gloo, nccl)");
    }
    auto ext = Napi::External<Group>::New(env, g.release(), [](Napi::Env, Group* p) { delete p; });
    napi_type_tag_object(env, ext, &kGroupTag);
    return ext;
  });
}

// PgAllreduce(group, tensors, op): in place; 'avg' sums and divides by the world size (Gloo has no AVG).
Napi::Value PgAllreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "allreduce");
  auto ts = tensors(env, info[1], g.label("allreduce"));
  const std::string op = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "sum";
  c10d::AllreduceOptions opts;
  if (op == "sum" || op == "avg") opts.reduceOp = c10d::ReduceOp::SUM;
  else if (op == "max") opts.reduceOp = c10d::ReduceOp::MAX;
  else if (op == "min") opts.reduceOp = c10d::ReduceOp::MIN;
  else failType(env, g.label("allreduce") + ": op '" + op + "' (allowed: sum, avg, max, min)");
  return guarded(env, g.label("allreduce " + op), [&]() -> Napi::Value {
    coalesced(ts, [&](at::Tensor& t) {
      TORCH_CHECK(op != "avg" || at::isFloatingType(t.scalar_type()), "avg needs floating-point tensors, got ",
                  t.scalar_type());
      std::vector<at::Tensor> one{t};
      finish(g, g.pg->allreduce(one, opts));
      if (op == "avg") t.div_(g.size);
    });
    return env.Undefined();
  });
}

// A differentiable sum over ranks (what SyncBatchNorm's statistics need): forward y = Σ_r x_r; backward
// ∂L/∂x_r = Σ_r' ∂L_r'/∂y — every rank's gradient of y summed, as torch.distributed.nn's all_reduce does.
void sumOverRanks(const Group& g, at::Tensor& t) {
  std::vector<at::Tensor> one{t};
  finish(g, g.pg->allreduce(one, c10d::AllreduceOptions()));
}

struct SumOverRanks : public torch::autograd::Function<SumOverRanks> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t group) {
    ctx->saved_data["group"] = group;
    at::Tensor y = x.contiguous().clone();
    sumOverRanks(*reinterpret_cast<const Group*>(group), y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* g = reinterpret_cast<const Group*>(ctx->saved_data["group"].toInt());
    at::Tensor dx = grads[0].contiguous().clone();
    sumOverRanks(*g, dx);
    return {dx, at::Tensor()};
  }
};

// PgSumDiff(group, tensor) -> a new tensor: the differentiable sum over ranks above.
Napi::Value PgSumDiff(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "sum (differentiable)");
  const at::Tensor& t = unbox(env, info[1], g.label("sum (differentiable)").c_str());
  return guarded(env, g.label("sum (differentiable)"), [&]() -> Napi::Value {
    return wrap(env, SumOverRanks::apply(t, reinterpret_cast<int64_t>(&g)));
  });
}

// PgBroadcast(group, tensors, root): in place.
Napi::Value PgBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "broadcast");
  auto ts = tensors(env, info[1], g.label("broadcast"));
  c10d::BroadcastOptions opts;
  opts.rootRank = toInt(env, info[2], g.label("broadcast") + " root");
  if (opts.rootRank < 0 || opts.rootRank >= g.size)
    failType(env, g.label("broadcast") + ": root " + std::to_string(opts.rootRank) + " is not a rank");
  return guarded(env, g.label("broadcast"), [&]() -> Napi::Value {
    coalesced(ts, [&](at::Tensor& t) {
      std::vector<at::Tensor> one{t};
      finish(g, g.pg->broadcast(one, opts));
    });
    return env.Undefined();
  });
}

// PgAllgather(group, tensor) -> worldSize new tensors, in rank order.
Napi::Value PgAllgather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "allgather");
  at::Tensor t = unbox(env, info[1], g.label("allgather").c_str());
  return guarded(env, g.label("allgather"), [&]() -> Napi::Value {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> in{t.contiguous()};
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < g.size; r++) out[0].push_back(at::empty_like(in[0]));
    finish(g, g.pg->allgather(out, in));
    auto arr = Napi::Array::New(env, out[0].size());
    for (size_t r = 0; r < out[0].size(); r++) arr[static_cast<uint32_t>(r)] = wrap(env, out[0][r]);
    return arr;
  });
}

Napi::Value PgBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "barrier");
  return guarded(env, g.label("barrier"), [&]() -> Napi::Value {
    c10d::BarrierOptions opts;
    opts.timeout = g.timeout;
    finish(g, g.pg->barrier(opts));
    return env.Undefined();
  });
}

// PgDestroy(group): drops this process's share of the group (threads, connections, the store if it hosts it).
Napi::Value PgDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group* g = untag<Group>(env, info[0], kGroupTag, "process group destroy");
  return guarded(env, g->label("destroy"), [&]() -> Napi::Value {
    g->pg.reset();
    return env.Undefined();
  });
}

// ReducerNew(group, params, bucketCapMB, findUnused, names) -> reducer. A collective: every rank calls it with
// parameters of the same shapes (checked by c10d::verify_params_across_processes).
Napi::Value ReducerNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Group& g = group(env, info[0], "GradReducer");
  const std::string where = g.label("GradReducer");
  auto params = tensors(env, info[1], where + " params");
  const double capMB = toDouble(env, info[2], where + " bucketCapMB");
  const bool findUnused = info[3].ToBoolean();
  std::unordered_map<size_t, std::string> names;
  if (info[4].IsArray()) {
    auto arr = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) names[i] = Napi::Value(arr[i]).ToString().Utf8Value();
  }
  if (params.empty()) failType(env, where + ": no parameters");
  if (!(capMB > 0)) failType(env, where + ": bucketCapMB must be > 0, got " + std::to_string(capMB));
  for (size_t i = 0; i < params.size(); i++)
    if (!params[i].requires_grad() || !params[i].is_leaf())
      failType(env, where + ": parameter " + std::to_string(i) + " is not a leaf tensor that requires grad");
  return guarded(env, where, [&]() -> Napi::Value {
    c10d::verify_params_across_processes(g.pg, params, c10::nullopt);
    const auto cap = static_cast<int64_t>(capMB * 1024 * 1024);
    // distributed.py: one bucket for the first iteration when unused parameters are not searched (the buckets
    // are rebuilt in gradient order after it), else a first bucket of 1 MiB and then cap-sized ones; the
    // assignment is reversed, approximating the order in which backward produces the gradients.
    std::vector<size_t> limits{std::numeric_limits<size_t>::max()};
    if (findUnused) limits = {static_cast<size_t>(c10d::kDefaultFirstBucketBytes), static_cast<size_t>(cap)};
    std::vector<bool> sparse(params.size(), false);
    auto assigned = c10d::compute_bucket_assignment_by_size(params, limits, sparse);
    auto& buckets = std::get<0>(assigned);
    auto& perLimit = std::get<1>(assigned);
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(perLimit.begin(), perLimit.end());
    auto box = std::make_unique<ReducerBox>();
    box->where = where;
    box->findUnused = findUnused;
#if TORCH_VERSION_MAJOR >= 2
    box->reducer = std::make_unique<c10d::Reducer>(params, buckets, g.pg, sparse, cap, findUnused, false, names,
                                                   c10d::kDefaultFirstBucketBytes, false, false,
                                                   std::vector<int64_t>{});
#else
    box->reducer = std::make_unique<c10d::Reducer>(params, buckets, perLimit, g.pg, sparse, cap, findUnused, false,
                                                   names, c10d::kDefaultFirstBucketBytes);
#endif
    auto ext = Napi::External<ReducerBox>::New(env, box.release(), [](Napi::Env, ReducerBox* p) { delete p; });
    napi_type_tag_object(env, ext, &kReducerTag);
    return ext;
  });
}

// ReducerPrepare(reducer, outputs): before each backward, on every rank (DDP's forward does the same).
Napi::Value ReducerPrepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReducerBox* box = untag<ReducerBox>(env, info[0], kReducerTag, "GradReducer.prepareForBackward");
  if (!box->reducer) fail(env, box->where + ".prepareForBackward: the GradReducer was disposed");
  auto outputs = tensors(env, info[1], box->where + ".prepareForBackward outputs");
  return guarded(env, box->where + ".prepareForBackward", [&]() -> Napi::Value {
    box->reducer->prepare_for_forward();
    box->reducer->rebuild_buckets();  // once, after the first backward: buckets in gradient order (a collective)
    box->reducer->prepare_for_backward(box->findUnused ? outputs : std::vector<at::Tensor>{});
    return env.Undefined();
  });
}

Napi::Value ReducerDispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReducerBox* box = untag<ReducerBox>(env, info[0], kReducerTag, "GradReducer.dispose");
  return guarded(env, box->where + ".dispose", [&]() -> Napi::Value {
    box->reducer.reset();  // removes its autograd hooks
    return env.Undefined();
  });
}

#endif  // LTKIT_C10D

}  // namespace

void InitDist(Napi::Env env, Napi::Object exports) {
  exports["DistSupport"] = Napi::Function::New(env, DistSupport, "DistSupport");
#ifdef LTKIT_C10D
#define EXPORT(name) exports[#name] = Napi::Function::New(env, name, #name)
  EXPORT(PgNew); EXPORT(PgAllreduce); EXPORT(PgBroadcast); EXPORT(PgAllgather); EXPORT(PgBarrier);
  EXPORT(PgDestroy); EXPORT(ReducerNew); EXPORT(ReducerPrepare); EXPORT(ReducerDispose); EXPORT(PgSumDiff);
#undef EXPORT
#endif
}

}  // namespace ltn
