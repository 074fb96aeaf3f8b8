import { ImageSet, checkImageSet, imageAt, imageBatch, imageBytes, selectImages } from '../../../packages/train/src/data/types';

describe('ImageSet helpers', () => {
  it('give one image as floats in [0, 1] and batches and subsets', () => {
    const set: ImageSet = { images: Uint8Array.from([0, 51, 255, 102, 1, 2, 3, 4]), count: 2, channels: 1, height: 2, width: 2, labels: Int32Array.from([5, 6]) };
    expect(imageAt(set, 0)).toEqual(Float32Array.from([0, 0.2, 1, 0.4]));
    expect(Array.from(imageBytes(set, 1))).toEqual([1, 2, 3, 4]);
    expect(Array.from(imageBatch(set, [1, 0])).map((x) => Math.round(x * 255))).toEqual([1, 2, 3, 4, 0, 51, 255, 102]);
    const sub = selectImages(set, [1]);
    expect(Array.from(sub.images)).toEqual([1, 2, 3, 4]);
    expect(Array.from(sub.labels ?? [])).toEqual([6]);
    expect(() => imageAt(set, 2)).toThrow('image index 2 out of range [0, 2)');
  });
});

describe('checkImageSet', () => {
  it('rejects arrays that do not match the declared sizes', () => {
    const set: ImageSet = { images: new Uint8Array(7), count: 2, channels: 1, height: 2, width: 2 };
    expect(() => checkImageSet(set)).toThrow('ImageSet: images has 7 values, expected 8 = 2 x 1 x 2 x 2');
    expect(() => checkImageSet({ ...set, images: new Uint8Array(8), labels: new Int32Array(3) })).toThrow(
      'ImageSet: labels has 3 entries, expected 2',
    );
    expect(() => checkImageSet({ ...set, images: new Uint8Array(8) })).not.toThrow();
  });
});
