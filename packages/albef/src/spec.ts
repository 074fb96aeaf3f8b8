import { ModelSpec, evalTask, imageTextInputs } from '@mmzoo/core';
import { AlbefConfig, AlbefConfigSchema } from './config';
import { ALBEF, buildAlbef } from './model';

/**
 * ALBEF as the harness and the CLI see it (Li et al. 2021): schema, builder, objectives (ITC, ITM, MLM on pairs), the
 * evaluation tasks (zero-shot and retrieval with the unimodal encoders, then `itm`: ITC top-k re-ranked by ITM,
 * section 4.1, and ITM accuracy against swapped-position hard negatives) and its weights by component (the text
 * encoder's text-only and fusion layers counted apart; word embeddings with the text encoder).
 */
export const albefSpec: ModelSpec<AlbefConfig, ALBEF> = {
  name: 'albef',
  describe: 'ALBEF (Li et al. 2021): ViT + BERT text/fusion encoders, ITC with queues + ITM hard negatives + MLM, momentum distillation',
  schema: AlbefConfigSchema,
  inputs: imageTextInputs,
  build: buildAlbef,
  objectives: () => ({ itc: ['pairs'], itm: ['pairs'], mlm: ['pairs'] }),
  stagewise: false,
  evalTasks: (cfg) => [evalTask('zeroShot', {}), evalTask('retrieval', {}), evalTask('itm', { k: cfg.itmRerankK })],
  components: (cfg) => {
    const t = cfg.text.textLayers;
    const layer = (n: string) => Number(/^text_encoder\.bert\.encoder\.layer\.(\d+)\./.exec(n)?.[1] ?? -1);
    return {
      vision: (n) => n.startsWith('visual_encoder.'),
      text: (n) => n.startsWith('text_encoder.bert.embeddings.') || (layer(n) >= 0 && layer(n) < t),
      fusion: (n) => layer(n) >= t,
      mlmHead: (n) => n.startsWith('text_encoder.cls.'),
      projectionsAndItm: (n) => /^(vision_proj|text_proj|itm_head|temp)/.test(n),
    };
  },
  presets: ['configs/albef/base.yaml'],
};
