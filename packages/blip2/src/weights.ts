import { LoadStateDictResult, RawTensor, adaptShapes, loadStateDict, timmVitName, torchmultimodalVitName } from '@mmzoo/core';
import type { Blip2Qformer } from './model';

/** torchmultimodal's Q-Former names inside one layer -> LAVIS's (HF BERT with the `_query` FFN twins). */
const TMM_QFORMER_LAYER: [RegExp, string][] = [
  [/^self_attention\.([qkv])_proj\./, 'attention.self.$1.'],
  [/^self_attention\.output_proj\./, 'attention.output.dense.'],
  [/^self_attn_layernorm\./, 'attention.output.LayerNorm.'],
  [/^cross_attention\.([qkv])_proj\./, 'crossattention.self.$1.'],
  [/^cross_attention\.output_proj\./, 'crossattention.output.dense.'],
  [/^cross_attn_layernorm\./, 'crossattention.output.LayerNorm.'],
  [/^feedforward\.model\.0\./, 'intermediate.dense.'],
  [/^feedforward\.model\.2\./, 'output.dense.'],
  [/^feedforward_layernorm\./, 'output.LayerNorm.'],
  [/^feedforward_query\.model\.0\./, 'intermediate_query.dense.'],
  [/^feedforward_query\.model\.2\./, 'output_query.dense.'],
  [/^feedforward_layernorm_query\./, 'output_query.LayerNorm.'],
];

const QKV: Record<string, string> = { q: 'query', k: 'key', v: 'value' };

/**
 * Maps a torchmultimodal BLIP-2 name (`BLIP2.state_dict()` plus `Blip2Phase1Loss`'s `loss.itm_head.*`, `loss.temp`)
 * onto {@link Blip2Qformer}'s (LAVIS's) names: `vision_encoder.*` onto `visual_encoder.*` (core/io
 * torchmultimodalVitName), `qformer.model.embeddings.{token_embeddings,position_embeddings,layernorm}` onto
 * `Qformer.bert.embeddings.{word_embeddings,position_embeddings,LayerNorm}`, each layer's
 * `self_attention.{q,k,v,output}_proj` / `cross_attention.*` / `feedforward[_query]` / `*_layernorm` onto HF BERT's
 * `attention.self.{query,key,value}` / `crossattention.*` / `intermediate[_query]`, `output[_query]`, the LM head
 * `qformer.head.{linear_1,layernorm,linear_2}` onto `Qformer.cls.predictions.{transform.dense,transform.LayerNorm,
 * decoder}` (its bias onto `predictions.bias`), and `loss.*` onto `itm_head`, `temp`.
 * @returns the LAVIS name, or null for `position_ids` and names with no counterpart
 */
export function torchmultimodalBlip2Name(name: string): string | null {
  if (['query_tokens', 'ln_vision.weight', 'ln_vision.bias'].includes(name) || /^(vision_proj|text_proj)\.(weight|bias)$/.test(name)) return name;
  if (name === 'loss.temp') return 'temp';
  let m = /^loss\.itm_head\.(weight|bias)$/.exec(name);
  if (m) return `itm_head.${m[1]}`;
  m = /^vision_encoder\.(.+)$/.exec(name);
  if (m) {
    const inner = torchmultimodalVitName(m[1]);
    return inner ? `visual_encoder.${inner}` : null;
  }
  const head: Record<string, string> = {
    'qformer.head.linear_1.weight': 'transform.dense.weight', 'qformer.head.linear_1.bias': 'transform.dense.bias',
    'qformer.head.layernorm.weight': 'transform.LayerNorm.weight', 'qformer.head.layernorm.bias': 'transform.LayerNorm.bias',
    'qformer.head.linear_2.weight': 'decoder.weight', 'qformer.head.linear_2.bias': 'bias',
  };
  if (name in head) return `Qformer.cls.predictions.${head[name]}`;
  m = /^qformer\.model\.embeddings\.(token_embeddings|position_embeddings|layernorm)\.(weight|bias)$/.exec(name);
  if (m) return `Qformer.bert.embeddings.${{ token_embeddings: 'word_embeddings', position_embeddings: 'position_embeddings', layernorm: 'LayerNorm' }[m[1]]}.${m[2]}`;
  m = /^qformer\.model\.encoder\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  for (const [re, to] of TMM_QFORMER_LAYER) {
    if (re.test(m[2])) return `Qformer.bert.encoder.layer.${m[1]}.${m[2].replace(re, to).replace(/^(attention|crossattention)\.self\.([qkv])\./, (_, a, x) => `${a}.self.${QKV[x]}.`)}`;
  }
  return null;
}

/**
 * Maps a LAVIS BLIP-2 checkpoint name (`Blip2Qformer`, stage 1) onto {@link Blip2Qformer}'s: EVA's
 * `visual_encoder.{patch_embed.proj,cls_token,pos_embed,blocks.{i}.{norm1,attn.qkv,attn.q_bias,attn.v_bias,attn.proj,
 * norm2,mlp.fc1,mlp.fc2}}` onto core ViT names (core/io timmVitName); `*.position_ids` buffers and, for a tied LM
 * head, `Qformer.cls.predictions.decoder.weight` (the word-embedding table again) are skipped; everything else
 * (`ln_vision`, `query_tokens`, `Qformer.*`, heads, `temp`) is already ours.
 * @param tiedHead whether the model's LM head is tied (then the decoder weight has no variable of its own)
 * @returns our name, or null for skipped names
 */
export function lavisBlip2Name(name: string, tiedHead = true): string | null {
  if (name.endsWith('.position_ids')) return null;
  if (tiedHead && name === 'Qformer.cls.predictions.decoder.weight') return null;
  const m = /^visual_encoder\.(.+)$/.exec(name);
  if (m) {
    const inner = timmVitName(m[1]);
    return inner ? `visual_encoder.${inner}` : name;
  }
  return name;
}

/**
 * Loads a state dict into a {@link Blip2Qformer} through `rename`, reshaping class tokens and position tables held
 * with size-1 axes (core adaptShapes). Strict: every variable must be given and every renamed tensor used.
 * @throws Error from loadStateDict listing missing, unexpected or mis-shaped tensors
 */
function loadRenamed(model: Blip2Qformer, source: Map<string, RawTensor>, rename: (n: string) => string | null): LoadStateDictResult {
  const target = model.namedParameters();
  return loadStateDict(target, adaptShapes(source, target, rename), { rename });
}

/**
 * Loads torchmultimodal's BLIP-2 weights with `Blip2Phase1Loss`'s (the blip2-qformer-tiny golden's layout); build the
 * model with `featureLayer: -1`, `finalNorm: true`, `attnBias: qkv` and `lmHead: untied`, as that ViT and head are.
 * @throws Error listing missing, unexpected or mis-shaped tensors
 */
export function loadTorchmultimodalBlip2(model: Blip2Qformer, source: Map<string, RawTensor>): LoadStateDictResult {
  return loadRenamed(model, source, torchmultimodalBlip2Name);
}

/**
 * Loads a LAVIS BLIP-2 stage-1 checkpoint (`blip2_pretrain`'s `model` state dict with an EVA ViT-g of 39 blocks).
 * @throws Error listing missing, unexpected or mis-shaped tensors
 */
export function loadLavisBlip2(model: Blip2Qformer, source: Map<string, RawTensor>): LoadStateDictResult {
  const tied = model.qformer.cls?.tied ?? false;
  return loadRenamed(model, source, (n) => lavisBlip2Name(n, tied));
}
