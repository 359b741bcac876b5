{
  # Built by scripts/setup.sh, which finds libtorch and passes its folders in the environment:
  #   LTKIT_TORCH_INCLUDES  space-separated include folders
  #   LTKIT_TORCH_LIBDIR    folder holding libtorch_cpu.so and libc10.so
  #   LTKIT_TORCH_CXX11_ABI 1 (Debian, pytorch.org cxx11 archives) or 0 (pip wheels before 2.x)
  #   LTKIT_C10D_GLOO       1: compile the Gloo process group into src/dist.cc (libtorch has c10d, gloo headers found)
  #   LTKIT_C10D_NCCL       1: also NCCL (a CUDA libtorch with ProcessGroupNCCL.hpp)
  #   LTKIT_C10D_LIBS       extra link flags for them (-lgloo when libtorch_cpu links a shared libgloo)
  #   LTKIT_C10D_INCLUDES   extra include folders for them (gloo's, CUDA's)
  # A CUDA libtorch (libtorch_cuda.so beside libtorch_cpu.so) is linked whole, so that its CUDA kernels and
  # the CUDA hooks register when the addon loads (`device: cuda`); a CPU libtorch builds without it.
  "variables": {
    "torch_cuda%": "<!(node -p \"require('fs').existsSync(require('path').join(process.env.LTKIT_TORCH_LIBDIR || '/usr/lib', 'libtorch_cuda.so')) ? 1 : 0\")",
    "c10d_gloo%": "<!(node -p \"process.env.LTKIT_C10D_GLOO || '0'\")",
    "c10d_nccl%": "<!(node -p \"process.env.LTKIT_C10D_NCCL || '0'\")"
  },
  "targets": [
    {
      "target_name": "ltkit",
      "sources": ["src/addon.cc", "src/amp.cc", "src/dist.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node -p \"process.env.LTKIT_TORCH_INCLUDES || ''\")"
      ],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "NAPI_CPP_EXCEPTIONS",
        "_GLIBCXX_USE_CXX11_ABI=<!(node -p \"process.env.LTKIT_TORCH_CXX11_ABI || '1'\")"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<!(node -p \"process.env.LTKIT_TORCH_LIBDIR || '/usr/lib'\")",
        "-Wl,-rpath,<!(node -p \"process.env.LTKIT_TORCH_LIBDIR || '/usr/lib'\")",
        "-Wl,--no-as-needed",
        "-ltorch_cpu",
        "-lc10",
        "-Wl,--as-needed"
      ],
      "conditions": [
        ["c10d_gloo==1 or c10d_nccl==1", {
          "include_dirs": ["<!@(node -p \"process.env.LTKIT_C10D_INCLUDES || ''\")", "src/shim"],
          "libraries": ["<!@(node -p \"process.env.LTKIT_C10D_LIBS || ''\")"]
        }],
        ["torch_cuda==1", {
          "libraries": ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-ltorch", "-Wl,--as-needed"]
        }],
        ["c10d_gloo==1", {"defines": ["USE_C10D_GLOO"]}],
        ["c10d_nccl==1", {"defines": ["USE_C10D_NCCL"]}]
      ]
    }
  ]
}
