import { ModelSpec, EvalTaskRequest, evalTask, fitVisualTokenizer, imageTextInputs } from '@mmzoo/core';
import { VlmoConfig, VlmoConfigSchema } from './config';
import { VLMo, buildVlmo, vlmoStageObjectives } from './model';

/**
 * VLMo as the harness and the CLI see it (Bao et al. 2022): schema, builder, the objectives stages may select
 * (`itc`, `itm`, `mlm`, `mim`: those with a weight above 0), `prepare` (fits the k-means visual tokenizer of the
 * image-only MIM stage), the evaluation tasks (zero-shot and retrieval in dual-encoder mode; with an ITM head, `itm`:
 * ITC top-k re-ranked by fusion-mode ITM and ITM accuracy against swapped-position hard negatives) and its weights by
 * component (shared attention, each FFN expert, embeddings, heads).
 */
export const vlmoSpec: ModelSpec<VlmoConfig, VLMo> = {
  name: 'vlmo',
  describe: 'VLMo (Bao et al. 2022): mixture-of-modality-experts transformer, ITC + ITM (hard negatives) + MLM',
  schema: VlmoConfigSchema,
  inputs: imageTextInputs,
  build: buildVlmo,
  objectives: (cfg) => vlmoStageObjectives(cfg),
  stagewise: true,
  evalTasks: (cfg) => {
    const tasks: EvalTaskRequest[] = [evalTask('zeroShot', {}), evalTask('retrieval', {})];
    if (cfg.objectives.itm > 0) tasks.push(evalTask('itm', { k: cfg.itmRerankK }));
    return tasks;
  },
  components: (cfg) => ({
    visionEmbedding: (n) => /^(patch_embed|cls_token|pos_embed|token_type_embeddings)/.test(n),
    textEmbedding: (n) => n.startsWith('text_embeddings.'),
    sharedAttention: (n) => /^transformer\.blocks\.\d+\.(norm1|attn|gamma_)/.test(n),
    visionFfn: (n) => /\.(norm2|ffn)\.vision\./.test(n),
    languageFfn: (n) => /\.(norm2|ffn)\.language\./.test(n),
    visionLanguageFfn: (n) => /\.(norm2|ffn)\.vl\./.test(n),
    relativePositionAndNorm: (n) => n === 'relative_position_bias_table' || n.startsWith('transformer.norm.'),
    heads: (n) => /^(pooler|itm_score|itc_|logit_|mlm_score)/.test(n),
    ...(cfg.objectives.mim > 0 ? { mimHeadAndMaskToken: (n: string) => /^(mim_head|mask_token)/.test(n) } : {}),
  }),
  presets: ['configs/vlmo/base.yaml'],
  // the image-only MIM stage needs its k-means visual tokenizer fitted (a no-op without objectives.mim)
  prepare: (model, ctx) => fitVisualTokenizer(model.visualTokenizer, model.cfg.tokenizer, ctx),
};
