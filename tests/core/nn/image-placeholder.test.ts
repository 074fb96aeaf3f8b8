import { tf, Tensor, IMAGE_TOKEN_INDEX, spliceImageEmbeds } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';
import { TINY_LMS, randomLm } from '../../helpers/random-lm';
import { centralDiff, expectGradMatch, seededUniform } from '../../helpers/finite-diff';

// spliceImageEmbeds: each row's IMAGE_TOKEN_INDEX replaced by its image embeddings (LLaVA's splice), on a stub LM
// whose token k embeds as [k, 10 k]: values by hand, labels and mask spliced alike, the gradient into the image
// against finite differences of a float64 splice written here, errors and no leaks.
const P = IMAGE_TOKEN_INDEX;
const lm = {
  embedDim: 2,
  embedTokens: (ids: Tensor) => tf.tidy(() => tf.stack([ids.toFloat(), ids.toFloat().mul(10)], -1)),
};
const IDS = [[5, P, 6, 7], [P, 8, 9, 3]];
const IMAGE = [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6], [0.7, 0.8]]];

describe.each(['cpu', 'wasm'])('spliceImageEmbeds on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('values by hand: the placeholder at different positions per row; labels -100 then the placeholder\'s own; mask 1 at the image', () => {
    tf.tidy(() => {
      const out = spliceImageEmbeds(lm, tf.tensor2d(IDS, undefined, 'int32'), tf.tensor3d(IMAGE), {
        labels: tf.tensor2d([[-100, 6, 7, 2], [8, 9, 3, 2]], undefined, 'int32'),
        attentionMask: tf.tensor2d([[0, 1, 1, 1], [1, 1, 1, 0]], undefined, 'int32'),
      });
      expect(out.embeds.shape).toEqual([2, 5, 2]);
      const e = out.embeds.arraySync() as number[][][];
      const want = [[[5, 50], [0.1, 0.2], [0.3, 0.4], [6, 60], [7, 70]], [[0.5, 0.6], [0.7, 0.8], [8, 80], [9, 90], [3, 30]]];
      want.forEach((row, r) => row.forEach((v, t) => v.forEach((x, k) => expect(e[r][t][k]).toBeCloseTo(x, 6))));
      expect(out.labels!.dtype).toBe('int32');
      expect(out.labels!.arraySync()).toEqual([[-100, -100, 6, 7, 2], [-100, 8, 9, 3, 2]]);
      expect(out.attentionMask!.dtype).toBe('int32');
      expect(out.attentionMask!.arraySync()).toEqual([[0, 1, 1, 1, 1], [1, 1, 1, 1, 0]]);
    });
  });

  test('one image position: the labels are the given ones; no labels or mask asked, none returned', () => {
    tf.tidy(() => {
      const labels = [[4, 5, 6]];
      const out = spliceImageEmbeds(lm, tf.tensor2d([[1, 2, P]], undefined, 'int32'), tf.tensor3d([[[7, 8]]]), { labels: tf.tensor2d(labels, undefined, 'int32') });
      expect(out.labels!.arraySync()).toEqual(labels);
      expect(out.embeds.arraySync()).toEqual([[[1, 10], [2, 20], [7, 8]]]);
      expect(out.attentionMask).toBeUndefined();
      expect(Object.keys(spliceImageEmbeds(lm, tf.tensor2d([[P]], undefined, 'int32'), tf.tensor3d([[[7, 8]]])))).toEqual(['embeds']);
    });
  });

  test('on a LLaMA: an image that is the embedding of ids b1 b2 gives the logits of the ids with b1 b2 in place', () => {
    const llama = randomLm(TINY_LMS.Llama);
    tf.tidy(() => {
      const image = llama.embedTokens(tf.tensor2d([[12, 13], [14, 15]], undefined, 'int32'));
      const { embeds } = spliceImageEmbeds(llama, tf.tensor2d([[5, P, 6, 7], [P, 8, 9, 3]], undefined, 'int32'), image);
      const want = llama.forward(tf.tensor2d([[5, 12, 13, 6, 7], [14, 15, 8, 9, 3]], undefined, 'int32')).logits;
      expect(llama.forward(embeds).logits.arraySync()).toEqual(want.arraySync());
    });
    llama.dispose();
  });

  test('the gradient into the image matches finite differences of a float64 splice', () => {
    const rand = seededUniform(5);
    const image = rand(8, -1, 1);
    const weights = rand(2 * 5 * 2, -1, 1);
    // f(image) = sum(R * tanh(splice(image))), the splice by hand: row 0's image after one token, row 1's first
    const ref = (x: Float64Array) => {
      const img = (r: number, i: number) => [x[(r * 2 + i) * 2], x[(r * 2 + i) * 2 + 1]];
      const tok = (k: number) => [k, 10 * k];
      const rows = [[tok(5), img(0, 0), img(0, 1), tok(6), tok(7)], [img(1, 0), img(1, 1), tok(8), tok(9), tok(3)]];
      return rows.flat(2).reduce((s, v, i) => s + weights[i] * Math.tanh(v), 0);
    };
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const r = tf.tensor3d(Float32Array.from(weights), [2, 5, 2]);
    const grad = tf.tidy(() => tf.grad((x: Tensor) => spliceImageEmbeds(lm, ids, x).embeds.tanh().mul(r).sum())(tf.tensor3d(Float32Array.from(image), [2, 2, 2])));
    expectGradMatch(grad, centralDiff(ref, Float64Array.from(image)), 'd/d image');
    tf.dispose([ids, r, grad]);
  });

  test('one-line errors: no placeholder or two in a row (which row), shapes', () => {
    tf.tidy(() => {
      const image = tf.tensor3d(IMAGE);
      const ids = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
      expect(() => spliceImageEmbeds(lm, ids([[5, P, 6, 7], [1, 8, 9, 3]]), image)).toThrow('spliceImageEmbeds: row 1 of ids has 0 image placeholders (-200), needs exactly one');
      expect(() => spliceImageEmbeds(lm, ids([[P, P, 6, 7], [P, 8, 9, 3]]), image)).toThrow('spliceImageEmbeds: row 0 of ids has 2 image placeholders (-200), needs exactly one');
      expect(() => spliceImageEmbeds(lm, tf.tensor1d([P], 'int32'), image)).toThrow('spliceImageEmbeds: ids must be int32 [B, L], got [1]');
      expect(() => spliceImageEmbeds(lm, ids(IDS), tf.zeros([2, 2, 3]))).toThrow('spliceImageEmbeds: image must be float32 [2, N, 2] (ids are [2,4], N >= 1), got float32 [2,2,3]');
      expect(() => spliceImageEmbeds(lm, ids(IDS), tf.zeros([1, 2, 2]))).toThrow('spliceImageEmbeds: image must be float32 [2, N, 2] (ids are [2,4], N >= 1), got float32 [1,2,2]');
      expect(() => spliceImageEmbeds(lm, ids(IDS), image, { labels: ids([[1, 2, 3]]) })).toThrow('spliceImageEmbeds: labels must be [2, 4] like ids, got [1,3]');
      expect(() => spliceImageEmbeds(lm, ids(IDS), image, { attentionMask: tf.ones([2, 5]) })).toThrow('spliceImageEmbeds: attentionMask must be [2, 4] like ids, got [2,5]');
    });
  });

  test('no tensors are left behind', () => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const image = tf.tensor3d(IMAGE);
    const labels = tf.tensor2d([[-100, 6, 7, 2], [8, 9, 3, 2]], undefined, 'int32');
    const attentionMask = tf.ones([2, 4]);
    tf.dispose(spliceImageEmbeds(lm, ids, image, { labels, attentionMask })); // warm-up
    const before = tf.memory().numTensors;
    const out = spliceImageEmbeds(lm, ids, image, { labels, attentionMask });
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([out, ids, image, labels, attentionMask]);
  });
});
