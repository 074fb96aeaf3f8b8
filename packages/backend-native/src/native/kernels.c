/*
 * Float32 kernels of @mmzoo/backend-native (see kernels.h). Elementwise loops are written so that gcc -O3
 * vectorises them (no calls into libm in the hot loops: exp and erf are evaluated by mm_expf / mm_erff below).
 */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Elementwise work below this many elements runs on the calling thread only. */
#define GRAIN_ELEMS 32768L
/* GEMMs below this many multiply-adds run as one BLAS call. */
#define GEMM_SPLIT_MACS (1L << 21)

/* ------------------------------------------------------------------------------------------------------------ */
/* scalar math that vectorises                                                                                   */

/*
 * exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor polynomial of degree 7 (relative error < 1e-7),
 * 2^n assembled in the exponent bits. exp(x) is 0 below -87 (no denormals), +inf above 88.72, NaN stays NaN.
 */
static inline float mm_expf(float x) {
  float xc = x < -87.0f ? -87.0f : (x > 88.72f ? 88.72f : x);
  float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union { int32_t i; float f; } s;
  s.i = ((int32_t)n + 126) << 23;
  float y = p * s.f * 2.0f;
  y = x < -87.0f ? 0.0f : y;
  y = x > 88.72f ? INFINITY : y;
  return x != x ? x : y;
}

static inline float mm_sigmoidf(float x) { return 1.0f / (1.0f + mm_expf(-x)); }

/*
 * erf: for |x| >= 0.5 Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, the formula of tfjs' cpu backend); below, where
 * that form loses digits to cancellation in float32, the Maclaurin series to x^13 (relative error < 2e-8).
 */
static inline float mm_erff(float x) {
  float v = x < 0 ? -x : x;
  float t = 1.0f / (1.0f + 0.3275911f * v);
  float poly = ((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f;
  float y = 1.0f - poly * t * mm_expf(-v * v);
  float x2 = x * x;
  float s = -1.0f / 75600.0f;
  s = s * x2 + 1.0f / 9360.0f;
  s = s * x2 - 1.0f / 1320.0f;
  s = s * x2 + 1.0f / 216.0f;
  s = s * x2 - 1.0f / 42.0f;
  s = s * x2 + 1.0f / 10.0f;
  s = s * x2 - 1.0f / 3.0f;
  s = s * x2 + 1.0f;
  float small = 1.12837916709551257f * x * s;
  y = x < 0 ? -y : y;
  y = v < 0.5f ? small : y;
  return x != x ? x : y;
}

static inline float gelu_f(float x) { return x * 0.5f * (mm_erff(x * 0.70710678118654752f) + 1.0f); }
static inline float gelu_grad_f(float x) {
  float cdf = 0.5f * (mm_erff(x * 0.70710678118654752f) + 1.0f);
  float pdf = 0.39894228040143268f * mm_expf(-0.5f * x * x);
  return cdf + x * pdf;
}
static inline float quick_gelu_f(float x) { return x * mm_sigmoidf(1.702f * x); }
static inline float quick_gelu_grad_f(float x) {
  float s = mm_sigmoidf(1.702f * x);
  return s + 1.702f * x * s * (1.0f - s);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* GEMM                                                                                                          */

static int g_blas_threads = 1;

void mm_blas_threads(int n) {
  if (n < 1) n = 1;
  g_blas_threads = n;
  openblas_set_num_threads(n);
}

int mm_blas_threads_get(void) { return g_blas_threads; }

typedef struct {
  int transA, transB;
  long M, N, K, lda, ldb, ldc;
  float alpha, beta;
  const float *A, *B;
  float *C;
  int splitM;
} gemm_job;

static void gemm_part(void *ctx, long begin, long end) {
  const gemm_job *j = (const gemm_job *)ctx;
  if (j->splitM) {
    const float *A = j->transA ? j->A + begin : j->A + begin * j->lda;
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans,
                (int)(end - begin), (int)j->N, (int)j->K, j->alpha, A, (int)j->lda, j->B, (int)j->ldb, j->beta,
                j->C + begin * j->ldc, (int)j->ldc);
  } else {
    const float *B = j->transB ? j->B + begin * j->ldb : j->B + begin;
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans,
                (int)j->M, (int)(end - begin), (int)j->K, j->alpha, j->A, (int)j->lda, B, (int)j->ldb, j->beta,
                j->C + begin, (int)j->ldc);
  }
}

void mm_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
              const float *B, long ldb, float beta, float *C, long ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (long i = 0; i < M; i++)
      for (long jx = 0; jx < N; jx++) C[i * ldc + jx] = beta == 0.0f ? 0.0f : beta * C[i * ldc + jx];
    return;
  }
  gemm_job j = {transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, M >= N};
  int T = mm_pool_threads();
  if (g_blas_threads > 1 || T <= 1 || M * N * K < GEMM_SPLIT_MACS) {
    gemm_part(&j, 0, j.splitM ? M : N);
    return;
  }
  long extent = j.splitM ? M : N;
  /* pieces of at least 32 rows/columns (whole 16-wide register blocks), about two per thread */
  long grain = extent / (2L * T);
  if (grain < 32) grain = 32;
  grain = (grain + 15) / 16 * 16;
  mm_parallel_for(extent, grain, gemm_part, &j);
}

