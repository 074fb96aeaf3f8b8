import { tf, Variable } from '../tf';
import { Module, isShapeOnlyParam } from './module';

/**
 * Momentum (exponential moving average) copies of modules, as in MoCo (He et al. 2020, eq. 2) and ALBEF's momentum
 * distillation (Li et al. 2021, section 3.3): `p_m = m * p_m + (1 - m) * p` after every step, no gradients, outside
 * the optimizer. The momentum modules stay registered in the model (as non-trainable parameters), so checkpoints
 * save them and a resumed run restores them exactly.
 *
 * Build the momentum module as a second instance of the same architecture; the pairs are matched by parameter name.
 */
export class MomentumPairs {
  /** [online, momentum] variables, same name and shape */
  readonly pairs: [Variable, Variable][] = [];
  /** online variables whose pairs {@link update} leaves alone (see {@link hold}) */
  private held = new Set<Variable>();

  /**
   * Pairs the parameters of each (online, momentum) module by name and marks every momentum variable as
   * non-trainable (so trainers, optimizers and gradient tapes leave it alone).
   * @param modules [online, momentum] module pairs of identical architecture
   * @throws Error naming the first parameter that is missing on one side or whose shape differs
   */
  constructor(modules: [Module, Module][]) {
    for (const [online, momentum] of modules) {
      const a = online.namedParameters();
      const b = momentum.namedParameters();
      if (a.size !== b.size) throw new Error(`MomentumPairs: online module has ${a.size} parameters, momentum copy ${b.size}`);
      for (const [name, p] of a) {
        const q = b.get(name);
        if (!q) throw new Error(`MomentumPairs: momentum copy has no parameter '${name}'`);
        if (p.shape.join(',') !== q.shape.join(',')) throw new Error(`MomentumPairs: '${name}' is [${p.shape}] online but [${q.shape}] in the momentum copy`);
        q.trainable = false;
        this.pairs.push([p, q]);
      }
    }
  }

  /**
   * Sets every momentum parameter equal to its online twin (ALBEF/BLIP `copy_params`, at construction); a pair
   * built shape-only (`withShapesOnly`) has no values and is skipped.
   * @param which copies only the pairs it accepts (default: all), e.g. the pairs whose online twin was just loaded
   *   from elsewhere and whose momentum copy was not (the experiment's `init:`)
   */
  copy(which: (online: Variable, momentum: Variable) => boolean = () => true): void {
    for (const [p, q] of this.pairs) {
      if (!isShapeOnlyParam(p) && !isShapeOnlyParam(q) && which(p, q)) tf.tidy(() => q.assign(p.clone()));
    }
  }

  /**
   * Makes {@link update} skip the pairs whose online variable is in `online` (replacing the previous set): the
   * experiment's frozen parameters, which never change, so the EMA of each is itself. Skipping keeps its copy exactly
   * equal to it (as {@link copy} made it) where `m * p + (1 - m) * p` in float32 would drift by rounding.
   */
  hold(online: Iterable<Variable>): void {
    this.held = new Set(online);
  }

  /**
   * One EMA step, in float32 as the reference code does: `p_m = p_m * m + p * (1 - m)`.
   * @param m momentum coefficient in [0, 1] (ALBEF, BLIP: 0.995)
   * @throws RangeError when m is outside [0, 1]
   */
  update(m: number): void {
    if (!(m >= 0 && m <= 1)) throw new RangeError(`momentum must be in [0, 1], got ${m}`);
    for (const [p, q] of this.pairs) {
      if (q.dtype !== 'float32' || this.held.has(p)) continue;
      tf.tidy(() => q.assign(q.mul(tf.scalar(m)).add(p.mul(tf.scalar(1 - m)))));
    }
  }
}

/** A model with momentum copies of some of its modules (ALBEF, BLIP): what {@link hasMomentumCopies} recognises. */
export interface HasMomentumCopies {
  readonly momentumPairs: MomentumPairs;
}

/**
 * True when `model` keeps momentum copies in a `momentumPairs` field ({@link MomentumPairs}), so that code loading
 * weights into the online modules from elsewhere can set their copies equal to them, as construction does.
 */
export function hasMomentumCopies(model: object): model is HasMomentumCopies {
  return 'momentumPairs' in model && model.momentumPairs instanceof MomentumPairs;
}
