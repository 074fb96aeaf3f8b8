/**
 * Name maps from public ViT checkpoint layouts onto core's {@link VisionTransformer} names (open_clip layout:
 * `conv1`, `class_embedding`, `positional_embedding`, `transformer.resblocks.{i}.{ln_1,attn,ln_2,mlp.c_fc,mlp.c_proj}`,
 * `ln_post`), and a helper for the size-1 axes those layouts keep on the class token and position table.
 * Browser-safe. Use with `loadStateDict(model.namedParameters(), adaptShapes(source, target, rename), { rename })`.
 */
import type { Variable } from '../tf';
import type { RawTensor } from './safetensors';

/**
 * timm / DeiT / BLIP / ALBEF (salesforce) ViT names, relative to the encoder, e.g. `blocks.0.attn.qkv.weight` ->
 * `transformer.resblocks.0.attn.in_proj_weight`; `cls_token` [1, 1, D] -> `class_embedding` [D]; `pos_embed`
 * [1, N + 1, D] -> `positional_embedding` [N + 1, D] (see {@link adaptShapes}). Also EVA's (BLIP-2's ViT-g in LAVIS
 * eva_vit.py, the same names with q/v-only biases): `blocks.{i}.attn.q_bias` / `attn.v_bias` -> `attn.q_bias` /
 * `attn.v_bias` (a ViT built with `attnBias: 'qv'`).
 * @returns the core name, or null for a name that is not part of a timm ViT
 */
export function timmVitName(name: string): string | null {
  const fixed: Record<string, string> = {
    cls_token: 'class_embedding', pos_embed: 'positional_embedding', 'patch_embed.proj.weight': 'conv1.weight',
    'patch_embed.proj.bias': 'conv1.bias', 'norm.weight': 'ln_post.weight', 'norm.bias': 'ln_post.bias',
  };
  if (name in fixed) return fixed[name];
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const inner: Record<string, string> = {
    'norm1.weight': 'ln_1.weight', 'norm1.bias': 'ln_1.bias', 'norm2.weight': 'ln_2.weight', 'norm2.bias': 'ln_2.bias',
    'attn.qkv.weight': 'attn.in_proj_weight', 'attn.qkv.bias': 'attn.in_proj_bias', 'attn.q_bias': 'attn.q_bias', 'attn.v_bias': 'attn.v_bias',
    'attn.proj.weight': 'attn.out_proj.weight', 'attn.proj.bias': 'attn.out_proj.bias',
    'mlp.fc1.weight': 'mlp.c_fc.weight', 'mlp.fc1.bias': 'mlp.c_fc.bias', 'mlp.fc2.weight': 'mlp.c_proj.weight', 'mlp.fc2.bias': 'mlp.c_proj.bias',
  };
  const rest = inner[m[2]];
  return rest ? `transformer.resblocks.${m[1]}.${rest}` : null;
}

/**
 * torchvision `VisionTransformer` names (used by torchmultimodal's ALBEF), relative to the encoder, e.g.
 * `encoder.layers.encoder_layer_0.self_attention.in_proj_weight` -> `transformer.resblocks.0.attn.in_proj_weight`,
 * `encoder.layers.encoder_layer_0.mlp.0.weight` -> `transformer.resblocks.0.mlp.c_fc.weight`, `class_token` [1, 1, D]
 * -> `class_embedding`, `encoder.pos_embedding` [1, N + 1, D] -> `positional_embedding`, `encoder.ln` -> `ln_post`.
 * @returns the core name, or null for a name that is not part of a torchvision ViT
 */
