import { ModelSpec, evalTask, imageTextInputs } from '@mmzoo/core';
import { BlipConfig, BlipConfigSchema } from './config';
import { BLIP, buildBlip } from './model';
import { blipCaptions } from './captions';

/**
 * BLIP as the harness and the CLI see it (Li et al. 2022): schema, builder, objectives (ITC, ITM, LM on pairs), the
 * evaluation tasks (zero-shot and retrieval; `itm`: ITC top-k re-ranked by ITM + ITC, as BLIP's evaluation, and ITM
 * accuracy against swapped-position hard negatives; `captioning`: BLEU / CIDEr of captions of the test scenes with
 * their constant-caption baselines), captioning with the image-grounded decoder and its weights by component (the
 * decoder counts only what it does not share with the encoder: its self-attention layers and LM head transform).
 */
export const blipSpec: ModelSpec<BlipConfig, BLIP> = {
  name: 'blip',
  describe: 'BLIP (Li et al. 2022): ViT + MED (unimodal encoder, image-grounded encoder and decoder sharing all but self-attention), ITC + ITM + LM',
  schema: BlipConfigSchema,
  inputs: imageTextInputs,
  build: buildBlip,
  objectives: () => ({ itc: ['pairs'], itm: ['pairs'], lm: ['pairs'] }),
  stagewise: false,
  evalTasks: (cfg) => [
    evalTask('zeroShot', {}), evalTask('retrieval', {}), evalTask('itm', { k: cfg.itmRerankK, addItc: true }),
    evalTask('captioning', { images: cfg.caption.testScenes }),
  ],
  components: () => ({
    vision: (n) => n.startsWith('visual_encoder.'),
    textEncoder: (n) => n.startsWith('text_encoder.') && !n.includes('.crossattention.'),
    crossAttention: (n) => n.startsWith('text_encoder.') && n.includes('.crossattention.'),
    decoderOwn: (n) => n.startsWith('text_decoder.'),
    projectionsAndItm: (n) => /^(vision_proj|text_proj|itm_head|temp)/.test(n),
  }),
  presets: ['configs/blip/base.yaml'],
  caption: (model, images, tokenizer, cfg) => blipCaptions(model, images, tokenizer, cfg),
};
