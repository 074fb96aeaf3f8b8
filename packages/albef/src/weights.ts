import { LoadStateDictResult, RawTensor, adaptShapes, loadStateDict, torchvisionVitName } from '@mmzoo/core';
import type { ALBEF } from './model';

/** torchmultimodal's BERT names inside one layer -> HF names (what core's BertLayer uses). */
const TMM_LAYER: [RegExp, string][] = [
  [/^attention\.(query|key|value)\./, 'attention.self.$1.'],
  [/^attention\.output\./, 'attention.output.dense.'],
  [/^attention_layernorm\./, 'attention.output.LayerNorm.'],
  [/^cross_attention\.(query|key|value)\./, 'crossattention.self.$1.'],
  [/^cross_attention\.output\./, 'crossattention.output.dense.'],
  [/^cross_attention_layernorm\./, 'crossattention.output.LayerNorm.'],
  [/^feedforward\.model\.0\./, 'intermediate.dense.'],
  [/^feedforward\.model\.2\./, 'output.dense.'],
  [/^feedforward_layernorm\./, 'output.LayerNorm.'],
];

function layerName(rest: string): string | null {
  for (const [re, to] of TMM_LAYER) if (re.test(rest)) return rest.replace(re, to);
  return null;
}

/**
 * Maps a torchmultimodal ALBEF state-dict name (examples/albef `ALBEFModelForRetrieval`, plus our `mlm_head.*`
 * PredictionHead) onto {@link ALBEF}'s names: the torchvision ViT onto `visual_encoder.*`, the text encoder's
 * layers onto `text_encoder.bert.encoder.layer.{i}` and the multimodal encoder's layer k onto layer `textLayers + k`
 * (one BERT stack, as in the authors' xbert.py), `*_layernorm` onto HF `LayerNorm`s, and the MLM head onto
 * `text_encoder.cls.predictions.*`. Momentum modules (`*_m`) map the same way onto the `_m` copies.
 * @param textLayers the number of text-only layers (torchmultimodal's text encoder depth)
 * @returns the ALBEF name, or null for names that have no counterpart
 */
export function torchmultimodalAlbefName(name: string, textLayers: number): string | null {
  let n = name.replace(/^model_with_similarity\./, '');
  if (['temp', 'image_queue', 'text_queue', 'idx_queue', 'queue_ptr'].includes(n)) return n;
  const head: Record<string, string> = {
    'mlm_head.dense.weight': 'text_encoder.cls.predictions.transform.dense.weight',
    'mlm_head.dense.bias': 'text_encoder.cls.predictions.transform.dense.bias',
    'mlm_head.layer_norm.weight': 'text_encoder.cls.predictions.transform.LayerNorm.weight',
    'mlm_head.layer_norm.bias': 'text_encoder.cls.predictions.transform.LayerNorm.bias',
    'mlm_head.decoder.weight': 'text_encoder.cls.predictions.decoder.weight',
    'mlm_head.decoder.bias': 'text_encoder.cls.predictions.bias',
  };
  if (n in head) return head[n];
  if (/^(vision_proj|text_proj|itm_head)(_m)?\.(weight|bias)$/.test(n)) return n;
  n = n.replace(/^albef_model\./, '');
  let m = /^vision_encoder(_m)?\.encoder\.(.+)$/.exec(n);
  if (m) {
    const inner = torchvisionVitName(m[2]);
    return inner ? `visual_encoder${m[1] ?? ''}.${inner}` : null;
  }
  m = /^text_encoder(_m)?\.embeddings\.(.+)$/.exec(n);
  if (m) return `text_encoder${m[1] ?? ''}.bert.embeddings.${m[2].replace(/^layer_norm\./, 'LayerNorm.')}`;
  m = /^text_encoder(_m)?\.encoder\.layer\.(\d+)\.(.+)$/.exec(n);
  if (m) {
    const inner = layerName(m[3]);
    return inner ? `text_encoder${m[1] ?? ''}.bert.encoder.layer.${m[2]}.${inner}` : null;
  }
  m = /^multimodal_encoder(_m)?\.layer\.(\d+)\.(.+)$/.exec(n);
  if (m) {
    const inner = layerName(m[3]);
    return inner ? `text_encoder${m[1] ?? ''}.bert.encoder.layer.${textLayers + Number(m[2])}.${inner}` : null;
  }
  return null;
}

/**
 * Loads a torchmultimodal ALBEF state dict (strict: every ALBEF variable must be provided and every checkpoint
 * tensor used), reshaping torchvision's class token [1, 1, D] and position table [1, N, D] to core's shapes.
 * @throws Error from loadStateDict listing missing, unexpected or mis-shaped tensors
 */
export function loadTorchmultimodalAlbef(model: ALBEF, source: Map<string, RawTensor>): LoadStateDictResult {
  const rename = (n: string) => torchmultimodalAlbefName(n, model.opts.textLayers);
  const target = model.namedParameters();
  return loadStateDict(target, adaptShapes(source, target, rename), { rename });
}
