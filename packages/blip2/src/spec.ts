import { ModelSpec, evalTask, imageTextInputs } from '@mmzoo/core';
import { Blip2Config, Blip2ConfigSchema } from './config';
import { Blip2Qformer, buildBlip2 } from './model';
import { blip2Captions } from './captions';
import { isQformerCoreParam, isQformerTextParam } from './components';

/**
 * BLIP-2's first stage as the harness and the CLI see it (Li et al. 2023, sections 3.1-3.3): schema, builder, the
 * objectives ITC, ITM and ITG on pairs, the evaluation tasks (zero-shot and retrieval by the highest query-text
 * cosine, {@link Blip2Qformer.similarity}; `itm`: ITC top-k re-ranked by the ITM head plus ITC, and ITM accuracy;
 * `captioning`: BLEU / CIDEr of ITG captions of the test scenes beside the constant-caption baselines), and its
 * weights by component: the image encoder (`vision`, frozen in BLIP-2's recipe through `frozen:`), `ln_vision`, the
 * Q-Former with its queries (`qformer`) and its text side (`qformerText`: word and position tables, text FFNs), and the heads (projections, ITM head, temperature, ITG head transform and bias).
 */
export const blip2Spec: ModelSpec<Blip2Config, Blip2Qformer> = {
  name: 'blip2',
  describe: 'BLIP-2 (Li et al. 2023): frozen ViT + Q-Former (learned queries, cross-attention every other layer), stage 1: ITC + ITM + ITG',
  schema: Blip2ConfigSchema,
  inputs: (cfg) => imageTextInputs({ vision: cfg.vision, text: cfg.qformer }),
  build: buildBlip2,
  objectives: () => ({ itc: ['pairs'], itm: ['pairs'], itg: ['pairs'] }),
  stagewise: false,
  evalTasks: (cfg) => [
    evalTask('zeroShot', {}), evalTask('retrieval', {}), evalTask('itm', { k: cfg.itmRerankK, addItc: true }),
    evalTask('captioning', { images: cfg.caption.testScenes }),
  ],
  components: () => ({
    vision: (n) => n.startsWith('visual_encoder.'),
    lnVision: (n) => n.startsWith('ln_vision.'),
    qformer: isQformerCoreParam,
    qformerText: isQformerTextParam,
    heads: (n) => /^(vision_proj|text_proj|itm_head)\./.test(n) || n === 'temp' || n.startsWith('Qformer.cls.'),
  }),
  presets: ['configs/blip2/pretrain-stage1.yaml'],
  caption: (model, images, tokenizer, cfg) => blip2Captions(model, images, tokenizer, cfg),
};
