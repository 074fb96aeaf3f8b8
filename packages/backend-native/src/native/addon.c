/*
 * Node-API bindings of the native kernels (kernels.h). Every function is synchronous, takes typed arrays and
 * numbers, writes into output arrays allocated by the caller, and checks each array's type and length before any
 * work (a TypeError / RangeError is thrown into JavaScript on a mismatch, never a crash).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "pool.h"

#define MAX_RANK 8

/* ---- argument helpers: each returns 0 after throwing ---------------------------------------------------------- */

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", want, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                     const char *name, int nullable) {
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  if (nullable && (vt == napi_null || vt == napi_undefined)) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a %s", name, want == napi_float32_array ? "Float32Array" : "Int32Array");
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

#define F32(idx, var, need)                                                                         \
  float *var;                                                                                       \
  do {                                                                                              \
    size_t var##_len;                                                                               \
    if (!get_typed(env, argv[idx], napi_float32_array, (void **)&var, &var##_len, #var, 0))         \
      return NULL;                                                                                  \
    if ((double)var##_len < (double)(need)) return throw_range(env, #var, (double)(need), var##_len); \
  } while (0);

#define F32_OPT(idx, var, need)                                                                     \
  float *var;                                                                                       \
  do {                                                                                              \
    size_t var##_len;                                                                               \
    if (!get_typed(env, argv[idx], napi_float32_array, (void **)&var, &var##_len, #var, 1))         \
      return NULL;                                                                                  \
    if (var && (double)var##_len < (double)(need)) return throw_range(env, #var, (double)(need), var##_len); \
  } while (0);

#define I32(idx, var, lenvar)                                                                       \
  int32_t *var;                                                                                     \
  size_t lenvar;                                                                                    \
  if (!get_typed(env, argv[idx], napi_int32_array, (void **)&var, &lenvar, #var, 0)) return NULL;

#define NUM(idx, var)                                                                               \
  double var;                                                                                       \
  if (napi_get_value_double(env, argv[idx], &var) != napi_ok) {                                     \
    napi_throw_type_error(env, NULL, #var " must be a number");                                     \
    return NULL;                                                                                    \
  }

#define LONG(idx, var)                                                                              \
  NUM(idx, var##_d)                                                                                 \
  if (var##_d < 0 || var##_d > 4.0e18) {                                                            \
    napi_throw_range_error(env, NULL, #var " must be a non-negative integer");                      \
    return NULL;                                                                                    \
  }                                                                                                 \
  long var = (long)var##_d;

static napi_value throw_range(napi_env env, const char *name, double need, size_t have) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s has %zu elements, needs %.0f", name, have, need);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value num(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

/* Checks a strided view fits: offset + sum (shape_k - 1) * |stride_k| < len. */
static int fits(const int32_t *shape, const int32_t *str, int rank, double off, size_t len) {
  double hi = off;
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 0) return 1;
    if (str[i] < 0) return 0;
    hi += (double)(shape[i] - 1) * str[i];
  }
  return off >= 0 && hi < (double)len;
}

/* ---- configuration --------------------------------------------------------------------------------------------- */

/* init(threads, spinUs, blasThreads) -> { threads, blasThreads, cores } */
static napi_value Init(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  NUM(0, threads) NUM(1, spin) NUM(2, blas)
  mm_pool_init((int)threads, (int)spin);
  mm_blas_threads((int)blas);
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "threads", num(env, mm_pool_threads()));
  napi_set_named_property(env, o, "blasThreads", num(env, mm_blas_threads_get()));
  napi_set_named_property(env, o, "cores", num(env, (double)sysconf(_SC_NPROCESSORS_ONLN)));
  return o;
}

/* setThreads(poolThreads, blasThreads) */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  NUM(0, threads) NUM(1, blas)
  mm_pool_set_threads((int)threads);
  mm_blas_threads((int)blas);
  return undef(env);
}

char *openblas_get_config(void);
char *openblas_get_corename(void);

/* blasInfo() -> { config, core } */
static napi_value BlasInfo(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, cfg, core;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &cfg);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core);
  napi_set_named_property(env, o, "config", cfg);
  napi_set_named_property(env, o, "core", core);
  return o;
}

/* ---- GEMM ------------------------------------------------------------------------------------------------------ */

/* sgemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[16];
  if (!get_args(env, info, 16, argv)) return NULL;
  NUM(0, tA) NUM(1, tB) LONG(2, M) LONG(3, N) LONG(4, K) NUM(5, alpha) LONG(7, aOff) LONG(8, lda) LONG(10, bOff)
  LONG(11, ldb) NUM(12, beta) LONG(14, cOff) LONG(15, ldc)
  long aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  if (lda < (aCols > 1 ? aCols : 1) || ldb < (bCols > 1 ? bCols : 1) || ldc < (N > 1 ? N : 1)) {
    napi_throw_range_error(env, NULL, "sgemm: leading dimension too small");
    return NULL;
  }
  F32(6, A, aRows ? aOff + (aRows - 1) * lda + aCols : 0)
  F32(9, B, bRows ? bOff + (bRows - 1) * ldb + bCols : 0)
  F32(13, C, M ? cOff + (M - 1) * ldc + N : 0)
  mm_sgemm(tA != 0, tB != 0, M, N, K, (float)alpha, A + aOff, lda, B + bOff, ldb, (float)beta, C + cOff, ldc);
  return undef(env);
}

/* bmm(batch, transA, transB, M, N, K, A, aOffsets, B, bOffsets, C) */
static napi_value Bmm(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv)) return NULL;
  LONG(0, batch) NUM(1, tA) NUM(2, tB) LONG(3, M) LONG(4, N) LONG(5, K)
  I32(7, aOffs, aOffsLen) I32(9, bOffs, bOffsLen)
  F32(6, A, 0) F32(8, B, 0) F32(10, C, (double)batch * M * N)
  if (aOffsLen < (size_t)batch || bOffsLen < (size_t)batch) {
    napi_throw_range_error(env, NULL, "bmm: offset arrays shorter than batch");
    return NULL;
  }
  size_t aLen, bLen;
  {
    void *d;
    napi_typedarray_type t;
    napi_value ab;
    size_t o;
    napi_get_typedarray_info(env, argv[6], &t, &aLen, &d, &ab, &o);
    napi_get_typedarray_info(env, argv[8], &t, &bLen, &d, &ab, &o);
  }
  for (long i = 0; i < batch; i++) {
    if (aOffs[i] < 0 || (double)aOffs[i] + (double)M * K > (double)aLen || bOffs[i] < 0 ||
        (double)bOffs[i] + (double)K * N > (double)bLen) {
      napi_throw_range_error(env, NULL, "bmm: an offset points outside its matrix buffer");
      return NULL;
    }
  }
  mm_bmm(batch, tA != 0, tB != 0, M, N, K, A, aOffs, B, bOffs, C);
  return undef(env);
}

/* ---- elementwise ----------------------------------------------------------------------------------------------- */

/* binary(op, a, b, out, shape, aStrides, bStrides) */
static napi_value Binary(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  NUM(0, op)
  I32(4, shape, rank) I32(5, sa, saLen) I32(6, sb, sbLen)
  if (rank > MAX_RANK || saLen != rank || sbLen != rank || op < 0 || op >= MM_BINOP_COUNT) {
    napi_throw_range_error(env, NULL, "binary: bad rank, strides or op");
    return NULL;
  }
  double n = 1;
  for (size_t i = 0; i < rank; i++) n *= shape[i];
  F32(1, a, 0) F32(2, b, 0) F32(3, out, n)
  size_t aLen, bLen;
  {
    void *d;
    napi_typedarray_type t;
    napi_value ab;
    size_t o;
    napi_get_typedarray_info(env, argv[1], &t, &aLen, &d, &ab, &o);
    napi_get_typedarray_info(env, argv[2], &t, &bLen, &d, &ab, &o);
  }
  if (n > 0 && (!fits(shape, sa, (int)rank, 0, aLen) || !fits(shape, sb, (int)rank, 0, bLen))) {
    napi_throw_range_error(env, NULL, "binary: strides reach outside an input");
    return NULL;
  }
  mm_binary((int)op, a, b, out, (int)rank, shape, sa, sb);
  return undef(env);
}

/* unary(op, x, out) */
static napi_value Unary(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  NUM(0, op)
  size_t n;
  void *xd;
  if (!get_typed(env, argv[1], napi_float32_array, &xd, &n, "x", 0)) return NULL;
  F32(2, out, n)
  if (op < 0 || op >= MM_UNOP_COUNT) {
    napi_throw_range_error(env, NULL, "unary: bad op");
    return NULL;
  }
  mm_unary((int)op, (const float *)xd, out, (long)n);
  return undef(env);
}

/* fill(dst, value) */
static napi_value Fill(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  size_t n;
  void *d;
  if (!get_typed(env, argv[0], napi_float32_array, &d, &n, "dst", 0)) return NULL;
  NUM(1, value)
  mm_fill((float *)d, (long)n, (float)value);
  return undef(env);
}

/* reduceRows(op, x, out, rows, cols) / reduceCols(op, x, out, rows, cols) */
static napi_value reduce_common(napi_env env, napi_callback_info info, int rowsMode) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  NUM(0, op) LONG(3, rows) LONG(4, cols)
  if (op < 0 || op >= MM_REDOP_COUNT || (rowsMode ? cols == 0 : rows == 0)) {
    napi_throw_range_error(env, NULL, "reduce: bad op or empty reduction");
    return NULL;
  }
  F32(1, x, (double)rows * cols) F32(2, out, rowsMode ? rows : cols)
  if (rowsMode)
    mm_reduce_rows((int)op, x, out, rows, cols);
  else
    mm_reduce_cols((int)op, x, out, rows, cols);
  return undef(env);
}
static napi_value ReduceRows(napi_env env, napi_callback_info info) { return reduce_common(env, info, 1); }
static napi_value ReduceCols(napi_env env, napi_callback_info info) { return reduce_common(env, info, 0); }

/* copyNd(src, srcOffset, dst, dstOffset, shape, srcStrides, dstStrides) */
static napi_value CopyNd(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  LONG(1, sOff) LONG(3, dOff)
  I32(4, shape, rank) I32(5, ss, ssLen) I32(6, ds, dsLen)
  if (rank > MAX_RANK || ssLen != rank || dsLen != rank) {
    napi_throw_range_error(env, NULL, "copyNd: bad rank or strides");
    return NULL;
  }
  size_t sLen, dLen;
  void *s, *d;
  if (!get_typed(env, argv[0], napi_float32_array, &s, &sLen, "src", 0)) return NULL;
  if (!get_typed(env, argv[2], napi_float32_array, &d, &dLen, "dst", 0)) return NULL;
  if (!fits(shape, ss, (int)rank, (double)sOff, sLen) || !fits(shape, ds, (int)rank, (double)dOff, dLen)) {
    double n = 1;
    for (size_t i = 0; i < rank; i++) n *= shape[i];
    if (n > 0) {
      napi_throw_range_error(env, NULL, "copyNd: strides reach outside src or dst");
      return NULL;
    }
  }
  mm_copy_nd((const float *)s, sOff, (float *)d, dOff, (int)rank, shape, ss, ds);
  return undef(env);
}

/* softmax(x, out, rows, cols) */
static napi_value Softmax(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  LONG(2, rows) LONG(3, cols)
  F32(0, x, (double)rows * cols) F32(1, out, (double)rows * cols)
  mm_softmax(x, out, rows, cols);
  return undef(env);
}

/* gather(x, idx, out, outer, axisLen, inner) -> -1 or the position of the first bad index */
static napi_value Gather(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  LONG(3, outer) LONG(4, axisLen) LONG(5, inner)
  I32(1, idx, nIdx)
  F32(0, x, (double)outer * axisLen * inner) F32(2, out, (double)outer * nIdx * inner)
  return num(env, (double)mm_gather(x, idx, (long)nIdx, out, outer, axisLen, inner));
}

/* segmentSum(x, seg, out, inner, numSegments) */
static napi_value SegmentSum(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  LONG(3, inner) LONG(4, numSegments)
  I32(1, seg, n)
  F32(0, x, (double)n * inner) F32(2, out, (double)numSegments * inner)
  mm_segment_sum(x, seg, (long)n, inner, out, numSegments);
  return undef(env);
}

/* ---- fused ------------------------------------------------------------------------------------------------------ */

/* layerNorm(x, w, b, y, mean, rstd, rows, D, eps) */
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!get_args(env, info, 9, argv)) return NULL;
  LONG(6, rows) LONG(7, D) NUM(8, eps)
  double n = (double)rows * D;
  F32(0, x, n) F32(1, w, D) F32(2, b, D) F32(3, y, n) F32(4, mean, rows) F32(5, rstd, rows)
  mm_layer_norm(x, w, b, y, mean, rstd, rows, D, (float)eps);
  return undef(env);
}

