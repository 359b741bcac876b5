// Mixed precision: autocast state (thread-local in libtorch, set on the JS thread that runs the ops).
#include "common.h"

namespace ltn {

void InitAmp(Napi::Env env, Napi::Object exports) {}

}  // namespace ltn
