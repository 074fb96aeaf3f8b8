import { tf, Tensor, Variable } from '../tf';

/**
 * Base class of every layer and model: a tree of named parameters and child modules whose dotted names
 * (`visual.transformer.resblocks.0.attn.in_proj_weight`) follow the reference checkpoints, so a state dict
 * saves and loads under the reference names (DESIGN.md, "Weights interoperate").
 */
export abstract class Module {
  private readonly params = new Map<string, Variable>();
  private readonly children = new Map<string, Module>();

  /**
   * Registers a parameter (a tf.Variable created from `init`, which is consumed).
   * @param trainable false for buffers such as queues (saved, never optimised)
   */
  protected param(name: string, init: Tensor, trainable = true): Variable {
    const v = tf.variable(init, trainable);
    init.dispose();
    this.params.set(name, v);
    return v;
  }

  /** Replaces (and disposes) the parameter `name` with a new variable made from `init` (consumed). */
  protected replaceParam(name: string, init: Tensor): Variable {
    const old = this.params.get(name);
    if (!old) throw new Error(`no parameter named '${name}' to replace`);
    const v = tf.variable(init, old.trainable);
    init.dispose();
    old.dispose();
    this.params.set(name, v);
    return v;
  }

  /**
   * Registers a child module under `name` and returns it. An empty name merges the child's parameters into this
   * module's namespace (open_clip's CLIP keeps its text tower at the top level).
   */
  protected module<M extends Module>(name: string, child: M): M {
    this.children.set(name, child);
    return child;
  }

  /**
   * All parameters (trainable and buffers) by dotted name, depth first in registration order. A variable
   * reachable under several names (a child module registered in two places: tied weights, e.g. BLIP's encoder
   * and decoder sharing cross-attention, Li et al. 2022 section 3.1) is listed once, under the first name met,
   * so it is saved, counted and optimised once.
   */
  namedParameters(prefix = ''): Map<string, Variable> {
    const out = new Map<string, Variable>();
    this.collectParameters(prefix, out, new Set<Variable>());
    return out;
  }

  private collectParameters(prefix: string, out: Map<string, Variable>, seen: Set<Variable>): void {
    for (const [n, v] of this.params) {
      if (seen.has(v)) continue;
      seen.add(v);
      out.set(prefix + n, v);
    }
    for (const [n, c] of this.children) c.collectParameters(n ? `${prefix}${n}.` : prefix, out, seen);
  }

  /** Trainable parameters by dotted name. */
  trainableParameters(): Map<string, Variable> {
    return new Map([...this.namedParameters()].filter(([, v]) => v.trainable));
  }

  /** Number of scalars in all trainable parameters. */
  numParams(): number {
    let n = 0;
    for (const v of this.trainableParameters().values()) n += v.size;
    return n;
  }

  /** Frees every variable of this module and its children. */
  dispose(): void {
    for (const v of this.namedParameters().values()) v.dispose();
  }
}
