import { tf, Tensor, Tensor2D, embeddingLookup, backendHasKernel, Embedding } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

const rand = seededUniform(11);
const [V, D] = [6, 3];
const TABLE = rand(V * D);
// ids [2, 3] with repeats: 4 three times, 1 twice, 0 once; ids 2, 3, 5 unused
const IDS = [4, 1, 4, 0, 4, 1];
const DY = rand(IDS.length * D);

/** The one-hot reference of the table gradient: row v accumulates dy of every position holding v. */
function tableGradRef(): Float64Array {
  const g = new Float64Array(V * D);
  IDS.forEach((id, p) => {
    for (let j = 0; j < D; j++) g[id * D + j] += DY[p * D + j];
  });
  return g;
}

describe.each(BACKENDS)('ops/embedding on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test(`the backend ${backend === 'wasm' ? 'lacks' : 'has'} UnsortedSegmentSum (gather's gradient)`, () => {
    expect(backendHasKernel('UnsortedSegmentSum')).toBe(backend !== 'wasm');
  });

  test('lookup returns the table rows with shape [...ids, D]', () => {
    tf.tidy(() => {
      const out = embeddingLookup(tensorOf(TABLE, [V, D]) as Tensor2D, tf.tensor2d(IDS, [2, 3], 'int32'));
      expect(out.shape).toEqual([2, 3, D]);
      expectAllClose(out, IDS.flatMap((id) => Array.from(TABLE.subarray(id * D, (id + 1) * D))), 'rows', { atol: 0, rtol: 0 });
    });
  });

  test('table gradient equals the one-hot reference; repeated ids accumulate, unused rows are 0', () => {
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS, [2, 3], 'int32');
      const g = tf.grad((t: Tensor) => embeddingLookup(t as Tensor2D, ids))(tensorOf(TABLE, [V, D]), tensorOf(DY, [2, 3, D]));
      expect(g.shape).toEqual([V, D]);
      const ref = tableGradRef();
      expectAllClose(g, ref, 'table gradient', { atol: 1e-6 });
      // explicit: row 4 is the sum of three positions' dy
      for (let j = 0; j < D; j++) expect(g.dataSync()[4 * D + j]).toBeCloseTo(DY[j] + DY[2 * D + j] + DY[4 * D + j], 6);
      expect(Array.from(g.dataSync().slice(5 * D)).map(Math.abs)).toEqual([0, 0, 0]);
    });
  });

  test('the Embedding module trains: variableGrads gives the reference gradient', () => {
    const emb = new Embedding(V, D);
    tf.tidy(() => {
      emb.weight.assign(tensorOf(TABLE, [V, D]));
      const ids = tf.tensor2d(IDS, [2, 3], 'int32');
      const dy = tensorOf(DY, [2, 3, D]);
      const { grads } = tf.variableGrads(() => emb.apply(ids).mul(dy).sum() as tf.Scalar, [emb.weight]);
      expectAllClose(grads[emb.weight.name], tableGradRef(), 'weight gradient', { atol: 1e-6 });
    });
    emb.dispose();
  });
});
