// Process groups (c10d): filled in by the distributed work.
#include "common.h"

namespace ltn {

void InitDist(Napi::Env env, Napi::Object exports) {}

}  // namespace ltn