/* layerNormGrad(dy, x, w, mean, rstd, dx, dw, db, rows, D) */
static napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_args(env, info, 10, argv)) return NULL;
  LONG(8, rows) LONG(9, D)
  double n = (double)rows * D;
  F32(0, dy, n) F32(1, x, n) F32(2, w, D) F32(3, mean, rows) F32(4, rstd, rows) F32(5, dx, n) F32(6, dw, D)
  F32(7, db, D)
  mm_layer_norm_grad(dy, x, w, mean, rstd, dx, dw, db, rows, D);
  return undef(env);
}

/* activation(kind, x, y) */
static napi_value Activation(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  NUM(0, kind)
  size_t n;
  void *xd;
  if (!get_typed(env, argv[1], napi_float32_array, &xd, &n, "x", 0)) return NULL;
  F32(2, y, n)
  mm_activation(kind == 0 ? MM_ACT_GELU : MM_ACT_QUICK_GELU, (const float *)xd, y, (long)n);
  return undef(env);
}

/* activationGrad(kind, dy, x, dx) */
static napi_value ActivationGrad(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  NUM(0, kind)
  size_t n;
  void *xd;
  if (!get_typed(env, argv[2], napi_float32_array, &xd, &n, "x", 0)) return NULL;
  F32(1, dy, n) F32(3, dx, n)
  mm_activation_grad(kind == 0 ? MM_ACT_GELU : MM_ACT_QUICK_GELU, dy, (const float *)xd, dx, (long)n);
  return undef(env);
}

