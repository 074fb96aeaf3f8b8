import { TensorInfo } from '@tensorflow/tfjs-core';
import { broadcastStrides, i32, NativeKernel, sizeOf } from './util';

/**
 * Fused kernels that @mmzoo/core calls by name when the active backend has them (core ops/fused.ts documents each
 * kernel's inputs, attributes and outputs; the names here must match FUSED_KERNELS there).
 */

function assertF32(kernel: string, ts: Record<string, TensorInfo | undefined>): void {
  for (const [name, t] of Object.entries(ts)) {
    if (t && t.dtype !== 'float32') throw new Error(`${kernel}: ${name} must be float32, got ${t.dtype}`);
  }
}

function fail(kernel: string, msg: string): never {
  throw new Error(`${kernel}: ${msg}`);
}

const ACT_KIND: Record<string, number> = { gelu: 0, quick_gelu: 1 };

function layerNorm(): NativeKernel {
  const name = 'MmzooLayerNorm';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs;
      assertF32(name, { x, gamma, beta });
      const D = x.shape[x.shape.length - 1];
      if (x.shape.length < 1 || gamma.shape.join() !== `${D}` || beta.shape.join() !== `${D}`) {
        fail(name, `x [..., D] needs gamma and beta [D]; got ${x.shape}, ${gamma.shape}, ${beta.shape}`);
      }
      const n = sizeOf(x.shape);
      const rows = D > 0 ? n / D : 0;
      const y = backend.alloc(n);
      const mean = backend.alloc(rows);
      const rstd = backend.alloc(rows);
      if (n > 0) backend.addon.layerNorm(backend.f32(x), backend.f32(gamma), backend.f32(beta), y, mean, rstd, rows, D, (attrs as { epsilon: number }).epsilon);
      return [backend.output(x.shape, y), backend.output([rows], mean), backend.output([rows], rstd)];
    },
  };
}

function layerNormGrad(): NativeKernel {
  const name = 'MmzooLayerNormGrad';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x, gamma, mean, rstd } = inputs;
      assertF32(name, { dy, x, gamma, mean, rstd });
      const D = x.shape[x.shape.length - 1];
      const n = sizeOf(x.shape);
      const rows = D > 0 ? n / D : 0;
      if (sizeOf(dy.shape) !== n || sizeOf(gamma.shape) !== D || sizeOf(mean.shape) !== rows || sizeOf(rstd.shape) !== rows) {
        fail(name, `inconsistent shapes dy ${dy.shape}, x ${x.shape}, gamma ${gamma.shape}, mean ${mean.shape}, rstd ${rstd.shape}`);
      }
      const dx = backend.alloc(n);
      const dg = backend.alloc(D);
      const db = backend.alloc(D);
      if (D > 0) {
        backend.addon.layerNormGrad(backend.f32(dy), backend.f32(x), backend.f32(gamma), backend.f32(mean), backend.f32(rstd), dx, dg, db, rows, D);
      }
      return [backend.output(x.shape, dx), backend.output([D], dg), backend.output([D], db)];
    },
  };
}

function activation(): NativeKernel {
  const name = 'MmzooActivation';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      assertF32(name, { x });
      const kind = ACT_KIND[(attrs as { activation: string }).activation];
      if (kind === undefined) fail(name, `unknown activation '${(attrs as { activation: string }).activation}'`);
      const y = backend.alloc(sizeOf(x.shape));
      if (y.length) backend.addon.activation(kind, backend.f32(x), y);
      return backend.output(x.shape, y);
    },
  };
}

function activationGrad(): NativeKernel {
  const name = 'MmzooActivationGrad';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, x } = inputs;
      assertF32(name, { dy, x });
      const kind = ACT_KIND[(attrs as { activation: string }).activation];
      if (kind === undefined) fail(name, `unknown activation '${(attrs as { activation: string }).activation}'`);
      if (sizeOf(dy.shape) !== sizeOf(x.shape)) fail(name, `dy ${dy.shape} and x ${x.shape} differ`);
      const dx = backend.alloc(sizeOf(x.shape));
      if (dx.length) backend.addon.activationGrad(kind, backend.f32(dy), backend.f32(x), dx);
      return backend.output(x.shape, dx);
    },
  };
}

