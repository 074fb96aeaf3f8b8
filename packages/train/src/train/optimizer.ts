import { tf, Tensor, Variable, FUSED_KERNELS, hasFusedKernel, runFused } from '@mmzoo/core';

/** Hyper-parameters of {@link AdamW}. */
export interface AdamWOptions {
  /** Adam betas (default [0.9, 0.999]; CLIP uses [0.9, 0.98]) */
  betas?: [number, number];
  /** denominator epsilon (default 1e-8; CLIP uses 1e-6) */
  eps?: number;
  /** decoupled weight decay coefficient (default 0.01) */
  weightDecay?: number;
  /** which parameters are decayed; default {@link defaultDecayFilter} */
  decay?: (name: string, v: Variable) => boolean;
}

/**
 * Default weight-decay filter (open_clip `exclude`): no decay on tensors of rank < 2 (biases, norm weights,
 * class embeddings, the logit scale) nor on embedding tables and positional embeddings.
 */
export function defaultDecayFilter(name: string, v: Variable): boolean {
  return v.rank >= 2 && !/embedding|logit_scale|(^|\.)(ln|norm)[^.]*\./.test(name);
}

/**
 * One AdamW update of one parameter in place (Loshchilov & Hutter 2019, Algorithm 2; torch.optim.AdamW):
 * `p *= 1 - lr * wd`; `m = b1 m + (1 - b1) g`; `v = b2 v + (1 - b2) g^2`;
 * `p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`. The composed form; {@link AdamW.apply} runs the same
 * update over all parameters as one fused kernel where the backend has `MmzooAdamW` (ops/fused.ts).
 * All tensors float32 of the parameter's shape; `t` is the 1-based step.
 */
export function adamwUpdate(
  p: Variable, g: Tensor, m: Variable, v: Variable, t: number, lr: number,
  b1: number, b2: number, eps: number, wd: number,
): void {
  tf.tidy(() => {
    const mNew = m.mul(b1).add(g.mul(1 - b1));
    const vNew = v.mul(b2).add(g.square().mul(1 - b2));
    m.assign(mNew);
    v.assign(vNew);
    const stepSize = lr / (1 - b1 ** t);
    const denom = vNew.div(1 - b2 ** t).sqrt().add(eps);
    const decayed = wd > 0 ? p.mul(1 - lr * wd) : p;
    p.assign(decayed.sub(mNew.div(denom).mul(stepSize)));
  });
}

/**
 * AdamW with decoupled weight decay over a named parameter set. Its state (first and second moments and the
 * step count) is exposed by name for checkpoints, so a resumed run continues exactly.
 */
export class AdamW {
  /** number of updates applied so far */
  step = 0;
  readonly m = new Map<string, Variable>();
  readonly v = new Map<string, Variable>();
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly decays = new Map<string, boolean>();

  /** @param params trainable parameters by name (e.g. `model.trainableParameters()`) */
  constructor(readonly params: Map<string, Variable>, opts: AdamWOptions = {}) {
    [this.b1, this.b2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.wd = opts.weightDecay ?? 0.01;
    const filter = opts.decay ?? defaultDecayFilter;
    // a variable shares its initial tensor's data: dispose that tensor, or each optimizer leaks two per parameter
    const zeros = (p: Variable) => {
      const z = tf.zerosLike(p);
      const v = tf.variable(z, false);
      z.dispose();
      return v;
    };
    for (const [name, p] of params) {
      this.m.set(name, zeros(p));
      this.v.set(name, zeros(p));
      this.decays.set(name, filter(name, p));
    }
  }

  /** Names of the parameters that receive weight decay. */
  decayedNames(): string[] {
    return [...this.decays].filter(([, d]) => d).map(([n]) => n);
  }

  /**
   * Applies one update with learning rate `lr` from gradients keyed by parameter name: one fused kernel over all
   * parameters where the backend has `MmzooAdamW` (the native backend), else {@link adamwUpdate} per parameter.
   * @throws Error when a gradient is missing for a parameter (a disconnected parameter is a model bug)
   */
  apply(grads: Map<string, Tensor>, lr: number): void {
    this.step += 1;
    if (this.params.size > 0 && hasFusedKernel(FUSED_KERNELS.adamw)) {
      this.applyFused(grads, lr);
      return;
    }
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for parameter '${name}'`);
      adamwUpdate(p, g, this.m.get(name)!, this.v.get(name)!, this.step, lr, this.b1, this.b2, this.eps, this.decays.get(name) ? this.wd : 0);
    }
  }

  /** The update of {@link apply} as one `MmzooAdamW` kernel; the results replace the variables' values. */
  private applyFused(grads: Map<string, Tensor>, lr: number): void {
    const entries = [...this.params];
    for (const [name] of entries) if (!grads.has(name)) throw new Error(`AdamW: no gradient for parameter '${name}'`);
    tf.tidy(() => {
      const inputs: Record<string, Tensor> = {};
      const weightDecay: number[] = [];
      entries.forEach(([name, p], i) => {
        inputs[`p${i}`] = p;
        inputs[`g${i}`] = grads.get(name)!;
        inputs[`m${i}`] = this.m.get(name)!;
        inputs[`v${i}`] = this.v.get(name)!;
        weightDecay.push(this.decays.get(name) ? this.wd : 0);
      });
      const out = runFused(FUSED_KERNELS.adamw, inputs, {
        count: entries.length, lr, beta1: this.b1, beta2: this.b2, epsilon: this.eps, step: this.step, weightDecay,
      });
      entries.forEach(([name, p], i) => {
        p.assign(out[3 * i]);
        this.m.get(name)!.assign(out[3 * i + 1]);
        this.v.get(name)!.assign(out[3 * i + 2]);
      });
    });
  }

  /** Optimizer state for checkpoints: `exp_avg.<name>`, `exp_avg_sq.<name>` (torch names) and the step. */
  state(): { step: number; tensors: Map<string, Variable> } {
    const tensors = new Map<string, Variable>();
    for (const [n, t] of this.m) tensors.set(`exp_avg.${n}`, t);
    for (const [n, t] of this.v) tensors.set(`exp_avg_sq.${n}`, t);
    return { step: this.step, tensors };
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (torch `clip_grad_norm_`).
 * @returns the clipped gradients (new tensors; the inputs are not disposed) and the norm before clipping
 */
export function clipGradNorm(grads: Map<string, Tensor>, maxNorm: number): { grads: Map<string, Tensor>; norm: number } {
  const norm = tf.tidy(() => tf.addN([...grads.values()].map((g) => g.square().sum())).sqrt().dataSync()[0]);
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  const out = new Map<string, Tensor>();
  for (const [n, g] of grads) out.set(n, scale < 1 ? g.mul(scale) : g.clone());
  return { grads: out, norm };
}
