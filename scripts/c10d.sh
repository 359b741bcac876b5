# Build settings for the addon's process groups (native/src/dist.cc), sourced by the set-up before it builds the
# addon. c10d_find reads torch_lib and torch_inc (as torch_find sets them) and exports what native/binding.gyp
# reads:
#   LTKIT_C10D_GLOO      1 when libtorch exports c10d::ProcessGroupGloo and ships its header, and gloo's headers are found
#   LTKIT_C10D_NCCL      1 when a CUDA libtorch exports c10d::ProcessGroupNCCL and CUDA's and NCCL's headers are found
#   LTKIT_C10D_LIBS      link flags: -lgloo when libtorch_cpu links a shared libgloo (Debian; pip and pytorch.org
#                        builds carry gloo inside), -ltorch_cuda -lc10_cuda with NCCL
#   LTKIT_C10D_INCLUDES  include folders beyond libtorch's (gloo's, CUDA's, NCCL's)
# and sets c10d_note (what was compiled in, or why not) and c10d_need_gloo_headers (1 when only gloo's headers are
# missing: Debian's libgloo-dev provides them). Installs nothing. LTKIT_NO_NCCL=1 leaves NCCL out.

# The headers ProcessGroupNCCL.hpp pulls in beyond libtorch's own (through ATen/cuda/CUDAContext.h and
# NCCLUtils.hpp; listed by preprocessing native/src/dist.cc against libtorch 2.13's headers).
c10d_cuda_headers="cuda_runtime_api.h cuda_runtime.h cuda.h cuda_fp16.h cublas_v2.h cublasLt.h cusparse.h cusolverDn.h nccl.h"

# c10d_cuda_includes: sets c10d_cuda_inc to the folders holding c10d_cuda_headers, each header from the first
# of: NCCL_INCLUDE_DIR, the CUDA toolkit's include (CUDA_HOME, default /usr/local/cuda), /usr/include, the folders
# of pip's NVIDIA packages beside a pip torch (site-packages/nvidia/*/include: nvidia/cu13 holds CUDA 13's headers,
# nvidia/nccl NCCL's). A toolkit made of pip packages may lack cuBLAS's and cuSOLVER's headers; pip's folders
# supply them. A folder's cccl/ subfolder comes with it (CUDA 13 moved CCCL's headers there). Returns 1 with the
# missing headers in c10d_missing.
c10d_cuda_includes() {
  local d h site found cands=()
  [ -n "${NCCL_INCLUDE_DIR:-}" ] && cands+=("$NCCL_INCLUDE_DIR")
  cands+=("${CUDA_HOME:-/usr/local/cuda}/include" /usr/include)
  site=$(dirname "$(dirname "$torch_lib")")
  for d in "$site"/nvidia/*/include; do [ -d "$d" ] && cands+=("$d"); done
  c10d_cuda_inc=""
  c10d_missing=""
  for h in $c10d_cuda_headers; do
    found=""
    for d in "${cands[@]}"; do
      if [ -e "$d/$h" ]; then
        found=$d
        break
      fi
    done
    if [ -z "$found" ]; then
      c10d_missing="$c10d_missing $h"
    elif [ "$found" != /usr/include ] && [[ " $c10d_cuda_inc " != *" $found "* ]]; then
      c10d_cuda_inc="$c10d_cuda_inc $found"
      [ -d "$found/cccl" ] && c10d_cuda_inc="$c10d_cuda_inc $found/cccl"
    fi
  done
  c10d_cuda_inc=${c10d_cuda_inc# }
  c10d_missing=${c10d_missing# }
  [ -z "$c10d_missing" ]
}

c10d_find() {
  LTKIT_C10D_GLOO=0
  LTKIT_C10D_NCCL=0
  LTKIT_C10D_LIBS=""
  LTKIT_C10D_INCLUDES=""
  c10d_need_gloo_headers=0
  local d hdr="" gloo_inc="" notes=()
  for d in $torch_inc; do [ -e "$d/torch/csrc/distributed/c10d/ProcessGroup.hpp" ] && hdr=$d; done
  if [ -z "$hdr" ]; then
    notes+=("libtorch's headers ($torch_inc) have no torch/csrc/distributed/c10d")
  elif ! nm -DC "$torch_lib/libtorch_cpu.so" 2>/dev/null | grep 'c10d::ProcessGroupGloo::ProcessGroupGloo(' >/dev/null; then
    notes+=("$torch_lib/libtorch_cpu.so has no Gloo process group (a libtorch built without distributed support)")
  else
    for d in $torch_inc /usr/include /usr/local/include; do
      if [ -e "$d/gloo/config.h" ]; then
        gloo_inc=$d
        break
      fi
    done
    if [ -z "$gloo_inc" ]; then
      c10d_need_gloo_headers=1
      notes+=("gloo's headers (gloo/config.h) are missing: apt-get install libgloo-dev")
    else
      LTKIT_C10D_GLOO=1
      [ "$gloo_inc" = /usr/include ] || LTKIT_C10D_INCLUDES="$gloo_inc"
      if readelf -d "$torch_lib/libtorch_cpu.so" 2>/dev/null | grep 'NEEDED.*libgloo' >/dev/null; then LTKIT_C10D_LIBS="-lgloo"; fi
      notes+=("Gloo compiled in")
    fi
  fi
  # NCCL: only a CUDA build of libtorch has it (Debian's has the header but no libtorch_cuda).
  if [ -n "$hdr" ] && [ -e "$torch_lib/libtorch_cuda.so" ]; then
    if [ "${LTKIT_NO_NCCL:-0}" = 1 ]; then
      notes+=("NCCL left out: LTKIT_NO_NCCL=1")
    elif ! nm -DC "$torch_lib/libtorch_cuda.so" 2>/dev/null | grep 'c10d::ProcessGroupNCCL::ProcessGroupNCCL(' >/dev/null; then
      notes+=("no NCCL in $torch_lib/libtorch_cuda.so")
    elif ! c10d_cuda_includes; then
      notes+=("NCCL left out: $c10d_missing not found (set CUDA_HOME to a CUDA toolkit, NCCL_INCLUDE_DIR to nccl.h's folder)")
    else
      LTKIT_C10D_NCCL=1
      LTKIT_C10D_INCLUDES="${LTKIT_C10D_INCLUDES:+$LTKIT_C10D_INCLUDES }$c10d_cuda_inc"
      LTKIT_C10D_LIBS="$LTKIT_C10D_LIBS -ltorch_cuda -lc10_cuda"
      notes+=("NCCL compiled in")
    fi
  fi
  c10d_note=$(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')
  export LTKIT_C10D_GLOO LTKIT_C10D_NCCL LTKIT_C10D_LIBS LTKIT_C10D_INCLUDES
}
