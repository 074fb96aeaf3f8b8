import { tf, Tensor, TextTransformer, TextTransformerOptions, manualSeed } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose } from '../../helpers/finite-diff';

const BASE: TextTransformerOptions = { vocabSize: 20, contextLength: 6, width: 8, layers: 2, numHeads: 2 };
const EOT = 3; // deliberately not the largest id, so 'eot' and 'argmax' pick different positions
// row 0: eot at 2, largest id (19) at 4; row 1: eot at 1 and 4 (first wins), largest id (17) at 0; pad id 0 at the end
const IDS = [
  [5, 9, EOT, 7, 19, 0],
  [17, EOT, 8, 2, EOT, 0],
];

function build(opts: Partial<TextTransformerOptions>): TextTransformer {
  manualSeed(42);
  return new TextTransformer({ ...BASE, ...opts });
}

/** Row `r`, position `p` of tokens [B, L, W] as numbers. */
function tokenAt(tokens: Tensor, r: number, p: number): number[] {
  const [, l, w] = tokens.shape;
  return Array.from(tokens.dataSync().slice((r * l + p) * w, (r * l + p + 1) * w));
}

describe.each(BACKENDS)('nn/text-transformer on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test.each([
    ['argmax', { pool: 'argmax' as const }, [[4], [0]]],
    ['eot', { pool: 'eot' as const, eotId: EOT }, [[2], [1]]],
    ['cls', { pool: 'cls' as const }, [[0], [0]]],
    ['mean', { pool: 'mean' as const, padId: 0 }, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]],
  ])('pool %s takes the right rows of the token states', (_name, opts, positions) => {
    const model = build(opts);
    tf.tidy(() => {
      const { pooled, tokens } = model.apply(tf.tensor2d(IDS, undefined, 'int32'));
      expect(pooled.shape).toEqual([2, 8]);
      expect(tokens.shape).toEqual([2, 6, 8]);
      for (let r = 0; r < 2; r++) {
        const rows = positions[r].map((p) => tokenAt(tokens, r, p));
        const mean = rows[0].map((_, j) => rows.reduce((s, row) => s + row[j], 0) / rows.length);
        expectAllClose(pooled.slice([r, 0], [1, 8]), mean, `row ${r}`, { atol: 1e-6 });
      }
    });
    model.dispose();
  });

  test('the output projection maps the pooled state: pooled = tokens[eot] @ text_projection', () => {
    const model = build({ pool: 'eot', eotId: EOT, outputDim: 4 });
    tf.tidy(() => {
      const { pooled, tokens } = model.apply(tf.tensor2d(IDS, undefined, 'int32'));
      expect(pooled.shape).toEqual([2, 4]);
      const picked = tf.stack([tf.tensor1d(tokenAt(tokens, 0, 2)), tf.tensor1d(tokenAt(tokens, 1, 1))]);
      expectAllClose(pooled, tf.matMul(picked, model.textProjection!).dataSync(), 'projected', { atol: 1e-5 });
    });
    model.dispose();
  });

  test('no pool named: eot when eotId is given (not the largest id), argmax when not (issue 15)', () => {
    const withEot = build({ eotId: EOT });
    const withoutEot = build({});
    expect([withEot.pool, withoutEot.pool]).toEqual(['eot', 'argmax']);
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS, undefined, 'int32');
      const { pooled, tokens } = withEot.apply(ids);
      // IDS: end-of-text first at positions 2 and 1; the largest ids (19, 17) sit at positions 4 and 0
      expectAllClose(pooled, [...tokenAt(tokens, 0, 2), ...tokenAt(tokens, 1, 1)], 'default with eotId', { atol: 1e-6 });
      const out = withoutEot.apply(ids);
      expectAllClose(out.pooled, [...tokenAt(out.tokens, 0, 4), ...tokenAt(out.tokens, 1, 0)], 'default without eotId', { atol: 1e-6 });
    });
    withEot.dispose();
    withoutEot.dispose();
  });

  test('a row without the end-of-text id is an error naming the row', () => {
    const bad = [[5, 9, EOT, 7, 19, 0], [5, 6, 7, 8, 9, 0]];
    for (const pool of ['eot', 'argmax'] as const) {
      const model = build({ pool, eotId: EOT });
      tf.tidy(() => {
        expect(() => model.apply(tf.tensor2d(bad, undefined, 'int32'))).toThrow(/text row 1 has no end-of-text token \(id 3\)/);
      });
      model.dispose();
    }
    const mean = build({ pool: 'mean', padId: 0 });
    tf.tidy(() => {
      expect(() => mean.apply(tf.tensor2d([[1, 0], [0, 0]], undefined, 'int32'))).toThrow(/text row 1 is all padding/);
    });
    mean.dispose();
  });

  test('options and input shapes are checked', () => {
    expect(() => new TextTransformer({ ...BASE, pool: 'eot' })).toThrow(/needs eotId/);
    expect(() => new TextTransformer({ ...BASE, pool: 'mean' })).toThrow(/needs padId/);
    const model = build({ pool: 'cls' });
    tf.tidy(() => {
      expect(() => model.apply(tf.zeros([1, 7], 'int32'))).toThrow(/L <= 6/);
    });
    model.dispose();
  });

  test('causal: changing a later token leaves earlier states unchanged; without the mask it does not', () => {
    const a = [[4, 5, 6, 7, 8, 9]];
    const b = [[4, 5, 6, 7, 12, 9]]; // position 4 differs
    for (const causal of [true, false]) {
      const model = build({ pool: 'cls', causal });
      tf.tidy(() => {
        const ta = model.apply(tf.tensor2d(a, undefined, 'int32')).tokens;
        const tb = model.apply(tf.tensor2d(b, undefined, 'int32')).tokens;
        const diff = ta.sub(tb).abs().max(2).dataSync(); // [L] largest change per position
        for (let p = 0; p < 6; p++) {
          if (p >= 4 || !causal) expect(diff[p]).toBeGreaterThan(1e-4);
          else expect(diff[p]).toBe(0);
        }
      });
      model.dispose();
    }
  });

  test('trains: every parameter, including the token embedding, gets a gradient', () => {
    const model = build({ pool: 'eot', eotId: EOT, outputDim: 4 });
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS, undefined, 'int32');
      const params = [...model.trainableParameters().values()];
      const { grads } = tf.variableGrads(() => model.apply(ids).pooled.square().sum() as tf.Scalar, params);
      for (const [name, v] of model.trainableParameters()) {
        const g = grads[v.name];
        expect({ name, shape: g.shape }).toEqual({ name, shape: v.shape });
        expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      }
      // embedding rows get gradient only for ids at or before the pooled end-of-text position (causal mask)
      const ge = grads[model.tokenEmbedding.weight.name];
      const rowNorm = (id: number) => ge.slice([id, 0], [1, 8]).abs().sum().dataSync()[0];
      for (const id of [5, 9, EOT, 17]) expect(rowNorm(id)).toBeGreaterThan(0);
      for (const id of [19, 7, 8, 1]) expect(rowNorm(id)).toBe(0); // after the eot, or absent
    });
    model.dispose();
  });
});
