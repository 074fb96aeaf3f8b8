import type { RawTensor } from '@mmzoo/core';

/**
 * Removes a tied model's saved copy of its output matrix from a checkpoint (llama2.c and nanoGPT save the tied
 * tensor twice; HF may too): the copy must equal the token embedding, and the map is changed in place.
 * @param tensors the checkpoint, in the model's names
 * @param copy the output matrix's name (`output.weight`, `lm_head.weight`)
 * @param table the token embedding's name
 * @param where names the loader and the model in the error (e.g. 'loadGpt2Weights: the model ties lm_head to wte')
 * @param hint what to do about it, appended in parentheses (e.g. 'set tiedEmbeddings: false'); none when empty
 * @throws Error (one line) when the copy is present and differs from the table (or the table is missing)
 */
export function dropTiedCopy(tensors: Map<string, RawTensor>, copy: string, table: string, where: string, hint = ''): void {
  const saved = tensors.get(copy);
  if (!saved) return;
  const t = tensors.get(table);
  if (!t || !sameValues(t, saved)) throw new Error(`${where}, but the checkpoint's ${copy} differs from ${table}${hint ? ` (${hint})` : ''}`);
  tensors.delete(copy);
}

function sameValues(a: RawTensor, b: RawTensor): boolean {
  if (a.shape.join() !== b.shape.join() || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/**
 * A 2-D tensor transposed (Hugging Face Conv1D weights [in, out] to the torch Linear layout [out, in]).
 * @param raw a float tensor [R, C]
 * @param name names it in the error
 * @returns a new F32 tensor [C, R]
 * @throws Error when raw is not 2-D
 */
export function transpose2d(raw: RawTensor, name: string): RawTensor {
  if (raw.shape.length !== 2) throw new Error(`${name}: expected a 2-D Conv1D weight, got shape [${raw.shape}]`);
  const [r, c] = raw.shape;
  const src = raw.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return { dtype: 'F32', shape: [c, r], data: out };
}