export function torchvisionVitName(name: string): string | null {
  const fixed: Record<string, string> = {
    class_token: 'class_embedding', 'encoder.pos_embedding': 'positional_embedding', 'conv_proj.weight': 'conv1.weight',
    'conv_proj.bias': 'conv1.bias', 'encoder.ln.weight': 'ln_post.weight', 'encoder.ln.bias': 'ln_post.bias',
  };
  if (name in fixed) return fixed[name];
  const m = /^encoder\.layers\.encoder_layer_(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const inner: Record<string, string> = {
    'ln_1.weight': 'ln_1.weight', 'ln_1.bias': 'ln_1.bias', 'ln_2.weight': 'ln_2.weight', 'ln_2.bias': 'ln_2.bias',
    'self_attention.in_proj_weight': 'attn.in_proj_weight', 'self_attention.in_proj_bias': 'attn.in_proj_bias',
    'self_attention.out_proj.weight': 'attn.out_proj.weight', 'self_attention.out_proj.bias': 'attn.out_proj.bias',
    'mlp.0.weight': 'mlp.c_fc.weight', 'mlp.0.bias': 'mlp.c_fc.bias', 'mlp.3.weight': 'mlp.c_proj.weight', 'mlp.3.bias': 'mlp.c_proj.bias',
  };
  const rest = inner[m[2]];
  return rest ? `transformer.resblocks.${m[1]}.${rest}` : null;
}

/**
 * torchmultimodal's own ViT names (`torchmultimodal.modules.encoders.vision_transformer`, BLIP-2's image encoder
 * there), relative to the encoder: `embeddings.cls_token` [1, 1, D] -> `class_embedding`, `embeddings.position_embeddings`
 * [1, N + 1, D] -> `positional_embedding`, `embeddings.conv_projection` -> `conv1`,
 * `encoder.layer.{i}.attention.input_proj` -> `transformer.resblocks.{i}.attn.in_proj_{weight,bias}`,
 * `attention.output_proj` -> `attn.out_proj`, `attention_layernorm` / `feedforward_layernorm` -> `ln_1` / `ln_2`,
 * `feedforward.model.{0,2}` -> `mlp.c_fc` / `mlp.c_proj`, `encoder.final_layer_norm` -> `ln_post`.
 * @returns the core name, or null for a name that is not part of that ViT
 */
export function torchmultimodalVitName(name: string): string | null {
  const fixed: Record<string, string> = {
    'embeddings.cls_token': 'class_embedding', 'embeddings.position_embeddings': 'positional_embedding',
    'embeddings.conv_projection.weight': 'conv1.weight', 'embeddings.conv_projection.bias': 'conv1.bias',
    'encoder.final_layer_norm.weight': 'ln_post.weight', 'encoder.final_layer_norm.bias': 'ln_post.bias',
  };
  if (name in fixed) return fixed[name];
  const m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const inner: Record<string, string> = {
    attention_layernorm: 'ln_1', feedforward_layernorm: 'ln_2', 'attention.output_proj': 'attn.out_proj',
    'feedforward.model.0': 'mlp.c_fc', 'feedforward.model.2': 'mlp.c_proj',
  };
  if (m[2] === 'attention.input_proj') return `transformer.resblocks.${m[1]}.attn.in_proj_${m[3]}`;
  const rest = inner[m[2]];
  return rest ? `transformer.resblocks.${m[1]}.${rest}.${m[3]}` : null;
}

function squeezed(shape: readonly number[]): string {
  return shape.filter((d) => d !== 1).join(',');
}

/**
 * A copy of `source` (same names) in which each tensor whose renamed target has the same values laid out with
 * different size-1 axes (a class token [1, 1, D] for a [D] variable, a position table [1, N, D] for [N, D]) is
 * reshaped to the target's shape; the data is shared, not copied. Everything else is passed through unchanged,
 * so loadStateDict still reports real shape mismatches.
 * @param target the model's variables by name
 * @param rename source name -> target name (null: not loaded)
 */
export function adaptShapes(source: Map<string, RawTensor>, target: Map<string, Variable>, rename: (name: string) => string | null = (n) => n): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, raw] of source) {
    const to = rename(name);
    const v = to === null ? undefined : target.get(to);
    const same = v && raw.shape.length === v.shape.length && raw.shape.every((d, i) => d === v.shape[i]);
    if (v && !same && squeezed(raw.shape) === squeezed(v.shape)) out.set(name, { ...raw, shape: [...v.shape] });
    else out.set(name, raw);
  }
  return out;
}