/* attention(q, k, v, mask, maskStrides, p, out, B, H, Nq, Nk, d, dv, scale) */
static napi_value Attention(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  if (!get_args(env, info, 14, argv)) return NULL;
  LONG(7, B) LONG(8, H) LONG(9, Nq) LONG(10, Nk) LONG(11, d) LONG(12, dv) NUM(13, scale)
  double BH = (double)B * H;
  F32(0, q, BH * Nq * d) F32(1, k, BH * Nk * d) F32(2, v, BH * Nk * dv) F32_OPT(3, mask, 0)
  F32(5, p, BH * Nq * Nk) F32(6, out, BH * Nq * dv)
  int32_t *ms = NULL;
  if (mask) {
    size_t msLen;
    if (!get_typed(env, argv[4], napi_int32_array, (void **)&ms, &msLen, "maskStrides", 0)) return NULL;
    size_t maskLen;
    void *md;
    napi_typedarray_type t;
    napi_value ab;
    size_t o;
    napi_get_typedarray_info(env, argv[3], &t, &maskLen, &md, &ab, &o);
    int32_t shape[4] = {(int32_t)B, (int32_t)H, (int32_t)Nq, (int32_t)Nk};
    if (msLen != 4 || !fits(shape, ms, 4, 0, maskLen)) {
      napi_throw_range_error(env, NULL, "attention: mask strides reach outside the mask");
      return NULL;
    }
  }
  mm_attention(q, k, v, mask, ms, p, out, B, H, Nq, Nk, d, dv, (float)scale);
  return undef(env);
}

