// Stand-in for a header Debian's libtorch-dev 1.13 leaves out (torch/csrc/distributed/autograd/ is not shipped)
// but c10d/reducer.hpp includes: the Reducer only names these two types (a callback signature it checks with a
// static_assert, and a shared_ptr it holds). binding.gyp puts this folder after libtorch's include folders, so
// a libtorch that ships the real header uses it.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
