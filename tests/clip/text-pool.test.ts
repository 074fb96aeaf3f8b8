import { tf, Tensor } from '@mmzoo/core';
import { ClipConfigSchema, buildClip, clipSpec } from '@mmzoo/clip';
import { getModel } from '../../packages/cli/src/specs';
import { expectAllClose } from '../helpers/finite-diff';
import { useBackend } from '../helpers/fixtures';

// Issue 15: with no `text.pool` in the config, CLIP pools at the tokenizer's end-of-text token, not at the
// largest id (open_clip's 'argmax' trick holds only for OpenAI's BPE, where <end_of_text> is the largest id).
const EOT = 2; // like the word tokenizer's end id: small, far from the largest id in the batch
const model = {
  name: 'clip', embedDim: 4,
  vision: { imageSize: 8, patchSize: 4, channels: 1, width: 8, layers: 1, numHeads: 2 },
  text: { contextLength: 6, width: 8, layers: 1, numHeads: 2 },
} as const;
// row 0: eot at 3, largest id (19) at 1; row 1: eot at 2, largest id (18) at 4
const IDS = [
  [1, 19, 7, EOT, 0, 0],
  [1, 5, EOT, 9, 18, 0],
];
const EOT_AT = [3, 2];

/** tokens[r, p, :] @ text_projection, computed from the per-token states, for each row r at EOT_AT[r]. */
function expectedPooled(tokens: Tensor, projection: Tensor): number[] {
  const [, l, w] = tokens.shape;
  const t = tokens.dataSync();
  const p = projection.dataSync();
  const e = projection.shape[1]!;
  const out: number[] = [];
  EOT_AT.forEach((pos, r) => {
    const h = t.subarray((r * l + pos) * w, (r * l + pos + 1) * w);
    for (let j = 0; j < e; j++) {
      let s = 0;
      for (let k = 0; k < w; k++) s += h[k] * p[k * e + j];
      out.push(s);
    }
  });
  return out;
}

describe('CLIP default text pooling', () => {
  beforeAll(() => useBackend('cpu'));

  test('the schema leaves pool unset; built through the CLI registry with the tokenizer end id, it pools at end-of-text', () => {
    expect(ClipConfigSchema.parse(model).text.pool).toBeUndefined();
    expect(getModel('clip')).toBe(clipSpec);
    const clip = clipSpec.build(clipSpec.schema.parse(model), { vocabSize: 20, eotId: EOT });
    expect(clip.text.pool).toBe('eot');
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS, undefined, 'int32');
      const { tokens } = clip.text.apply(ids);
      expectAllClose(clip.encodeText(ids), expectedPooled(tokens, clip.text.textProjection!), 'text features at end-of-text', { atol: 1e-5 });
    });
    clip.dispose();
  });

  test("'argmax' named explicitly still pools at the largest id; no end id and no pool falls back to it", () => {
    const named = buildClip({ ...model, text: { ...model.text, vocabSize: 20, pool: 'argmax' } }, { eotId: EOT });
    const noEnd = buildClip({ ...model, text: { ...model.text, vocabSize: 20 } });
    expect([named.text.pool, noEnd.text.pool]).toEqual(['argmax', 'argmax']);
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS, undefined, 'int32');
      const { pooled, tokens } = named.text.apply(ids);
      const at = (r: number, p: number) => Array.from(tokens.dataSync().slice((r * 6 + p) * 8, (r * 6 + p + 1) * 8));
      const picked = tf.tensor2d([at(0, 1), at(1, 4)]);
      expectAllClose(pooled, tf.matMul(picked, named.text.textProjection!).dataSync(), 'argmax pooled', { atol: 1e-5 });
    });
    named.dispose();
    noEnd.dispose();
  });
});
