import { ModelSpec, evalTask, imageTextInputs } from '@mmzoo/core';
import { CocaConfig, CocaConfigSchema } from './config';
import { CoCa, buildCoca } from './model';
import { cocaCaptions } from './captions';

/**
 * CoCa as the harness and the CLI see it (Yu et al. 2022): schema, builder, objectives (contrastive `itc` and
 * captioning `cap`, paper eq. 4), the evaluation tasks (zero-shot and retrieval; `captioning`: BLEU / CIDEr of captions
 * of the test scenes with their constant-caption baselines), captioning with the multimodal decoder and its weights by
 * component in open_clip's names.
 */
export const cocaSpec: ModelSpec<CocaConfig, CoCa> = {
  name: 'coca',
  describe: 'CoCa (Yu et al. 2022): ViT + attentional poolers, unimodal + multimodal text decoder, contrastive + captioning loss',
  schema: CocaConfigSchema,
  inputs: imageTextInputs,
  build: buildCoca,
  objectives: () => ({ itc: ['pairs'], cap: ['pairs'] }),
  stagewise: false,
  evalTasks: (cfg) => [evalTask('zeroShot', {}), evalTask('retrieval', {}), evalTask('captioning', { images: cfg.caption.testScenes })],
  components: () => ({
    vision: (n) => n.startsWith('visual.'),
    text: (n) => n.startsWith('text.'),
    decoder: (n) => n.startsWith('text_decoder.'),
    logitScale: (n) => n === 'logit_scale',
  }),
  presets: ['configs/coca/base.yaml'],
  caption: (model, images, tokenizer, cfg) => cocaCaptions(model, images, tokenizer, cfg),
};
