import { tf, Tensor, Embedding, LearnedPositionEmbedding, OutputProjection, withShapesOnly } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, tensorOf } from '../../helpers/finite-diff';

describe.each(BACKENDS)('nn/learned-positions and nn/output-projection on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test("learned positions read row position + offset: OPT's offset 2 skips the first two rows", () => {
    const gpt2 = new LearnedPositionEmbedding(4, 2);
    const opt = new LearnedPositionEmbedding(4, 2, { offset: 2 });
    expect(gpt2.weight.shape).toEqual([4, 2]);
    expect(opt.weight.shape).toEqual([6, 2]);
    opt.weight.assign(tf.tensor2d([[0, 0], [1, 1], [10, 11], [20, 21], [30, 31], [40, 41]]));
    tf.tidy(() => {
      const pos = tf.tensor2d([[0, 1, 3], [2, 0, 0]], undefined, 'int32');
      const out = opt.apply(pos);
      expect(out.shape).toEqual([2, 3, 2]);
      expect(Array.from(out.dataSync())).toEqual([10, 11, 20, 21, 40, 41, 30, 31, 10, 11, 10, 11]);
    });
    expect(() => new LearnedPositionEmbedding(4, 2, { offset: -1 })).toThrow('LearnedPositionEmbedding: offset must be an integer >= 0, got -1');
    gpt2.dispose();
    opt.dispose();
  });

  test('the position table trains: its gradient counts each position read (wasm has no gather gradient)', () => {
    const pos = new LearnedPositionEmbedding(3, 1, { offset: 2 });
    tf.tidy(() => {
      const ids = tf.tensor1d([0, 2, 2], 'int32');
      const { grads } = tf.variableGrads(() => pos.apply(ids).sum() as tf.Scalar, [pos.weight]);
      expectAllClose(grads[pos.weight.name], [0, 0, 1, 0, 2], 'row counts');
    });
    pos.dispose();
  });

  test('a tied output projection reuses the embedding table: no parameter of its own, logits h @ E^T, a summed gradient', () => {
    const emb = new Embedding(3, 2);
    emb.weight.assign(tf.tensor2d([[1, 0], [0, 1], [1, 1]]));
    const tied = new OutputProjection(2, 3, { tiedTo: emb });
    expect(tied.tied).toBe(true);
    expect(tied.namedParameters().size).toBe(0);
    tf.tidy(() => {
      expectAllClose(tied.apply(tf.tensor2d([[2, 3]])), [2, 3, 5], 'logits');
      // loss = sum(out(emb(id 1))): d/dE = lookup part (row 1 += sum_v E[v]) + projection part (each row += h = E[1])
      const { grads } = tf.variableGrads(() => tied.apply(emb.apply(tf.tensor1d([1], 'int32'))).sum() as tf.Scalar, [emb.weight]);
      expectAllClose(grads[emb.weight.name], [0, 1, 2 + 0, 2 + 1, 0, 1], 'tied gradient');
    });
    expect(() => new OutputProjection(2, 4, { tiedTo: emb })).toThrow('OutputProjection: tied embedding is [3, 2], expected [4, 2]');
    emb.dispose();
  });

  test('an untied projection has its own weight (and an optional bias); shape-only builds count it', () => {
    const head = new OutputProjection(2, 3, { bias: true });
    expect(head.tied).toBe(false);
    expect([...head.namedParameters()].map(([n, v]) => `${n} [${v.shape}]`)).toEqual(['weight [3,2]', 'bias [3]']);
    head.weight.assign(tensorOf([1, 2, 3, 4, 5, 6], [3, 2]));
    head.bias!.assign(tf.tensor1d([0, 0, 1]));
    tf.tidy(() => expectAllClose(head.apply(tf.tensor3d([[[1, 1]]])), [3, 7, 12], 'logits'));
    head.dispose();
    expect(withShapesOnly(() => new OutputProjection(64, 96)).numParams()).toBe(6144);
  });

  test('no tensors leak', () => {
    const pos = new LearnedPositionEmbedding(4, 2);
    const ids = tf.tensor1d([0, 3], 'int32');
    tf.dispose(pos.apply(ids) as Tensor);
    const before = tf.memory().numTensors;
    tf.dispose(pos.apply(ids));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ids);
    pos.dispose();
  });
});
