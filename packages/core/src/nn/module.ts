import { tf, Variable } from '../tf';
import { ParamInit, isShapeOnlyMode } from './init';

/**
 * What a module built inside `withShapesOnly` registers in place of a tf.Variable: the parameter's shape, dtype,
 * size and trainability, and no values. `namedParameters()` and `trainableParameters()` of such a module list
 * these (typed as Variable, so counting code runs unchanged); reading or assigning one throws.
 */
export class ParamPlaceholder {
  readonly shapeOnly = true;
  readonly size: number;
  readonly rank: number;
  readonly isDisposed = false;

  constructor(readonly name: string, readonly shape: number[], readonly dtype: 'float32' | 'int32', public trainable: boolean) {
    this.size = shape.reduce((a, b) => a * b, 1);
    this.rank = shape.length;
  }

  private noValues(): never {
    throw new Error(`parameter '${this.name}' [${this.shape}] was built shape-only (withShapesOnly) and holds no values`);
  }

  dataSync(): never { return this.noValues(); }
  data(): never { return this.noValues(); }
  array(): never { return this.noValues(); }
  clone(): never { return this.noValues(); }
  assign(): never { return this.noValues(); }
  /** nothing to free */
  dispose(): void {}
}

/** Whether `v` is a shape-only placeholder (see {@link ParamPlaceholder}) rather than a real variable. */
export function isShapeOnlyParam(v: unknown): v is ParamPlaceholder {
  return v instanceof ParamPlaceholder;
}

/**
 * Base class of every layer and model: a tree of named parameters and child modules whose dotted names
 * (`visual.transformer.resblocks.0.attn.in_proj_weight`) follow the reference checkpoints, so a state dict
 * saves and loads under the reference names (DESIGN.md, "Weights interoperate").
 */
export abstract class Module {
  private readonly params = new Map<string, Variable>();
  private readonly children = new Map<string, Module>();

  /**
   * Registers a parameter: a tf.Variable made by `init.create()` (called here, so random initialisers draw their
   * seeds in registration order), or, inside `withShapesOnly`, a {@link ParamPlaceholder} of `init`'s shape and
   * dtype (nothing created, no seed drawn).
   * @param init from the helpers of nn/init (`normalInit`, `zerosInit`, `onesInit`, `fillInit`, `scalarInit`, `tensorInit`)
   * @param trainable false for buffers such as queues (saved, never optimised)
   */
  protected param(name: string, init: ParamInit, trainable = true): Variable {
    const v = isShapeOnlyMode() ? placeholder(name, init, trainable) : makeVariable(init, trainable);
    this.params.set(name, v);
    return v;
  }

  /**
   * Replaces (and disposes) the parameter `name` with one made from `init`, keeping its trainability; a
   * placeholder when the old one is a placeholder or inside `withShapesOnly` (then `init.create` is not called).
   * @throws Error when there is no parameter `name`
   */
  protected replaceParam(name: string, init: ParamInit): Variable {
    const old = this.params.get(name);
    if (!old) throw new Error(`no parameter named '${name}' to replace`);
    const v = isShapeOnlyMode() || isShapeOnlyParam(old) ? placeholder(name, init, old.trainable) : makeVariable(init, old.trainable);
    old.dispose();
    this.params.set(name, v);
    return v;
  }

  /**
   * Registers a child module under `name` and returns it. An empty name merges the child's parameters into this
   * module's namespace (open_clip's CLIP keeps its text tower at the top level); several children may be merged
   * (BLIP-2's Q-Former layer holds BERT's FFN and the query FFN side by side), each kept under its own internal key.
   */
  protected module<M extends Module>(name: string, child: M): M {
    this.children.set(name === '' && this.children.has('') ? `${MERGED}${this.children.size}` : name, child);
    return child;
  }

  /**
   * Unregisters the child module `name` (its parameters leave this module's names; they are not disposed).
   * @throws Error when there is no child `name`
   */
  protected removeModule(name: string): void {
    if (!this.children.delete(name)) throw new Error(`no child module named '${name}' to remove`);
  }

  /**
   * Every module of the tree by dotted path, this one first (path ''), then depth first in registration order; a
   * module registered in several places is listed once, under the first path met.
   */
  namedModules(prefix = ''): Map<string, Module> {
    const out = new Map<string, Module>();
    const walk = (m: Module, path: string) => {
      if ([...out.values()].includes(m)) return;
      out.set(path, m);
      for (const [n, c] of m.children) walk(c, isMerged(n) ? path : path ? `${path}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  /**
   * All parameters (trainable and buffers) by dotted name, depth first in registration order. A variable
   * reachable under several names (a child module registered in two places: tied weights, e.g. BLIP's encoder
   * and decoder sharing cross-attention, Li et al. 2022 section 3.1) is listed once, under the first name met,
   * so it is saved, counted and optimised once. For a module built inside `withShapesOnly` the values are
   * {@link ParamPlaceholder}s (shape, dtype, size, trainable; no data).
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
    for (const [n, c] of this.children) c.collectParameters(isMerged(n) ? prefix : `${prefix}${n}.`, out, seen);
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

/** The internal key prefix of a second or later child merged into its parent's namespace (see Module.module). */
const MERGED = '\u0000merged-';

function isMerged(key: string): boolean {
  return key === '' || key.startsWith(MERGED);
}

function makeVariable(init: ParamInit, trainable: boolean): Variable {
  const t = init.create();
  if (t.dtype !== init.dtype || t.shape.join(',') !== init.shape.join(',')) {
    t.dispose();
    throw new Error(`parameter initialiser declared ${init.dtype} [${init.shape}] but made ${t.dtype} [${t.shape}]`);
  }
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

function placeholder(name: string, init: ParamInit, trainable: boolean): Variable {
  // the one cast of shape-only builds: layers keep their placeholders in Variable-typed fields, never read in that mode
  return new ParamPlaceholder(name, [...init.shape], init.dtype, trainable) as unknown as Variable;
}