function attention(): NativeKernel {
  const name = 'MmzooAttention';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { q, k, v, mask } = inputs;
      assertF32(name, { q, k, v, mask });
      if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) fail(name, 'q, k and v must be rank 4 [B, H, N, d]');
      const [B, H, Nq, d] = q.shape;
      const Nk = k.shape[2];
      const dv = v.shape[3];
      if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== d || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== Nk) {
        fail(name, `incompatible shapes q ${q.shape}, k ${k.shape}, v ${v.shape}`);
      }
      const full = [B, H, Nq, Nk];
      let ms: Int32Array | null = null;
      if (mask) {
        if (mask.shape.length > 4 || mask.shape.some((s, i) => s !== 1 && s !== full[i + 4 - mask.shape.length])) {
          fail(name, `mask ${mask.shape} does not broadcast to [${full}]`);
        }
        ms = i32(broadcastStrides(mask.shape, full));
      }
      const probs = backend.alloc(B * H * Nq * Nk);
      const out = backend.alloc(B * H * Nq * dv);
      backend.addon.attention(backend.f32(q), backend.f32(k), backend.f32(v), mask ? backend.f32(mask) : null, ms, probs, out, B, H, Nq, Nk, d, dv, (attrs as { scale: number }).scale);
      return [backend.output([B, H, Nq, dv], out), backend.output(full, probs)];
    },
  };
}

function attentionGrad(): NativeKernel {
  const name = 'MmzooAttentionGrad';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, q, k, v, probs } = inputs;
      assertF32(name, { dy, q, k, v, probs });
      const [B, H, Nq, d] = q.shape;
      const Nk = k.shape[2];
      const dv = v.shape[3];
      if (sizeOf(dy.shape) !== B * H * Nq * dv || sizeOf(probs.shape) !== B * H * Nq * Nk) fail(name, `inconsistent shapes dy ${dy.shape}, probs ${probs.shape}`);
      const { scale, scoresGrad } = attrs as { scale: number; scoresGrad: boolean };
      const dq = backend.alloc(sizeOf(q.shape));
      const dk = backend.alloc(sizeOf(k.shape));
      const dvv = backend.alloc(sizeOf(v.shape));
      const dS = scoresGrad ? backend.alloc(B * H * Nq * Nk) : null;
      backend.addon.attentionGrad(backend.f32(dy), backend.f32(q), backend.f32(k), backend.f32(v), backend.f32(probs), dq, dk, dvv, dS, B * H, Nq, Nk, d, dv, scale);
      const outs = [backend.output(q.shape, dq), backend.output(k.shape, dk), backend.output(v.shape, dvv)];
      if (dS) outs.push(backend.output([B, H, Nq, Nk], dS));
      return outs;
    },
  };
}

function adamW(): NativeKernel {
  const name = 'MmzooAdamW';
  return {
    kernelName: name,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as { count: number; lr: number; beta1: number; beta2: number; epsilon: number; step: number; weightDecay: number[] };
      const lists: Float32Array[][] = [[], [], [], [], [], [], []];
      const outs: TensorInfo[] = [];
      for (let i = 0; i < a.count; i++) {
        const p = inputs[`p${i}`];
        const ts = [p, inputs[`g${i}`], inputs[`m${i}`], inputs[`v${i}`]];
        assertF32(name, { p: ts[0], g: ts[1], m: ts[2], v: ts[3] });
        if (ts.some((t) => !t || sizeOf(t.shape) !== sizeOf(p.shape))) fail(name, `tensor ${i}: p, g, m and v must all be present with one size`);
        ts.forEach((t, j) => lists[j].push(backend.f32(t)));
        for (let j = 0; j < 3; j++) {
          const buf = backend.alloc(sizeOf(p.shape));
          lists[4 + j].push(buf);
          outs.push(backend.output(p.shape, buf));
        }
      }
      if (a.weightDecay.length !== a.count) fail(name, `weightDecay has ${a.weightDecay.length} entries for ${a.count} tensors`);
      backend.addon.adamw(
        lists[0], lists[1], lists[2], lists[3], lists[4], lists[5], lists[6], Float32Array.from(a.weightDecay),
        a.lr, a.beta1, a.beta2, a.epsilon, 1 - a.beta1 ** a.step, 1 - a.beta2 ** a.step,
      );
      return outs;
    },
  };
}

/** The fused kernels (LayerNorm, GELU / QuickGELU, attention, AdamW), each with its gradient kernel where one exists. */
export function fusedKernels(): NativeKernel[] {
  return [layerNorm(), layerNormGrad(), activation(), activationGrad(), attention(), attentionGrad(), adamW()];
}
