{
  # Built by scripts/setup.sh, which finds libtorch and passes its folders in the environment:
  #   LTKIT_TORCH_INCLUDES  space-separated include folders
  #   LTKIT_TORCH_LIBDIR    folder holding libtorch_cpu.so and libc10.so
  #   LTKIT_TORCH_CXX11_ABI 1 (Debian, pytorch.org cxx11 archives) or 0 (pip wheels before 2.x)
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
      ]
    }
  ]
}
