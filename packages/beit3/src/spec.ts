import { ModelSpec, evalTask, fitVisualTokenizer, imageTextInputs } from '@mmzoo/core';
import { Beit3Config, Beit3ConfigSchema } from './config';
import { BEiT3, beit3StageObjectives, buildBeit3 } from './model';

/**
 * BEiT-3 as the harness and the CLI see it (Wang et al. 2023): schema, builder, the objectives stages may select
 * (`mim`, `mlm`, `vlm` of masked data modeling; `itc`), `prepare` (fits the k-means visual tokenizer before training),
 * the evaluation tasks (zero-shot and retrieval in dual-encoder mode; `linearProbe`: the final layer's image class
 * token on Fashion-MNIST classes) and its weights by component (embeddings, shared attention, each FFN expert, heads).
 */
export const beit3Spec: ModelSpec<Beit3Config, BEiT3> = {
  name: 'beit3',
  describe: 'BEiT-3 (Wang et al. 2023): multiway transformer, masked data modeling on images, texts and pairs (+ ITC)',
  schema: Beit3ConfigSchema,
  inputs: imageTextInputs,
  build: buildBeit3,
  objectives: (cfg) => beit3StageObjectives(cfg),
  stagewise: true,
  evalTasks: () => [evalTask('zeroShot', {}), evalTask('retrieval', {}), evalTask('linearProbe', { trainImages: 5000 })],
  components: () => ({
    visionEmbedding: (n) => /^(vision_embed|embed_positions\.vision)/.test(n),
    textEmbedding: (n) => /^(text_embed|embed_positions\.language)/.test(n),
    attention: (n) => /^encoder\.blocks\.\d+\.(norm1|attn)\./.test(n),
    visionFfn: (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.vision\./.test(n),
    languageFfn: (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.language\./.test(n),
    visionLanguageFfn: (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.vl\./.test(n),
    finalNorm: (n) => n.startsWith('encoder.norm.'),
    mdmHeads: (n) => /^(mlm_head|mim_head)\./.test(n),
    retrievalHeads: (n) => /^(vision_head|language_head|logit_scale)/.test(n),
  }),
  presets: ['configs/beit3/base.yaml'],
  prepare: (model, ctx) => fitVisualTokenizer(model.visualTokenizer, model.cfg.tokenizer, ctx),
};
