import { tf, Variable } from '../tf';
import { isShapeOnlyParam } from './module';

/**
 * A model some of whose parameters start as copies of others (BLIP-2's Q-Former: each layer's query FFN starts as its
 * text FFN, LAVIS blip2_qformer.py, after loading bert-base-uncased). Code that loads weights from elsewhere (the
 * harness's `init:`) sets each twin equal to its source when it loaded the source and not the twin, as the
 * constructor does.
 */
export interface HasInitTwins {
  /** [source, twin] pairs of equal shape */
  initTwins(): [Variable, Variable][];
}

/** True when `model` implements {@link HasInitTwins}. */
export function hasInitTwins(model: object): model is HasInitTwins {
  return 'initTwins' in model && typeof model.initTwins === 'function';
}

/**
 * Sets each twin equal to its source (in place, no gradient); shape-only placeholders are left alone.
 * @param pairs [source, twin] pairs @param filter which pairs to copy (default all)
 */
export function copyTwins(pairs: [Variable, Variable][], filter: (source: Variable, twin: Variable) => boolean = () => true): void {
  for (const [source, twin] of pairs) {
    if (isShapeOnlyParam(source) || isShapeOnlyParam(twin) || !filter(source, twin)) continue;
    tf.tidy(() => twin.assign(source.clone()));
  }
}