typedef struct {
  int transA, transB;
  long M, N, K;
  const float *A, *B;
  const int32_t *aOff, *bOff;
  float *C;
} bmm_job;

static void bmm_part(void *ctx, long begin, long end) {
  const bmm_job *j = (const bmm_job *)ctx;
  long lda = j->transA ? j->M : j->K, ldb = j->transB ? j->K : j->N;
  for (long i = begin; i < end; i++) {
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans,
                (int)j->M, (int)j->N, (int)j->K, 1.0f, j->A + j->aOff[i], (int)lda, j->B + j->bOff[i], (int)ldb,
                0.0f, j->C + i * j->M * j->N, (int)j->N);
  }
}

void mm_bmm(long batch, int transA, int transB, long M, long N, long K, const float *A, const int32_t *aOff,
            const float *B, const int32_t *bOff, float *C) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    memset(C, 0, sizeof(float) * batch * M * N);
    return;
  }
  if (batch == 1) {
    mm_sgemm(transA, transB, M, N, K, 1.0f, A + aOff[0], transA ? M : K, B + bOff[0], transB ? K : N, 0.0f, C, N);
    return;
  }
  bmm_job j = {transA, transB, M, N, K, A, B, aOff, bOff, C};
  long macs = M * N * K;
  long grain = macs >= GEMM_SPLIT_MACS ? 1 : (GEMM_SPLIT_MACS + macs - 1) / macs;
  if (g_blas_threads > 1) grain = batch;
  mm_parallel_for(batch, grain, bmm_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* elementwise                                                                                                   */

static void binary_row(int op, const float *restrict a, long ia, const float *restrict b, long ib,
                       float *restrict o, long n) {
#define MM_BIN_LOOP(EXPR)                                                                   \
  if (ia == 1 && ib == 1) {                                                                 \
    for (long i = 0; i < n; i++) { float x = a[i], y = b[i]; o[i] = (EXPR); }               \
  } else if (ia == 1 && ib == 0) {                                                          \
    const float y = b[0];                                                                   \
    for (long i = 0; i < n; i++) { float x = a[i]; o[i] = (EXPR); }                         \
  } else if (ia == 0 && ib == 1) {                                                          \
    const float x = a[0];                                                                   \
    for (long i = 0; i < n; i++) { float y = b[i]; o[i] = (EXPR); }                         \
  } else {                                                                                  \
    for (long i = 0; i < n; i++) { float x = a[i * ia], y = b[i * ib]; o[i] = (EXPR); }     \
  }
  switch (op) {
    case MM_ADD: MM_BIN_LOOP(x + y) break;
    case MM_SUB: MM_BIN_LOOP(x - y) break;
    case MM_MUL: MM_BIN_LOOP(x * y) break;
    case MM_DIV: MM_BIN_LOOP(x / y) break;
    case MM_MAX: MM_BIN_LOOP((x > y || x != x) ? x : y) break;
    case MM_MIN: MM_BIN_LOOP((x < y || x != x) ? x : y) break;
    case MM_POW: MM_BIN_LOOP(powf(x, y)) break;
    case MM_SQDIFF: MM_BIN_LOOP((x - y) * (x - y)) break;
    default: break;
  }
#undef MM_BIN_LOOP
}

typedef struct {
  int op, rank;
  const float *a, *b;
  float *out;
  const int32_t *shape, *sa, *sb;
  long inner;
} binary_job;

/* rows of the output (all axes but the last) in [begin, end) */
static void binary_rows(void *ctx, long begin, long end) {
  const binary_job *j = (const binary_job *)ctx;
  int r = j->rank;
  long ia = j->sa[r - 1], ib = j->sb[r - 1];
  for (long row = begin; row < end; row++) {
    long rem = row, oa = 0, ob = 0;
    for (int ax = r - 2; ax >= 0; ax--) {
      long i = rem % j->shape[ax];
      rem /= j->shape[ax];
      oa += i * j->sa[ax];
      ob += i * j->sb[ax];
    }
    binary_row(j->op, j->a + oa, ia, j->b + ob, ib, j->out + row * j->inner, j->inner);
  }
}

/* a flat range of a rank-1 operation */
static void binary_flat(void *ctx, long begin, long end) {
  const binary_job *j = (const binary_job *)ctx;
  long ia = j->sa[0], ib = j->sb[0];
  binary_row(j->op, j->a + begin * ia, ia, j->b + begin * ib, ib, j->out + begin, end - begin);
}

void mm_binary(int op, const float *a, const float *b, float *out, int rank, const int32_t *shape,
               const int32_t *sa, const int32_t *sb) {
  static const int32_t one = 1, zero = 0;
  long n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  if (n == 0) return;
  binary_job j = {op, rank, a, b, out, shape, sa, sb, rank ? shape[rank - 1] : 1};
  if (rank <= 1) {
    if (rank == 0) {
      j.sa = &zero;
      j.sb = &zero;
      j.shape = &one;
    }
    mm_parallel_for(n, GRAIN_ELEMS, binary_flat, &j);
    return;
  }
  long rows = n / j.inner;
  long grain = (GRAIN_ELEMS + j.inner - 1) / j.inner;
  mm_parallel_for(rows, grain, binary_rows, &j);
}

typedef struct {
  int op;
  const float *x;
  float *out;
} unary_job;

static void unary_part(void *ctx, long begin, long end) {
  const unary_job *j = (const unary_job *)ctx;
  const float *restrict x = j->x + begin;
  float *restrict o = j->out + begin;
  long n = end - begin;
  switch (j->op) {
    case MM_EXP: for (long i = 0; i < n; i++) o[i] = mm_expf(x[i]); break;
    case MM_LOG: for (long i = 0; i < n; i++) o[i] = logf(x[i]); break;
    case MM_SQRT: for (long i = 0; i < n; i++) o[i] = sqrtf(x[i]); break;
    case MM_RSQRT: for (long i = 0; i < n; i++) o[i] = 1.0f / sqrtf(x[i]); break;
    case MM_SQUARE: for (long i = 0; i < n; i++) o[i] = x[i] * x[i]; break;
    case MM_NEG: for (long i = 0; i < n; i++) o[i] = -x[i]; break;
    case MM_SIGMOID: for (long i = 0; i < n; i++) o[i] = mm_sigmoidf(x[i]); break;
    case MM_ERF: for (long i = 0; i < n; i++) o[i] = mm_erff(x[i]); break;
    case MM_TANH: for (long i = 0; i < n; i++) o[i] = tanhf(x[i]); break;
    case MM_RELU: for (long i = 0; i < n; i++) o[i] = x[i] < 0.0f ? 0.0f : x[i]; break;
    case MM_ABS: for (long i = 0; i < n; i++) o[i] = fabsf(x[i]); break;
    case MM_RECIPROCAL: for (long i = 0; i < n; i++) o[i] = 1.0f / x[i]; break;
    case MM_GELU: for (long i = 0; i < n; i++) o[i] = gelu_f(x[i]); break;
    case MM_QUICK_GELU: for (long i = 0; i < n; i++) o[i] = quick_gelu_f(x[i]); break;
    default: break;
  }
}

void mm_unary(int op, const float *x, float *out, long n) {
  unary_job j = {op, x, out};
  mm_parallel_for(n, GRAIN_ELEMS, unary_part, &j);
}

void mm_fill(float *dst, long n, float value) {
  if (value == 0.0f && !signbit(value)) {
    memset(dst, 0, sizeof(float) * n);
    return;
  }
  for (long i = 0; i < n; i++) dst[i] = value;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* reductions                                                                                                    */

typedef struct {
  int op;
  const float *x;
  float *out;
  long rows, cols;
} reduce_job;

static void reduce_rows_part(void *ctx, long begin, long end) {
  const reduce_job *j = (const reduce_job *)ctx;
  long cols = j->cols;
  for (long r = begin; r < end; r++) {
    const float *restrict x = j->x + r * cols;
    switch (j->op) {
      case MM_RSUM:
      case MM_RMEAN: {
        /* four double accumulators: vectorisable, and as accurate as tfjs' double sum */
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long c = 0;
        for (; c + 4 <= cols; c += 4) {
          s0 += x[c];
          s1 += x[c + 1];
          s2 += x[c + 2];
          s3 += x[c + 3];
        }
        for (; c < cols; c++) s0 += x[c];
        double s = (s0 + s1) + (s2 + s3);
        j->out[r] = (float)(j->op == MM_RMEAN ? s / (double)cols : s);
        break;
      }
      case MM_RMAX: {
        float m = x[0];
        /* once m is NaN it stays NaN (tfjs' max keeps a NaN once seen) */
        for (long c = 0; c < cols; c++) m = (x[c] > m || x[c] != x[c]) ? x[c] : m;
        j->out[r] = m;
        break;
      }
      case MM_RMIN: {
        float m = x[0];
        for (long c = 0; c < cols; c++) m = (x[c] < m || x[c] != x[c]) ? x[c] : m;
        j->out[r] = m;
        break;
      }
      case MM_RPROD: {
        double p = 1;
        for (long c = 0; c < cols; c++) p *= x[c];
        j->out[r] = (float)p;
        break;
      }
      default: break;
    }
  }
}

void mm_reduce_rows(int op, const float *x, float *out, long rows, long cols) {
  reduce_job j = {op, x, out, rows, cols};
  long grain = (GRAIN_ELEMS + cols - 1) / (cols ? cols : 1);
  mm_parallel_for(rows, grain, reduce_rows_part, &j);
}

/* columns [begin, end) reduced over all rows */
static void reduce_cols_part(void *ctx, long begin, long end) {
  const reduce_job *j = (const reduce_job *)ctx;
  long w = end - begin, cols = j->cols;
  if (j->op == MM_RSUM || j->op == MM_RMEAN || j->op == MM_RPROD) {
    double *acc = (double *)malloc(sizeof(double) * w);
    for (long c = 0; c < w; c++) acc[c] = j->op == MM_RPROD ? 1.0 : 0.0;
    for (long r = 0; r < j->rows; r++) {
      const float *restrict x = j->x + r * cols + begin;
      if (j->op == MM_RPROD)
        for (long c = 0; c < w; c++) acc[c] *= x[c];
      else
        for (long c = 0; c < w; c++) acc[c] += x[c];
    }
    for (long c = 0; c < w; c++) j->out[begin + c] = (float)(j->op == MM_RMEAN ? acc[c] / (double)j->rows : acc[c]);
    free(acc);
    return;
  }
  float *restrict o = j->out + begin;
  memcpy(o, j->x + begin, sizeof(float) * w);
  for (long r = 1; r < j->rows; r++) {
    const float *restrict x = j->x + r * cols + begin;
    if (j->op == MM_RMAX)
      for (long c = 0; c < w; c++) o[c] = (x[c] > o[c] || x[c] != x[c]) && o[c] == o[c] ? x[c] : o[c];
    else
      for (long c = 0; c < w; c++) o[c] = (x[c] < o[c] || x[c] != x[c]) && o[c] == o[c] ? x[c] : o[c];
  }
}

void mm_reduce_cols(int op, const float *x, float *out, long rows, long cols) {
  reduce_job j = {op, x, out, rows, cols};
  long grain = (GRAIN_ELEMS + rows - 1) / (rows ? rows : 1);
  if (grain < 16) grain = 16;
  mm_parallel_for(cols, grain, reduce_cols_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* copies: transpose, slice, concat, pad                                                                         */

typedef struct {
  const float *src;
  float *dst;
  long sOff, dOff;
  int rank;
  const int32_t *shape, *sstr, *dstr;
  int tAxis; /* >= 0: the axis that is contiguous in src, the last axis contiguous in dst (a 2-D transpose) */
} copy_job;

/* dst[r * dRowStride + c] = src[r + c * sColStride] for a [rows, cols] block, in 32 x 32 tiles. */
static void transpose_block(const float *restrict src, long sColStride, float *restrict dst, long dRowStride,
                            long rows, long cols) {
  const long TB = 32;
  for (long r0 = 0; r0 < rows; r0 += TB) {
    long r1 = r0 + TB < rows ? r0 + TB : rows;
    for (long c0 = 0; c0 < cols; c0 += TB) {
      long c1 = c0 + TB < cols ? c0 + TB : cols;
      for (long r = r0; r < r1; r++)
        for (long c = c0; c < c1; c++) dst[r * dRowStride + c] = src[r + c * sColStride];
    }
  }
}

/* outer index range [begin, end) over all axes but the last (or, for a transpose, but the last two) */
static void copy_part(void *ctx, long begin, long end) {
  const copy_job *j = (const copy_job *)ctx;
  int r = j->rank;
  int inner_axes = j->tAxis >= 0 ? 2 : 1;
  for (long o = begin; o < end; o++) {
    long rem = o, so = j->sOff, dof = j->dOff;
    for (int ax = r - 1 - inner_axes; ax >= 0; ax--) {
      long i = rem % j->shape[ax];
      rem /= j->shape[ax];
      so += i * j->sstr[ax];
      dof += i * j->dstr[ax];
    }
    if (j->tAxis >= 0) {
      /* axes r-2 (rows of dst) and r-1 (cols of dst); src is contiguous along axis r-2 */
      transpose_block(j->src + so, j->sstr[r - 1], j->dst + dof, j->dstr[r - 2], j->shape[r - 2], j->shape[r - 1]);
    } else {
      long n = j->shape[r - 1], ss = j->sstr[r - 1], ds = j->dstr[r - 1];
      const float *restrict s = j->src + so;
      float *restrict d = j->dst + dof;
      if (ss == 1 && ds == 1)
        memcpy(d, s, sizeof(float) * n);
      else
        for (long i = 0; i < n; i++) d[i * ds] = s[i * ss];
    }
  }
}

void mm_copy_nd(const float *src, long sOff, float *dst, long dOff, int rank, const int32_t *shape,
                const int32_t *sstr, const int32_t *dstr) {
  long n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  if (n == 0) return;
  if (rank == 0) {
    dst[dOff] = src[sOff];
    return;
  }
  copy_job j = {src, dst, sOff, dOff, rank, shape, sstr, dstr, -1};
  /* a transpose of the last two axes: dst contiguous along the last axis, src contiguous along the one before */
  if (rank >= 2 && dstr[rank - 1] == 1 && sstr[rank - 1] != 1 && sstr[rank - 2] == 1 && shape[rank - 1] >= 4 &&
      shape[rank - 2] >= 4)
    j.tAxis = rank - 2;
  long inner = j.tAxis >= 0 ? (long)shape[rank - 1] * shape[rank - 2] : shape[rank - 1];
  long outer = n / inner;
  long grain = (GRAIN_ELEMS + inner - 1) / inner;
  mm_parallel_for(outer, grain, copy_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* softmax, gather, segment sum                                                                                  */

typedef struct {
  const float *x;
  float *out;
  long cols;
} softmax_job;

static void softmax_part(void *ctx, long begin, long end) {
  const softmax_job *j = (const softmax_job *)ctx;
  long cols = j->cols;
  for (long r = begin; r < end; r++) {
    const float *restrict x = j->x + r * cols;
    float *restrict o = j->out + r * cols;
    float m = x[0];
    for (long c = 0; c < cols; c++) m = (x[c] > m || x[c] != x[c]) ? x[c] : m;
    double s = 0;
    for (long c = 0; c < cols; c++) {
      o[c] = mm_expf(x[c] - m);
      s += o[c];
    }
    float inv = (float)(1.0 / s);
    for (long c = 0; c < cols; c++) o[c] *= inv;
  }
}

void mm_softmax(const float *x, float *out, long rows, long cols) {
  if (cols == 0) return;
  softmax_job j = {x, out, cols};
  mm_parallel_for(rows, (GRAIN_ELEMS + cols - 1) / cols, softmax_part, &j);
}

long mm_gather(const float *x, const int32_t *idx, long nIdx, float *out, long outer, long axisLen, long inner) {
  for (long i = 0; i < nIdx; i++)
    if (idx[i] < 0 || idx[i] >= axisLen) return i;
  for (long o = 0; o < outer; o++)
    for (long i = 0; i < nIdx; i++)
      memcpy(out + (o * nIdx + i) * inner, x + (o * axisLen + idx[i]) * inner, sizeof(float) * inner);
  return -1;
}

typedef struct {
  const float *x;
  const int32_t *seg;
  long n, inner, num;
  float *out;
} segsum_job;

/* columns [begin, end) of every segment */
static void segsum_part(void *ctx, long begin, long end) {
  const segsum_job *j = (const segsum_job *)ctx;
  long w = end - begin;
  for (long s = 0; s < j->num; s++) memset(j->out + s * j->inner + begin, 0, sizeof(float) * w);
  for (long i = 0; i < j->n; i++) {
    long s = j->seg[i];
    if (s < 0 || s >= j->num) continue;
    float *restrict o = j->out + s * j->inner + begin;
    const float *restrict xi = j->x + i * j->inner + begin;
    for (long c = 0; c < w; c++) o[c] += xi[c];
  }
}

void mm_segment_sum(const float *x, const int32_t *seg, long n, long inner, float *out, long numSegments) {
  segsum_job j = {x, seg, n, inner, numSegments, out};
  long grain = inner >= 64 ? 64 : inner;
  if (n * inner < GRAIN_ELEMS) grain = inner;
  mm_parallel_for(inner, grain ? grain : 1, segsum_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* LayerNorm                                                                                                     */

typedef struct {
  const float *x, *w, *b, *dy, *mean, *rstd;
  float *y, *meanOut, *rstdOut, *dx;
  double *partial; /* [blocks, 2D]: dw then db per block */
  long rows, D, blocks;
  float eps;
} ln_job;

static void ln_fwd_part(void *ctx, long begin, long end) {
  const ln_job *j = (const ln_job *)ctx;
  long D = j->D;
  for (long r = begin; r < end; r++) {
    const float *restrict x = j->x + r * D;
    float *restrict y = j->y + r * D;
    double s = 0;
    for (long c = 0; c < D; c++) s += x[c];
    float mean = (float)(s / (double)D);
    double v = 0;
    for (long c = 0; c < D; c++) {
      float t = x[c] - mean;
      v += (double)t * t;
    }
    float var = (float)(v / (double)D);
    float rstd = 1.0f / sqrtf(var + j->eps);
    const float *restrict w = j->w;
    const float *restrict b = j->b;
    for (long c = 0; c < D; c++) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
    j->meanOut[r] = mean;
    j->rstdOut[r] = rstd;
  }
}

void mm_layer_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, long rows,
                   long D, float eps) {
  if (D == 0) return;
  ln_job j = {x, w, b, NULL, NULL, NULL, y, mean, rstd, NULL, NULL, rows, D, 0, eps};
  mm_parallel_for(rows, (GRAIN_ELEMS + D - 1) / D, ln_fwd_part, &j);
}

/* blocks [begin, end): each block owns a contiguous run of rows and its own dw/db partial sums */
static void ln_bwd_part(void *ctx, long begin, long end) {
  const ln_job *j = (const ln_job *)ctx;
  long D = j->D;
  for (long blk = begin; blk < end; blk++) {
    long r0 = blk * j->rows / j->blocks, r1 = (blk + 1) * j->rows / j->blocks;
    double *restrict dw = j->partial + blk * 2 * D;
    double *restrict db = dw + D;
    for (long c = 0; c < 2 * D; c++) dw[c] = 0;
    for (long r = r0; r < r1; r++) {
      const float *restrict x = j->x + r * D;
      const float *restrict dy = j->dy + r * D;
      const float *restrict w = j->w;
      float *restrict dx = j->dx + r * D;
      float mean = j->mean[r], rstd = j->rstd[r];
      float sg = 0, sgx = 0; /* sums of dy*w and dy*w*xhat */
      for (long c = 0; c < D; c++) {
        float xhat = (x[c] - mean) * rstd;
        float gw = dy[c] * w[c];
        sg += gw;
        sgx += gw * xhat;
        dw[c] += (double)(dy[c] * xhat);
        db[c] += dy[c];
      }
      float mg = sg / (float)D, mgx = sgx / (float)D;
      for (long c = 0; c < D; c++) {
        float xhat = (x[c] - mean) * rstd;
        dx[c] = rstd * (dy[c] * w[c] - mg - xhat * mgx);
      }
    }
  }
}

void mm_layer_norm_grad(const float *dy, const float *x, const float *w, const float *mean, const float *rstd,
                        float *dx, float *dw, float *db, long rows, long D) {
  if (D == 0) return;
  long blocks = 4L * mm_pool_threads();
  if (rows * D < 2 * GRAIN_ELEMS || blocks > rows) blocks = 1;
  double *partial = (double *)malloc(sizeof(double) * 2 * D * (blocks ? blocks : 1));
  ln_job j = {x, w, NULL, dy, mean, rstd, NULL, NULL, NULL, dx, partial, rows, D, blocks, 0};
  if (rows == 0) {
    memset(dw, 0, sizeof(float) * D);
    memset(db, 0, sizeof(float) * D);
    free(partial);
    return;
  }
  mm_parallel_for(blocks, 1, ln_bwd_part, &j);
  for (long c = 0; c < D; c++) {
    double sw = 0, sb = 0;
    for (long blk = 0; blk < blocks; blk++) {
      sw += partial[blk * 2 * D + c];
      sb += partial[blk * 2 * D + D + c];
    }
    dw[c] = (float)sw;
    db[c] = (float)sb;
  }
  free(partial);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* GELU / QuickGELU                                                                                              */

typedef struct {
  int kind;
  const float *x, *dy;
  float *out;
} act_job;

static void act_fwd_part(void *ctx, long begin, long end) {
  const act_job *j = (const act_job *)ctx;
  const float *restrict x = j->x + begin;
  float *restrict y = j->out + begin;
  long n = end - begin;
  if (j->kind == MM_ACT_GELU)
    for (long i = 0; i < n; i++) y[i] = gelu_f(x[i]);
  else
    for (long i = 0; i < n; i++) y[i] = quick_gelu_f(x[i]);
}

static void act_bwd_part(void *ctx, long begin, long end) {
  const act_job *j = (const act_job *)ctx;
  const float *restrict x = j->x + begin;
  const float *restrict dy = j->dy + begin;
  float *restrict dx = j->out + begin;
  long n = end - begin;
  if (j->kind == MM_ACT_GELU)
    for (long i = 0; i < n; i++) dx[i] = dy[i] * gelu_grad_f(x[i]);
  else
    for (long i = 0; i < n; i++) dx[i] = dy[i] * quick_gelu_grad_f(x[i]);
}

void mm_activation(int kind, const float *x, float *y, long n) {
  act_job j = {kind, x, NULL, y};
  mm_parallel_for(n, GRAIN_ELEMS / 2, act_fwd_part, &j);
}

void mm_activation_grad(int kind, const float *dy, const float *x, float *dx, long n) {
  act_job j = {kind, x, dy, dx};
  mm_parallel_for(n, GRAIN_ELEMS / 2, act_bwd_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* attention                                                                                                     */

typedef struct {
  const float *q, *k, *v, *mask, *dout, *p;
  const int32_t *ms;
  float *pOut, *out, *dq, *dk, *dv, *dS;
  long H, Nq, Nk, d, dvw;
  float scale;
} attn_job;

static void attn_fwd_part(void *ctx, long begin, long end) {
  const attn_job *j = (const attn_job *)ctx;
  long Nq = j->Nq, Nk = j->Nk, d = j->d, dv = j->dvw;
  for (long bh = begin; bh < end; bh++) {
    float *P = j->pOut + bh * Nq * Nk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Nq, (int)Nk, (int)d, j->scale, j->q + bh * Nq * d,
                (int)d, j->k + bh * Nk * d, (int)d, 0.0f, P, (int)Nk);
    const float *mrow0 = NULL;
    if (j->mask) mrow0 = j->mask + (bh / j->H) * j->ms[0] + (bh % j->H) * j->ms[1];
    for (long i = 0; i < Nq; i++) {
      float *restrict row = P + i * Nk;
      if (mrow0) {
        const float *mrow = mrow0 + i * j->ms[2];
        long s3 = j->ms[3];
        if (s3 == 1)
          for (long c = 0; c < Nk; c++) row[c] += mrow[c];
        else
          for (long c = 0; c < Nk; c++) row[c] += mrow[c * s3];
      }
      float m = row[0];
      for (long c = 0; c < Nk; c++) m = (row[c] > m || row[c] != row[c]) ? row[c] : m;
      float shift = isfinite(m) ? m : 0.0f;
      float s = 0;
      for (long c = 0; c < Nk; c++) {
        row[c] = mm_expf(row[c] - shift);
        s += row[c];
      }
      s = s > 1e-30f ? s : 1e-30f;
      for (long c = 0; c < Nk; c++) row[c] = row[c] / s;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Nq, (int)dv, (int)Nk, 1.0f, P, (int)Nk,
                j->v + bh * Nk * dv, (int)dv, 0.0f, j->out + bh * Nq * dv, (int)dv);
  }
}

void mm_attention(const float *q, const float *k, const float *v, const float *mask, const int32_t *ms, float *p,
                  float *out, long B, long H, long Nq, long Nk, long d, long dv, float scale) {
  long BH = B * H;
  if (BH == 0 || Nq == 0) return;
  if (Nk == 0) {
    memset(out, 0, sizeof(float) * BH * Nq * dv);
    return;
  }
  attn_job j = {q, k, v, mask, NULL, NULL, ms, p, out, NULL, NULL, NULL, NULL, H, Nq, Nk, d, dv, scale};
  long work = Nq * Nk * (d + dv);
  long grain = work >= GEMM_SPLIT_MACS / 8 ? 1 : (GEMM_SPLIT_MACS / 8 + work - 1) / work;
  mm_parallel_for(BH, grain, attn_fwd_part, &j);
}

static void attn_bwd_part(void *ctx, long begin, long end) {
  const attn_job *j = (const attn_job *)ctx;
  long Nq = j->Nq, Nk = j->Nk, d = j->d, dv = j->dvw;
  float *tmp = j->dS ? NULL : (float *)malloc(sizeof(float) * Nq * Nk);
  for (long bh = begin; bh < end; bh++) {
    const float *P = j->p + bh * Nq * Nk;
    const float *dO = j->dout + bh * Nq * dv;
    float *G = j->dS ? j->dS + bh * Nq * Nk : tmp;
    /* dP = dO v^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Nq, (int)Nk, (int)dv, 1.0f, dO, (int)dv,
                j->v + bh * Nk * dv, (int)dv, 0.0f, G, (int)Nk);
    /* dS = P * (dP - sum(dP * P)) */
    for (long i = 0; i < Nq; i++) {
      float *restrict g = G + i * Nk;
      const float *restrict pr = P + i * Nk;
      float s = 0;
      for (long c = 0; c < Nk; c++) s += g[c] * pr[c];
      for (long c = 0; c < Nk; c++) g[c] = pr[c] * (g[c] - s);
    }
    /* dq = scale dS k; dk = scale dS^T q; dv = P^T dO */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Nq, (int)d, (int)Nk, j->scale, G, (int)Nk,
                j->k + bh * Nk * d, (int)d, 0.0f, j->dq + bh * Nq * d, (int)d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Nk, (int)d, (int)Nq, j->scale, G, (int)Nk,
                j->q + bh * Nq * d, (int)d, 0.0f, j->dk + bh * Nk * d, (int)d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Nk, (int)dv, (int)Nq, 1.0f, P, (int)Nk, dO, (int)dv,
                0.0f, j->dv + bh * Nk * dv, (int)dv);
  }
  free(tmp);
}

void mm_attention_grad(const float *dout, const float *q, const float *k, const float *v, const float *p, float *dq,
                       float *dk, float *dvv, float *dS, long BH, long Nq, long Nk, long d, long dv, float scale) {
  if (BH == 0) return;
  if (Nq == 0 || Nk == 0) {
    memset(dq, 0, sizeof(float) * BH * Nq * d);
    memset(dk, 0, sizeof(float) * BH * Nk * d);
    memset(dvv, 0, sizeof(float) * BH * Nk * dv);
    return;
  }
  attn_job j = {q, k, v, NULL, dout, p, NULL, NULL, NULL, dq, dk, dvv, dS, 1, Nq, Nk, d, dv, scale};
  long work = Nq * Nk * (2 * d + 2 * dv);
  long grain = work >= GEMM_SPLIT_MACS / 8 ? 1 : (GEMM_SPLIT_MACS / 8 + work - 1) / work;
  mm_parallel_for(BH, grain, attn_bwd_part, &j);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* AdamW                                                                                                         */

typedef struct {
  long count;
  const float **p, **g, **m, **v;
  float **pOut, **mOut, **vOut;
  const long *start; /* prefix sums of the lengths, count + 1 entries */
  const float *wd;
  float lr, b1, b2, eps, bc1, bc2;
} adam_job;

static void adam_part(void *ctx, long begin, long end) {
  const adam_job *j = (const adam_job *)ctx;
  /* first tensor overlapping begin */
  long lo = 0, hi = j->count - 1;
  while (lo < hi) {
    long mid = (lo + hi + 1) / 2;
    if (j->start[mid] <= begin) lo = mid; else hi = mid - 1;
  }
  float stepSize = j->lr / j->bc1;
  float b1 = j->b1, b2 = j->b2, c1 = 1.0f - j->b1, c2 = 1.0f - j->b2, bc2 = j->bc2, eps = j->eps;
  for (long t = lo; t < j->count && j->start[t] < end; t++) {
    long s = j->start[t];
    long i0 = begin > s ? begin - s : 0;
    long i1 = (end < j->start[t + 1] ? end : j->start[t + 1]) - s;
    const float *restrict p = j->p[t];
    const float *restrict g = j->g[t];
    const float *restrict m = j->m[t];
    const float *restrict v = j->v[t];
    float *restrict po = j->pOut[t];
    float *restrict mo = j->mOut[t];
    float *restrict vo = j->vOut[t];
    float decay = 1.0f - j->lr * j->wd[t];
    int decayed = j->wd[t] > 0;
    for (long i = i0; i < i1; i++) {
      float mn = m[i] * b1 + g[i] * c1;
      float vn = v[i] * b2 + (g[i] * g[i]) * c2;
      float denom = sqrtf(vn / bc2) + eps;
      float pd = decayed ? p[i] * decay : p[i];
      mo[i] = mn;
      vo[i] = vn;
      po[i] = pd - (mn / denom) * stepSize;
    }
  }
}

void mm_adamw(long count, const float **p, const float **g, const float **m, const float **v, float **pOut,
              float **mOut, float **vOut, const long *len, const float *wd, float lr, float b1, float b2, float eps,
              float bc1, float bc2) {
  if (count == 0) return;
  long *start = (long *)malloc(sizeof(long) * (count + 1));
  start[0] = 0;
  for (long t = 0; t < count; t++) start[t + 1] = start[t] + len[t];
  adam_job j = {count, p, g, m, v, pOut, mOut, vOut, start, wd, lr, b1, b2, eps, bc1, bc2};
  mm_parallel_for(start[count], GRAIN_ELEMS, adam_part, &j);
  free(start);
}
