import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { Rng } from '../data/rng';
import { Module } from './module';
import { scalarInit, zerosInit } from './init';

/**
 * A discrete visual tokenizer for masked image modelling (BEiT, Bao et al. 2022, section 2.1.2 "Visual Tokens";
 * BEiT-3, Wang et al. 2023, section 2.2, which uses BEiT v2's VQ-KD tokenizer). Those tokenizers' weights are not
 * available here, so this one is a k-means codebook over raw image patches (Lloyd's algorithm with k-means++
 * seeding, Arthur & Vassilvitskii 2007) fitted on training images: a patch's visual token is the index of its
 * nearest centroid. The codebook is a model buffer (`codebook` [K, C * P * P], not trainable) so it is saved
 * and restored with every checkpoint; `fitted` (0-d, 0 or 1) records whether it has been fitted.
 */
export class KMeansVisualTokenizer extends Module {
  readonly codebook: Variable;
  readonly fittedFlag: Variable;

  /**
   * @param codebookSize K, the number of visual tokens
   * @param channels C of the images
   * @param patchSize P: patches are P x P, flattened channel-major then row-major (the conv weight order)
   */
  constructor(readonly codebookSize: number, readonly channels: number, readonly patchSize: number) {
    super();
    this.codebook = this.param('codebook', zerosInit([codebookSize, channels * patchSize * patchSize]), false);
    this.fittedFlag = this.param('fitted', scalarInit(0), false);
  }

  /** Patch vector length C * P * P. */
  get patchDim(): number {
    return this.channels * this.patchSize * this.patchSize;
  }

  /** Whether {@link fit} has run (or a fitted codebook was loaded). */
  get fitted(): boolean {
    return this.fittedFlag.dataSync()[0] === 1;
  }

  /**
   * Cuts images into non-overlapping patches in PatchEmbedding's order (row-major from the top-left).
   * @param images float32 [B, C, H, W] with H, W multiples of P
   * @returns float32 [B, (H/P)(W/P), C * P * P]
   */
  patchify(images: Tensor): Tensor {
    const [b, c, h, w] = images.shape;
    const p = this.patchSize;
    return tf.tidy(() => images.reshape([b, c, h / p, p, w / p, p]).transpose([0, 2, 4, 1, 3, 5]).reshape([b, (h / p) * (w / p), c * p * p]));
  }

  /**
   * Fits the codebook to patch vectors: k-means++ seeding, then `iterations` Lloyd steps; an empty cluster is
   * re-seeded with the patch farthest from its centroid. Deterministic given `rng`.
   * @param patches float32 row-major [count, C * P * P]
   * @throws RangeError when there are fewer patches than codes or the length is not a multiple of the patch size
   */
  fit(patches: Float32Array, rng: Rng, iterations = 10): void {
    const d = this.patchDim;
    const k = this.codebookSize;
    if (patches.length % d !== 0) throw new RangeError(`fit: ${patches.length} values are not a whole number of ${d}-value patches`);
    const n = patches.length / d;
    if (n < k) throw new RangeError(`fit: ${n} patches for ${k} codes; need at least as many patches as codes`);
    const centroids = new Float32Array(k * d);
    const dist2 = (i: number, c: Float32Array, j: number) => {
      let s = 0;
      for (let t = 0; t < d; t++) {
        const u = patches[i * d + t] - c[j * d + t];
        s += u * u;
      }
      return s;
    };
    // k-means++ seeding
    const first = rng.int(n);
    centroids.set(patches.subarray(first * d, first * d + d), 0);
    const best = new Float64Array(n);
    for (let i = 0; i < n; i++) best[i] = dist2(i, centroids, 0);
    for (let j = 1; j < k; j++) {
      let total = 0;
      for (let i = 0; i < n; i++) total += best[i];
      let pick = rng.int(n);
      if (total > 0) {
        let u = rng.next() * total;
        for (let i = 0; i < n; i++) {
          u -= best[i];
          if (u < 0) {
            pick = i;
            break;
          }
        }
      }
      centroids.set(patches.subarray(pick * d, pick * d + d), j * d);
      for (let i = 0; i < n; i++) best[i] = Math.min(best[i], dist2(i, centroids, j));
    }
    // Lloyd iterations
    const assign = new Int32Array(n);
    for (let it = 0; it < iterations; it++) {
      const sums = new Float64Array(k * d);
      const counts = new Int32Array(k);
      let far = 0;
      let farDist = -1;
      for (let i = 0; i < n; i++) {
        let bj = 0;
        let bd = Infinity;
        for (let j = 0; j < k; j++) {
          const v = dist2(i, centroids, j);
          if (v < bd) {
            bd = v;
            bj = j;
          }
        }
        assign[i] = bj;
        counts[bj] += 1;
        for (let t = 0; t < d; t++) sums[bj * d + t] += patches[i * d + t];
        if (bd > farDist) {
          farDist = bd;
          far = i;
        }
      }
      for (let j = 0; j < k; j++) {
        if (counts[j] === 0) {
          centroids.set(patches.subarray(far * d, far * d + d), j * d);
          continue;
        }
        for (let t = 0; t < d; t++) centroids[j * d + t] = sums[j * d + t] / counts[j];
      }
    }
    tf.tidy(() => {
      this.codebook.assign(tf.tensor2d(centroids, [k, d]));
      this.fittedFlag.assign(tf.scalar(1));
    });
  }

  /**
   * Visual tokens of images: the nearest centroid (squared Euclidean distance) of every patch. No gradient.
   * @param images float32 [B, C, H, W]
   * @returns int32 [B, (H/P)(W/P)] in [0, K)
   * @throws Error when the codebook has not been fitted
   */
  encode(images: Tensor): Tensor {
    if (!this.fitted) throw new Error('KMeansVisualTokenizer: the codebook has not been fitted (call fit first, or load a checkpoint)');
    return tf.tidy(() => {
      const patches = this.patchify(images);
      const [b, np, d] = patches.shape;
      const x = patches.reshape([b * np, d]) as Tensor2D;
      const cb = this.codebook as Tensor2D;
      const cross = tf.matMul(x, cb.transpose());
      const dist = cb.square().sum(1).reshape([1, -1]).sub(cross.mul(2));
      return dist.argMin(1).toInt().reshape([b, np]);
    });
  }
}
