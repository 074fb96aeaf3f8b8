import { ModelSpec, evalTask, imageTextInputs } from '@mmzoo/core';
import { ClipConfig, ClipConfigSchema } from './config';
import { CLIP, buildClip } from './model';

/**
 * CLIP as the harness and the CLI see it (Radford et al. 2021): the `model:` schema, the builder, one objective (ITC),
 * zero-shot classification and retrieval, and its weights by component in open_clip's names (`visual.*` the image
 * tower; the text tower; `logit_scale`).
 */
export const clipSpec: ModelSpec<ClipConfig, CLIP> = {
  name: 'clip',
  describe: 'CLIP (Radford et al. 2021): ViT + causal text transformer, symmetric contrastive loss',
  schema: ClipConfigSchema,
  inputs: imageTextInputs,
  build: buildClip,
  objectives: () => ({ itc: ['pairs'] }),
  stagewise: false,
  evalTasks: () => [evalTask('zeroShot', {}), evalTask('retrieval', {})],
  components: () => ({
    vision: (n) => n.startsWith('visual.'),
    text: (n) => !n.startsWith('visual.') && n !== 'logit_scale',
    logitScale: (n) => n === 'logit_scale',
  }),
  presets: ['configs/clip/vit-b-32.yaml'],
};
