/**
 * A consumer of the installed @mmzoo/core and @mmzoo/clip tarballs, run by plain `node` (no tsx, no build step)
 * in a folder outside the repository (tests/packaging/npm-pack.test.ts copies it there). It builds a tiny CLIP
 * through the package's public spec, encodes two images and two texts, saves its weights with the `@mmzoo/core/io`
 * subpath to clip-tiny.safetensors and loads them into a second, differently initialised build, and prints one JSON
 * line: the config, the inputs and features (for the test to recompute from the repository's sources), and checks.
 */
'use strict';
const fs = require('fs');
const { tf } = require('@mmzoo/core');
const { fromTensor, loadStateDict, parseSafetensors, serializeSafetensors } = require('@mmzoo/core/io');
const { clipSpec } = require('@mmzoo/clip');

const config = {
  name: 'clip',
  embedDim: 8,
  vision: { imageSize: 8, patchSize: 4, channels: 1, width: 8, layers: 1, numHeads: 2 },
  text: { contextLength: 6, width: 8, layers: 1, numHeads: 2 },
};
const parts = { vocabSize: 10, eotId: 9, padId: 0 };
const cfg = clipSpec.schema.parse(config);
// float32 [2, 1, 8, 8] in [0, 1); int32 [2, 6], each row with its end-of-text id 9
const images = tf.tensor4d(Array.from({ length: 128 }, (_, i) => ((i * 37) % 101) / 101), [2, 1, 8, 8]);
const ids = tf.tensor2d([[1, 2, 3, 9, 0, 0], [4, 5, 6, 7, 8, 9]], [2, 6], 'int32');

const finite = (t) => t.isFinite().all().dataSync()[0] === 1;
const maxAbsDiff = (a, b) => a.sub(b).abs().max().dataSync()[0];

const model = clipSpec.build(cfg, parts);
const image = model.encodeImage(images);
const text = model.encodeText(ids);

fs.writeFileSync('clip-tiny.safetensors', serializeSafetensors(new Map([...model.namedParameters()].map(([name, v]) => [name, fromTensor(v, name)]))));
const other = clipSpec.build(cfg, parts);
const beforeLoad = maxAbsDiff(other.encodeImage(images), image);
const loaded = loadStateDict(other.namedParameters(), parseSafetensors(fs.readFileSync('clip-tiny.safetensors')));

console.log(
  JSON.stringify({
    resolved: ['@mmzoo/core', '@mmzoo/core/io', '@mmzoo/clip', '@tensorflow/tfjs'].map((m) => require.resolve(m)),
    config,
    parts,
    inputs: { images: Array.from(images.dataSync()), ids: ids.arraySync() },
    image: { shape: image.shape, finite: finite(image), values: image.arraySync() },
    text: { shape: text.shape, finite: finite(text), values: text.arraySync() },
    parameters: model.namedParameters().size,
    loaded: loaded.loaded.length,
    beforeLoad,
    afterLoad: maxAbsDiff(other.encodeImage(images), image) + maxAbsDiff(other.encodeText(ids), text),
  }),
);
