{
  "targets": [
    {
      "target_name": "mmzoo_native",
      "sources": ["src/native/addon.c", "src/native/kernels.c", "src/native/pool.c"],
      "include_dirs": ["<!(node -p \"process.env.MMZOO_OPENBLAS_INCLUDE || '/usr/include'\")"],
      "cflags!": ["-O0", "-O1", "-O2", "-fno-tree-vectorize"],
      "cflags": ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-parameter",
                 "<!(node -p \"process.env.MMZOO_NATIVE_MARCH === undefined ? '-march=native' : (process.env.MMZOO_NATIVE_MARCH ? '-march=' + process.env.MMZOO_NATIVE_MARCH : '-O3')\")"],
      "libraries": ["<!(node -p \"process.env.MMZOO_OPENBLAS_LIB || '-lopenblas'\")", "-lpthread", "-lm"]
    }
  ]
}
