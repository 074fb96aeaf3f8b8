/*
 * Native float32 kernels of @mmzoo/backend-native. Every function works on raw, non-overlapping buffers whose
 * sizes the caller (addon.c) has checked; work is split over the thread pool (pool.h) above a size threshold.
 */
#ifndef MMZOO_KERNELS_H
#define MMZOO_KERNELS_H

#include <stdint.h>

enum mm_binop { MM_ADD, MM_SUB, MM_MUL, MM_DIV, MM_MAX, MM_MIN, MM_POW, MM_SQDIFF, MM_BINOP_COUNT };
enum mm_unop {
  MM_EXP, MM_LOG, MM_SQRT, MM_RSQRT, MM_SQUARE, MM_NEG, MM_SIGMOID, MM_ERF, MM_TANH, MM_RELU, MM_ABS,
  MM_RECIPROCAL, MM_GELU, MM_QUICK_GELU, MM_UNOP_COUNT
};
enum mm_redop { MM_RSUM, MM_RMAX, MM_RMIN, MM_RMEAN, MM_RPROD, MM_REDOP_COUNT };
enum mm_act { MM_ACT_GELU, MM_ACT_QUICK_GELU };

/** Sets the OpenBLAS thread count used by one GEMM call (the pool splits large GEMMs itself when this is 1). */
void mm_blas_threads(int n);
int mm_blas_threads_get(void);

/** Row-major C[M,N] = alpha op(A) op(B) + beta C, split over the pool along M or N. */
void mm_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
              const float *B, long ldb, float beta, float *C, long ldc);
/** C[i] = op(A[aOff[i]]) op(B[bOff[i]]) for i < batch, C contiguous [batch, M, N]; items split over the pool. */
void mm_bmm(long batch, int transA, int transB, long M, long N, long K, const float *A, const int32_t *aOff,
            const float *B, const int32_t *bOff, float *C);

/** out (contiguous `shape`) = a op b with element strides sa / sb per axis (0 = broadcast). */
void mm_binary(int op, const float *a, const float *b, float *out, int rank, const int32_t *shape,
               const int32_t *sa, const int32_t *sb);
/** out[i] = op(x[i]). */
void mm_unary(int op, const float *x, float *out, long n);

/** out[r] = op over x[r, 0..cols) for a [rows, cols] matrix (sum and mean accumulate in double). */
void mm_reduce_rows(int op, const float *x, float *out, long rows, long cols);
/** out[c] = op over x[0..rows, c) for a [rows, cols] matrix. */
void mm_reduce_cols(int op, const float *x, float *out, long rows, long cols);

/** Strided copy: dst[dOff + sum i_k dstr_k] = src[sOff + sum i_k sstr_k] over `shape`. */
void mm_copy_nd(const float *src, long sOff, float *dst, long dOff, int rank, const int32_t *shape,
                const int32_t *sstr, const int32_t *dstr);
/** dst[i] = value for i < n. */
void mm_fill(float *dst, long n, float value);

/** Row softmax of a [rows, cols] matrix: exp(x - max) / sum (tfjs Softmax semantics). */
void mm_softmax(const float *x, float *out, long rows, long cols);

/**
 * out[o, i, :] = x[o, idx[i], :] for x [outer, axisLen, inner]; returns -1, or the position of the first index
 * outside [0, axisLen) (nothing written then).
 */
long mm_gather(const float *x, const int32_t *idx, long nIdx, float *out, long outer, long axisLen, long inner);
/** out[s, :] = sum of x[i, :] over i with seg[i] == s; ids outside [0, numSegments) are dropped. */
void mm_segment_sum(const float *x, const int32_t *seg, long n, long inner, float *out, long numSegments);

/** LayerNorm over rows of width D: y, and per-row mean and 1/sqrt(var + eps) for the gradient. */
void mm_layer_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, long rows,
                   long D, float eps);
/** LayerNorm gradient: dx [rows, D], dw [D], db [D]. */
void mm_layer_norm_grad(const float *dy, const float *x, const float *w, const float *mean, const float *rstd,
                        float *dx, float *dw, float *db, long rows, long D);

/** GELU / QuickGELU forward and gradient (dx = dy * act'(x)). */
void mm_activation(int kind, const float *x, float *y, long n);
void mm_activation_grad(int kind, const float *dy, const float *x, float *dx, long n);

/**
 * Attention per (batch, head) item over q [BH, Nq, d], k [BH, Nk, d], v [BH, Nk, dv]:
 * S = scale q k^T + mask; P = softmax(S) (a row whose max is not finite is shifted by 0; sums clamp at 1e-30);
 * out = P v. mask (may be NULL) is read at b*ms[0] + h*ms[1] + i*ms[2] + j*ms[3].
 */
void mm_attention(const float *q, const float *k, const float *v, const float *mask, const int32_t *ms, float *p,
                  float *out, long B, long H, long Nq, long Nk, long d, long dv, float scale);
/** Gradient of mm_attention: dq, dk, dv and, when dS is not NULL, the scores gradient [BH, Nq, Nk]. */
void mm_attention_grad(const float *dout, const float *q, const float *k, const float *v, const float *p, float *dq,
                       float *dk, float *dvv, float *dS, long BH, long Nq, long Nk, long d, long dv, float scale);

/** One AdamW step over `count` tensors (torch.optim.AdamW semantics; see core train/optimizer.ts). */
void mm_adamw(long count, const float **p, const float **g, const float **m, const float **v, float **pOut,
              float **mOut, float **vOut, const long *len, const float *wd, float lr, float b1, float b2, float eps,
              float bc1, float bc2);

#endif