/* attentionGrad(dout, q, k, v, p, dq, dk, dv, dS, BH, Nq, Nk, d, dv, scale) */
static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  napi_value argv[15];
  if (!get_args(env, info, 15, argv)) return NULL;
  LONG(9, BH) LONG(10, Nq) LONG(11, Nk) LONG(12, d) LONG(13, dvw) NUM(14, scale)
  double bh = (double)BH;
  F32(0, dout, bh * Nq * dvw) F32(1, q, bh * Nq * d) F32(2, k, bh * Nk * d) F32(3, v, bh * Nk * dvw)
  F32(4, p, bh * Nq * Nk) F32(5, dq, bh * Nq * d) F32(6, dk, bh * Nk * d) F32(7, dv, bh * Nk * dvw)
  F32_OPT(8, dS, bh * Nq * Nk)
  mm_attention_grad(dout, q, k, v, p, dq, dk, dv, dS, BH, Nq, Nk, d, dvw, (float)scale);
  return undef(env);
}

/* adamw(p[], g[], m[], v[], pOut[], mOut[], vOut[], wd: Float32Array, lr, b1, b2, eps, bc1, bc2) */
static napi_value AdamW(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  if (!get_args(env, info, 14, argv)) return NULL;
  NUM(8, lr) NUM(9, b1) NUM(10, b2) NUM(11, eps) NUM(12, bc1) NUM(13, bc2)
  uint32_t count = 0;
  bool isArr = false;
  napi_is_array(env, argv[0], &isArr);
  if (!isArr || napi_get_array_length(env, argv[0], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "adamw: p must be an array of Float32Array");
    return NULL;
  }
  F32(7, wd, count)
  float **ptr = (float **)calloc(7 * (size_t)(count ? count : 1), sizeof(float *));
  long *len = (long *)calloc(count ? count : 1, sizeof(long));
  napi_value result = NULL;
  for (int a = 0; a < 7; a++) {
    uint32_t c2 = 0;
    bool arr = false;
    napi_is_array(env, argv[a], &arr);
    if (!arr || napi_get_array_length(env, argv[a], &c2) != napi_ok || c2 != count) {
      napi_throw_type_error(env, NULL, "adamw: the seven tensor lists must be arrays of equal length");
      goto done;
    }
    for (uint32_t t = 0; t < count; t++) {
      napi_value el;
      napi_get_element(env, argv[a], t, &el);
      void *d;
      size_t n;
      if (!get_typed(env, el, napi_float32_array, &d, &n, "adamw tensor", 0)) goto done;
      if (a == 0) len[t] = (long)n;
      else if ((long)n < len[t]) {
        napi_throw_range_error(env, NULL, "adamw: a gradient, moment or output is shorter than its parameter");
        goto done;
      }
      ptr[(size_t)a * count + t] = (float *)d;
    }
  }
  mm_adamw(count, (const float **)ptr, (const float **)(ptr + count), (const float **)(ptr + 2 * (size_t)count),
           (const float **)(ptr + 3 * (size_t)count), ptr + 4 * (size_t)count, ptr + 5 * (size_t)count,
           ptr + 6 * (size_t)count, len, wd, (float)lr, (float)b1, (float)b2, (float)eps, (float)bc1, (float)bc2);
  result = undef(env);
done:
  free(ptr);
  free(len);
  return result;
}

/* ---- module ------------------------------------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"init", NULL, Init, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"blasInfo", NULL, BlasInfo, NULL, NULL, NULL, napi_default, NULL},
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"bmm", NULL, Bmm, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, Binary, NULL, NULL, NULL, napi_default, NULL},
      {"unary", NULL, Unary, NULL, NULL, NULL, napi_default, NULL},
      {"fill", NULL, Fill, NULL, NULL, NULL, napi_default, NULL},
      {"reduceRows", NULL, ReduceRows, NULL, NULL, NULL, napi_default, NULL},
      {"reduceCols", NULL, ReduceCols, NULL, NULL, NULL, napi_default, NULL},
      {"copyNd", NULL, CopyNd, NULL, NULL, NULL, napi_default, NULL},
      {"softmax", NULL, Softmax, NULL, NULL, NULL, napi_default, NULL},
      {"gather", NULL, Gather, NULL, NULL, NULL, napi_default, NULL},
      {"segmentSum", NULL, SegmentSum, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, LayerNormGrad, NULL, NULL, NULL, napi_default, NULL},
      {"activation", NULL, Activation, NULL, NULL, NULL, napi_default, NULL},
      {"activationGrad", NULL, ActivationGrad, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, AdamW, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
