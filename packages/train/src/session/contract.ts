/**
 * The run contract checked when a config loads: the batch keys the model needs against those its dataset yields, and
 * a tokenizer for every tokenized key (docs/architecture.md, "The run contract").
 */
import { inputKeys, tokenInputKeys } from '@mmzoo/core';
import type { ModelInputs } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';
import { DATASET_KEYS } from '../data/dataset-keys';
import { resolveTokenizers, TokenizerConfig, TokenizersConfig } from '../tokenizers/config';

/** A contract violation: the config path to blame and a one-line message. */
export interface ContractProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Checks a config's data and tokenizers against the model's inputs.
 * @param inputs the spec's `inputs(model)`
 * @param exp the experiment's `data` (absent: a preset, no data to check) and `tokenizer` / `tokenizers`
 * @returns the first problem: a batch key the dataset does not yield (blamed on `data.dataset`), a tokenizer for a key
 *   the model does not take or a tokenized key without a tokenizer (blamed on `tokenizers`); undefined when it holds
 */
export function checkRunContract(
  modelName: string, inputs: ModelInputs, exp: { data?: DataConfig; tokenizer?: TokenizerConfig; tokenizers?: TokenizersConfig },
): ContractProblem | undefined {
  if (exp.data) {
    const yields = DATASET_KEYS[exp.data.dataset];
    const missing = inputKeys(inputs).filter((k) => !yields.includes(k));
    if (missing.length) {
      return {
        path: ['data', 'dataset'],
        message: `model '${modelName}' needs batch key${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which dataset '${exp.data.dataset}' does not yield (it yields ${yields.join(', ')})`,
      };
    }
  }
  const t = resolveTokenizers(exp, tokenInputKeys(inputs), modelName);
  return 'message' in t ? t : undefined;
}
