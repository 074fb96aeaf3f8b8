import { imageTextInputs, resolveVocabSize } from '@mmzoo/core';

describe('spec build helpers (core/spec)', () => {
  test('imageTextInputs: [channels, height, width] from a square or [height, width] size, and the context length', () => {
    expect(imageTextInputs({ vision: { channels: 1, imageSize: 28 }, text: { contextLength: 16 } }))
      .toEqual({ image: [1, 28, 28], text: { contextLength: 16 } });
    expect(imageTextInputs({ vision: { channels: 3, imageSize: [32, 48] }, text: { contextLength: 77 } }))
      .toEqual({ image: [3, 32, 48], text: { contextLength: 77 } });
  });

  test("resolveVocabSize: the config's size first, else the tokenizer's; neither is an error naming model.text.vocabSize", () => {
    expect(resolveVocabSize(100, { vocabSize: 7 })).toBe(100);
    expect(resolveVocabSize(undefined, { vocabSize: 7 })).toBe(7);
    expect(() => resolveVocabSize(undefined, { eotId: 3 })).toThrow('model.text.vocabSize is not set and no tokenizer gives it');
  });
});
