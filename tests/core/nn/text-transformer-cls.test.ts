import { tf, Tensor2D, TextTransformer, TextTransformerOptions, manualSeed } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

// Issue 15: CoCa's unimodal text decoder is core's text tower with an appended CLS (open_clip embed_cls=True);
// tests/coca/parity.test.ts checks it against open_clip's CoCa, these the option itself.
const BASE: TextTransformerOptions = { vocabSize: 12, contextLength: 3, width: 8, layers: 1, numHeads: 2, outputDim: 4, padId: 0, embedCls: true };

function build(opts: Partial<TextTransformerOptions> = {}): TextTransformer {
  manualSeed(5);
  return new TextTransformer({ ...BASE, ...opts });
}

describe('nn/text-transformer with an appended CLS (embedCls)', () => {
  beforeAll(() => useBackend('cpu'));

  test('open_clip names and shapes: cls_emb [width], positional_embedding [contextLength + 1, width]', () => {
    const model = build();
    const shapes = Object.fromEntries([...model.namedParameters()].map(([n, v]) => [n, v.shape]));
    expect(shapes.cls_emb).toEqual([8]);
    expect(shapes.positional_embedding).toEqual([4, 8]);
    expect(shapes.text_projection).toEqual([8, 4]);
    expect(shapes['token_embedding.weight']).toEqual([12, 8]);
    model.dispose();
  });

  test("the CLS row's keys: every non-pad token and itself ('paper'), or open_clip's mask shifted by one", () => {
    const model = build();
    const ids = tf.tensor2d([[5, 6, 0]], undefined, 'int32');
    const allowed = (mask: 'paper' | 'open_clip') => tf.tidy(() => (model.attentionMask(ids, mask)!.isFinite().toInt().arraySync() as number[][][][])[0][0]);
    expect(allowed('paper')).toEqual([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 1]]);
    expect(allowed('open_clip')).toEqual([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]]);
    ids.dispose();
    model.dispose();
  });

  test('pooled is text_projection(ln_final(CLS state)); tokens are the caption states before ln_final; no leaks', () => {
    const model = build();
    const ids = tf.tensor2d([[5, 6, 0], [7, 8, 9]], undefined, 'int32');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const { pooled, tokens } = model.apply(ids);
      const hidden = model.hidden(ids);
      expect(hidden.shape).toEqual([2, 4, 8]);
      const cls = hidden.slice([0, 3, 0], [2, 1, 8]).reshape([2, 8]);
      const expected = tf.matMul(model.lnFinal.apply(cls), model.textProjection! as Tensor2D);
      expect(pooled.shape).toEqual([2, 4]);
      expect(pooled.sub(expected).abs().max().dataSync()[0]).toBeLessThan(1e-6);
      expect(Array.from(tokens.dataSync())).toEqual(Array.from(hidden.slice([0, 0, 0], [2, 3, 8]).dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    model.dispose();
  });

  test('a named pool or a missing padId is an error', () => {
    expect(() => build({ pool: 'eot', eotId: 3 })).toThrow('text pool and embedCls exclude each other: the appended CLS is the pooled state');
    expect(() => build({ padId: undefined })).toThrow('text embedCls needs padId');
    const model = build();
    const long = tf.zeros([1, 4], 'int32');
    expect(() => model.apply(long)).toThrow('TextTransformer expects ids [B, L <= 3], got [1,4]');
    long.dispose();
    model.dispose();
  });
});
