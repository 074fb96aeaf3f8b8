import { AlbefConfigInput } from '@mmzoo/albef';

/** The fixture's architecture and its differences from the paper's recipe (README "What an implementation must match"). */
export const FIXTURE_CONFIG: AlbefConfigInput = {
  name: 'albef', embedDim: 32, queueSize: 8, momentum: 0.995, alpha: 0.4, temp: 0.07,
  tempClamp: null, mlmDistill: false, tieMlmHead: false, hardNegativeEps: 0,
  vision: { imageSize: 32, patchSize: 8, channels: 3, width: 64, layers: 2, numHeads: 4, mlpRatio: 4, lnEps: 1e-6 },
  text: {
    contextLength: 16, vocabSize: 100, width: 64, textLayers: 2, fusionLayers: 2, numHeads: 4, typeVocabSize: 2, lnEps: 1e-12,
    maskValue: -Infinity, padId: 0, maskId: 3, numSpecial: 4,
  },
};

