import { Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { Module } from './module';
import { normalInit, zerosInit } from './init';
import { tf } from '../tf';

/**
 * Fully connected layer `y = x @ weight^T + bias` (torch.nn.Linear layout: `weight` [out, in], `bias` [out]).
 * Runs as one plain 2-D matmul forward and backward (see ops/matmul.ts).
 */
export class Linear extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  /**
   * @param inFeatures input width
   * @param outFeatures output width
   * @param opts.bias whether to add a bias (default true)
   * @param opts.std std of the N(0, std^2) weight initialisation (default 0.02); the bias starts at 0
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.param('weight', normalInit([outFeatures, inFeatures], opts.std ?? 0.02));
    if (opts.bias ?? true) this.bias = this.param('bias', zerosInit([outFeatures]));
  }

  /** the adapter changing this layer's output, if one is attached (LoRA: nn/lora.ts) */
  get adapter(): LinearAdapter | undefined {
    return this.attached;
  }

  private attached?: LinearAdapter;

  /**
   * Attaches an adapter: from now on `apply` returns `adapter.apply(x, y)` for this layer's output y, and the
   * adapter's modules are children of this layer (saved, counted and optimised under its name).
   * @throws Error when an adapter is already attached
   */
  attachAdapter(adapter: LinearAdapter): void {
    if (this.attached) throw new Error('this Linear already has an adapter');
    for (const [name, m] of Object.entries(adapter.modules)) this.module(name, m);
    this.attached = adapter;
  }

  /** Detaches the adapter (its parameters are not disposed) and returns it; undefined when there is none. */
  detachAdapter(): LinearAdapter | undefined {
    const a = this.attached;
    if (a) for (const name of Object.keys(a.modules)) this.removeModule(name);
    this.attached = undefined;
    return a;
  }

  /** @param x float32 [..., in] @returns float32 [..., out] */
  apply(x: Tensor): Tensor {
    const y = linear(x, this.weight as Tensor2D, this.bias);
    return this.attached ? this.attached.apply(x, y) : y;
  }
}

/** Something attached to a {@link Linear} that changes its output (a LoRA adapter, nn/lora.ts). */
export interface LinearAdapter {
  /** child modules registered under the Linear, by name (LoRA: `lora_A`, `lora_B`) */
  readonly modules: Readonly<Record<string, Module>>;
  /** @param x the layer's input [..., in] @param y the layer's own output [..., out] @returns the output [..., out] */
  apply(x: Tensor, y: Tensor): Tensor;
}
