# Build settings for the addon's process groups (native/src/dist.cc), sourced by the set-up before it builds the
# addon. c10d_find reads torch_lib and torch_inc (as torch_find sets them) and exports what native/binding.gyp
# reads:
#   LTKIT_C10D_GLOO      1 when libtorch exports c10d::ProcessGroupGloo and ships its header, and gloo's headers are found
#   LTKIT_C10D_NCCL      1 when a CUDA libtorch exports c10d::ProcessGroupNCCL and CUDA's and NCCL's headers are found
#   LTKIT_C10D_LIBS      link flags: -lgloo when libtorch_cpu links a shared libgloo (Debian; pip and pytorch.org
#                        builds carry gloo inside), -ltorch_cuda -lc10_cuda with NCCL
#   LTKIT_C10D_INCLUDES  include folders beyond libtorch's (gloo's, CUDA's)
# and sets c10d_note (what was compiled in, or why not) and c10d_need_gloo_headers (1 when only gloo's headers are
# missing: Debian's libgloo-dev provides them). Installs nothing.
c10d_find() {
  LTKIT_C10D_GLOO=0
  LTKIT_C10D_NCCL=0
  LTKIT_C10D_LIBS=""
  LTKIT_C10D_INCLUDES=""
  c10d_need_gloo_headers=0
  local d hdr="" gloo_inc="" cuda_inc="" notes=()
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
    for d in "${CUDA_HOME:-/usr/local/cuda}/include" /usr/local/cuda/include /usr/include; do
      if [ -e "$d/cuda_runtime_api.h" ]; then
        cuda_inc=$d
        break
      fi
    done
    if ! nm -DC "$torch_lib/libtorch_cuda.so" 2>/dev/null | grep 'c10d::ProcessGroupNCCL::ProcessGroupNCCL(' >/dev/null; then
      notes+=("no NCCL in $torch_lib/libtorch_cuda.so")
    elif [ -z "$cuda_inc" ] || { [ ! -e "$cuda_inc/nccl.h" ] && [ ! -e /usr/include/nccl.h ]; }; then
      notes+=("NCCL left out: cuda_runtime_api.h and nccl.h not found (set CUDA_HOME)")
    else
      LTKIT_C10D_NCCL=1
      [ "$cuda_inc" = /usr/include ] || LTKIT_C10D_INCLUDES="$LTKIT_C10D_INCLUDES $cuda_inc"
      LTKIT_C10D_LIBS="$LTKIT_C10D_LIBS -ltorch_cuda -lc10_cuda"
      notes+=("NCCL compiled in")
    fi
  fi
  c10d_note=$(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')
  export LTKIT_C10D_GLOO LTKIT_C10D_NCCL LTKIT_C10D_LIBS LTKIT_C10D_INCLUDES
}
