import { tf, Tensor, decoderMask, positionsFromMask, repeatKvHeads } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose } from '../../helpers/finite-diff';

const X = -Infinity;

describe.each(BACKENDS)('ops/decoder-masks and repeat-kv on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('decoderMask without padding: causal, with the new queries after the cached keys', () => {
    tf.tidy(() => {
      const full = decoderMask(3, 3);
      expect(full.shape).toEqual([1, 1, 3, 3]);
      expect(Array.from(full.dataSync())).toEqual([0, X, X, 0, 0, X, 0, 0, 0]);
      // 2 cached positions, 2 new: query 0 is at index 2, query 1 at index 3
      expect(Array.from(decoderMask(2, 4).dataSync())).toEqual([0, 0, 0, X, 0, 0, 0, 0]);
      // one new token sees everything
      expect(Array.from(decoderMask(1, 3, undefined, -1e4).dataSync())).toEqual([0, 0, 0]);
    });
  });

  test('decoderMask with left padding masks the padded keys of each row', () => {
    tf.tidy(() => {
      const valid = tf.tensor2d([[0, 1, 1], [1, 1, 1]], undefined, 'int32');
      const m = decoderMask(3, 3, valid);
      expect(m.shape).toEqual([2, 1, 3, 3]);
      expect(Array.from(m.dataSync())).toEqual([X, X, X, X, 0, X, X, 0, 0, 0, X, X, 0, 0, X, 0, 0, 0]);
      expect(Array.from(decoderMask(1, 3, valid).dataSync())).toEqual([X, 0, 0, 0, 0, 0]);
    });
  });

  test('decoderMask with a prefix (GLM prefix LM): prefix keys seen by every query, the rest causal, padding still masked', () => {
    tf.tidy(() => {
      // row 0: prefix of 2 (keys 0, 1) over 4 keys; row 1: left-padded, prefix = its first 2 real tokens (keys 1, 2)
      const prefix = tf.tensor2d([[1, 1, 0, 0], [0, 1, 1, 0]], undefined, 'int32');
      const valid = tf.tensor2d([[1, 1, 1, 1], [0, 1, 1, 1]], undefined, 'int32');
      const m = decoderMask(4, 4, valid, X, prefix);
      expect(m.shape).toEqual([2, 1, 4, 4]);
      expect(m.arraySync()).toEqual([
        [[[0, 0, X, X], [0, 0, X, X], [0, 0, 0, X], [0, 0, 0, 0]]],
        [[[X, 0, 0, X], [X, 0, 0, X], [X, 0, 0, X], [X, 0, 0, 0]]],
      ]);
      // without padding, one cached key and three new queries (the prefix of 2 ends among the new ones), -1e4
      const cached = decoderMask(3, 4, undefined, -1e4, prefix.slice([0, 0], [1, 4]));
      expect(cached.arraySync()).toEqual([[[[0, 0, -1e4, -1e4], [0, 0, 0, -1e4], [0, 0, 0, 0]]]]);
      // no prefix key: the causal mask
      expect(decoderMask(3, 3, undefined, X, tf.zeros([1, 3])).arraySync()).toEqual(decoderMask(3, 3).arraySync());
    });
  });

  test('decoderMask rejects queries beyond the keys and a mask of the wrong length', () => {
    tf.tidy(() => expect(() => decoderMask(1, 3, undefined, X, tf.ones([1, 2]))).toThrow('decoderMask: prefix must be [B, 3], got [1,2]'));
    expect(() => decoderMask(3, 2)).toThrow('decoderMask: need 1 <= queryLength <= keyLength, got queryLength 3, keyLength 2');
    tf.tidy(() => expect(() => decoderMask(1, 3, tf.ones([2, 2]))).toThrow('decoderMask: valid must be [B, 3], got [2,2]'));
  });

  test('positionsFromMask: cumsum(mask) - 1, the first real token of every row at 0, padding at 0', () => {
    tf.tidy(() => {
      const p = positionsFromMask(tf.tensor2d([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], undefined, 'int32'));
      expect(p.dtype).toBe('int32');
      expect(p.arraySync()).toEqual([[0, 0, 0, 1, 2], [0, 1, 2, 3, 4], [0, 0, 1, 1, 2]]);
    });
  });

  test('repeatKvHeads: query head h gets kv head floor(h / groups) (repeat_interleave, not tile); its gradient sums the copies', () => {
    tf.tidy(() => {
      // [B=1, KV=2, S=1, d=2]: kv head 0 = [1, 2], kv head 1 = [3, 4]
      const kv = tf.tensor4d([1, 2, 3, 4], [1, 2, 1, 2]);
      const r = repeatKvHeads(kv, 2);
      expect(r.shape).toEqual([1, 4, 1, 2]);
      expect(Array.from(r.dataSync())).toEqual([1, 2, 1, 2, 3, 4, 3, 4]);
      expect(repeatKvHeads(kv, 1)).toBe(kv);
      const dy = tf.tensor4d([1, 10, 100, 1000, 2, 20, 200, 2000], [1, 4, 1, 2]);
      const g = tf.grad((x: Tensor) => repeatKvHeads(x, 2))(kv, dy);
      expectAllClose(g, [101, 1010, 202, 2020], 'gradient');
    });
  });
});
