import { tf, Tensor } from '../tf';

/**
 * Seeded parameter initialisation, the analogue of `torch.manual_seed`: every initialiser draws a fresh
 * seed from one counter, so building the same model after `manualSeed(s)` gives the same weights.
 */
let seedCounter = 0;

/** Resets the initialisation seed counter (an integer; any value). */
export function manualSeed(seed: number): void {
  seedCounter = Math.floor(seed) >>> 0;
}

function nextSeed(): number {
  seedCounter = (seedCounter * 1103515245 + 12345) % 2147483647;
  return seedCounter;
}

/** float32 tensor of `shape` drawn from N(0, std^2). */
export function normal(shape: number[], std: number): Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', nextSeed());
}

/** float32 tensor of `shape` drawn from N(0, std^2) truncated to [-2 std, 2 std] (timm `trunc_normal_`). */
export function truncatedNormal(shape: number[], std: number): Tensor {
  return tf.truncatedNormal(shape, 0, std, 'float32', nextSeed());
}

/** float32 tensor of `shape` drawn from U(-bound, bound). */
export function uniform(shape: number[], bound: number): Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', nextSeed());
}

/**
 * A parameter's initial value, described before it is made: its shape and dtype, and `create`, which makes the
 * tensor (drawing its seed, if random, only when called). {@link Module}'s `param` calls `create` at once in a
 * normal build, so the seed sequence is the one of calling the eager initialisers in the same order; in a
 * shape-only build ({@link withShapesOnly}) it never calls it.
 */
export interface ParamInit {
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
  /** makes the initial tensor (owned by the caller) */
  create(): Tensor;
}

/** A {@link ParamInit} from an arbitrary factory (e.g. a normalised random queue); `create` must return `shape`. */
export function tensorInit(shape: readonly number[], create: () => Tensor, dtype: 'float32' | 'int32' = 'float32'): ParamInit {
  return { shape: [...shape], dtype, create };
}

/** Lazy {@link normal}: float32 N(0, std^2), its seed drawn when created. */
export function normalInit(shape: readonly number[], std: number): ParamInit {
  return tensorInit(shape, () => normal([...shape], std));
}

/** Lazy {@link truncatedNormal}. */
export function truncatedNormalInit(shape: readonly number[], std: number): ParamInit {
  return tensorInit(shape, () => truncatedNormal([...shape], std));
}

/** Lazy {@link uniform}. */
export function uniformInit(shape: readonly number[], bound: number): ParamInit {
  return tensorInit(shape, () => uniform([...shape], bound));
}

/** Zeros of `shape` (float32 unless `dtype` says int32). */
export function zerosInit(shape: readonly number[], dtype: 'float32' | 'int32' = 'float32'): ParamInit {
  return tensorInit(shape, () => tf.zeros([...shape], dtype), dtype);
}

/** float32 ones of `shape`. */
export function onesInit(shape: readonly number[]): ParamInit {
  return tensorInit(shape, () => tf.ones([...shape]));
}

/** `value` everywhere in `shape` (float32 unless `dtype` says int32). */
export function fillInit(shape: readonly number[], value: number, dtype: 'float32' | 'int32' = 'float32'): ParamInit {
  return tensorInit(shape, () => tf.fill([...shape], value, dtype), dtype);
}

/** A 0-d tensor holding `value` (float32 unless `dtype` says int32). */
export function scalarInit(value: number, dtype: 'float32' | 'int32' = 'float32'): ParamInit {
  return tensorInit([], () => tf.scalar(value, dtype), dtype);
}

/**
 * Makes `init`'s initial value now (drawing its seed, if random, at this point of a build) and returns a
 * {@link ParamInit} that hands that value to the module registering it. For a builder that makes a model's own
 * parameters (class and mask tokens) between the modules it builds, so that seeds are drawn in the builder's order
 * while the model, constructed last, registers them. Inside {@link withShapesOnly} nothing is made and `init` is
 * returned as is. `create` hands the value over once; a second call throws.
 */
export function drawnInit(init: ParamInit): ParamInit {
  if (isShapeOnlyMode()) return init;
  let value: Tensor | undefined = init.create();
  return tensorInit(init.shape, () => {
    if (!value) throw new Error(`drawnInit: the initial value [${init.shape}] was already handed over`);
    const out = value;
    value = undefined;
    return out;
  }, init.dtype);
}

let shapeOnlyDepth = 0;

/**
 * Runs `build` in shape-only mode: every {@link Module} constructed inside registers its parameters as
 * placeholders (name, shape, dtype, trainable, size; no tf.Variable, no tensor memory, no seed drawn), so that
 * `numParams()`, `namedParameters()` shapes and per-component counts of a paper-size model cost milliseconds and
 * no weight memory. A shape-only module cannot run (its placeholders hold no values); `dispose()` is a no-op.
 * The initialisation seed counter is the same after as before, so real builds that follow draw the same seeds.
 * Nests; the mode ends when `build` returns or throws.
 * @returns what `build` returns
 */
export function withShapesOnly<T>(build: () => T): T {
  const saved = seedCounter;
  shapeOnlyDepth++;
  try {
    return build();
  } finally {
    shapeOnlyDepth--;
    seedCounter = saved;
  }
}

/** Whether the code runs inside {@link withShapesOnly}. */
export function isShapeOnlyMode(): boolean {
  return shapeOnlyDepth > 0;
}
