import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { Rng } from '../data/rng';
import { Linear, LinearAdapter } from './linear';
import { Module } from './module';
import { ParamInit, uniformInit, zerosInit } from './init';

/** Options of {@link addLora} (PEFT's `LoraConfig`). */
export interface LoraOptions {
  /** r, the rank of the update (PEFT default 8) */
  rank: number;
  /** the update is scaled by alpha / r (default r, i.e. scale 1) */
  alpha?: number;
  /** dropout rate on the adapter's input, in [0, 1), while dropout is on (see {@link setLoraDropout}); default 0 */
  dropout?: number;
  /**
   * which Linear layers get an adapter, by dotted module path: a string matches a path equal to it or ending in
   * `.` + it (PEFT `target_modules` as a list: `['wq', 'wv']`, `['q_proj', 'v_proj']`); a RegExp must match the
   * whole path
   */
  targets: string[] | RegExp;
}

/** One weight matrix of an adapter, registered as `lora_A.weight` / `lora_B.weight` (PEFT's names). */
class LoraFactor extends Module {
  readonly weight: Variable;
  constructor(init: ParamInit) {
    super();
    this.weight = this.param('weight', init);
  }
}

/**
 * A LoRA adapter (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", section 4.1, eq. 3):
 * the Linear's output `W x` becomes `W x + (alpha / r) B A dropout(x)` with A [r, in] ~ kaiming-uniform
 * (a = sqrt 5, i.e. U(-1/sqrt(in), 1/sqrt(in)), as PEFT) and B [out, r] = 0, so a fresh adapter leaves the model
 * unchanged. Attached to a {@link Linear} by {@link addLora}.
 */
export class LoraAdapter implements LinearAdapter {
  readonly modules: Readonly<Record<string, Module>>;
  readonly a: Variable;
  readonly b: Variable;
  /** alpha / rank */
  readonly scale: number;
  /** where dropout masks are drawn from while training ({@link setLoraDropout}); undefined: no dropout */
  rng?: Rng;

  /**
   * @param inFeatures the Linear's input width @param outFeatures its output width
   * @throws Error when rank is not a positive integer or dropout is outside [0, 1)
   */
  constructor(inFeatures: number, outFeatures: number, readonly rank: number, readonly alpha = rank, readonly dropout = 0) {
    if (!Number.isInteger(rank) || rank < 1) throw new Error(`LoRA rank must be an integer >= 1, got ${rank}`);
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`LoRA dropout must be in [0, 1), got ${dropout}`);
    const a = new LoraFactor(uniformInit([rank, inFeatures], 1 / Math.sqrt(inFeatures)));
    const b = new LoraFactor(zerosInit([outFeatures, rank]));
    this.modules = { lora_A: a, lora_B: b };
    this.a = a.weight;
    this.b = b.weight;
    this.scale = alpha / rank;
  }

  /** `y + scale * B A dropout(x)`. @param x float32 [..., in] @param y float32 [..., out] @returns float32 [..., out] */
  apply(x: Tensor, y: Tensor): Tensor {
    return tf.tidy(() => {
      let input = x;
      if (this.rng && this.dropout > 0) {
        const keep = tf.randomUniform(x.shape, 0, 1, 'float32', this.rng.nextUint32()).greaterEqual(tf.scalar(this.dropout));
        input = x.mul(keep.toFloat()).mul(tf.scalar(1 / (1 - this.dropout)));
      }
      return y.add(linear(linear(input, this.a as Tensor2D), this.b as Tensor2D).mul(tf.scalar(this.scale)));
    });
  }

  /** The update this adapter adds to the weight, `scale * B @ A`, float32 [out, in]. */
  delta(): Tensor2D {
    return tf.tidy(() => tf.matMul(this.b as Tensor2D, this.a as Tensor2D).mul(tf.scalar(this.scale)) as Tensor2D);
  }
}

/**
 * Attaches a {@link LoraAdapter} to every Linear of `model` named by `opts.targets`. The adapters' weights join the
 * model's parameters as `<linear path>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r] (PEFT's saved names
 * without its `base_model.model.` prefix); the base weights are untouched (hold them with `frozen:` to train the
 * adapters alone). Works in a shape-only build.
 * @returns the paths of the Linears that got an adapter, in module order
 * @throws Error when a target names no module, names a module that is not a Linear, or a Linear already has an adapter
 */
export function addLora(model: Module, opts: LoraOptions): string[] {
  const modules = [...model.namedModules()];
  const matches = (path: string, t: string | RegExp) =>
    typeof t === 'string' ? path === t || path.endsWith(`.${t}`) : new RegExp(`^(?:${t.source})$`, t.flags.replace('g', '')).test(path);
  const targets = Array.isArray(opts.targets) ? opts.targets : [opts.targets];
  const chosen = new Set<string>();
  for (const t of targets) {
    const hit = modules.filter(([path]) => path !== '' && matches(path, t));
    if (hit.length === 0) {
      const names = [...new Set(modules.filter(([, m]) => m instanceof Linear).map(([p]) => p.split('.').pop()))].join(', ');
      throw new Error(`LoRA target ${String(t)} matches no module; the Linear layers here are named ${names}`);
    }
    const wrong = hit.find(([, m]) => !(m instanceof Linear));
    if (wrong) throw new Error(`LoRA target ${String(t)} names ${wrong[0]}, a ${wrong[1].constructor.name}, not a Linear`);
    for (const [path] of hit) chosen.add(path);
  }
  const paths = modules.map(([p]) => p).filter((p) => chosen.has(p));
  for (const p of paths) {
    const lin = model.namedModules().get(p) as Linear;
    if (lin.adapter) throw new Error(`LoRA: ${p} already has an adapter`);
    lin.attachAdapter(new LoraAdapter(lin.inFeatures, lin.outFeatures, opts.rank, opts.alpha ?? opts.rank, opts.dropout ?? 0));
  }
  return paths;
}

/** The LoRA adapters of `model`, by the path of the Linear they are attached to. */
export function loraAdapters(model: Module): Map<string, LoraAdapter> {
  const out = new Map<string, LoraAdapter>();
  for (const [path, m] of model.namedModules()) if (m instanceof Linear && m.adapter instanceof LoraAdapter) out.set(path, m.adapter);
  return out;
}

/**
 * Turns adapter dropout on (masks drawn from `rng`, e.g. `new Rng(batch.seed).fork(batch.index)` so a resumed run
 * repeats them) or off (`undefined`, for evaluation and inference) for every adapter of `model`.
 */
export function setLoraDropout(model: Module, rng: Rng | undefined): void {
  for (const a of loraAdapters(model).values()) a.rng = rng;
}

/**
 * Folds every LoRA adapter of `model` into its Linear for inference (PEFT `merge_and_unload`): `W += (alpha / r)
 * B @ A`, then detaches the adapter and frees its weights, so the model has its original parameters and runs at the
 * original cost with the same outputs.
 * @returns the paths of the merged Linears
 */
export function mergeLora(model: Module): string[] {
  const adapters = loraAdapters(model);
  const modules = model.namedModules();
  for (const [path, adapter] of adapters) {
    const lin = modules.get(path) as Linear;
    tf.tidy(() => {
      const d = adapter.delta();
      lin.weight.assign(lin.weight.add(d));
    });
    lin.detachAdapter();
    tf.dispose([adapter.a, adapter.b]);
  }
  return [...adapters.keys()];
}
