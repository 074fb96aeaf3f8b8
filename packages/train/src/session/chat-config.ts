/**
 * The `tokenizer_config.json` a dialogue run writes into its folder: the run tokenizer's own Hugging Face config plus
 * the `chat_template` (jinja) of the template the run trained in, so that whatever renders chats from the folder
 * (`mmzoo generate RUN --chat`, a VLM reusing the run through `init:`, Hugging Face's `apply_chat_template`) writes
 * exactly the text the training did.
 */
import { writeFileSync } from 'fs';
import * as path from 'path';
import { HFTokenizer } from '@mmzoo/core';
import { chatTemplateJinja } from '../data/chat-templates';
import { isDialogueData } from './datasets';
import type { Session } from './session';

/** The run-folder file holding the chat template. */
export const CHAT_CONFIG_FILE = 'tokenizer_config.json';

/**
 * The tokenizer_config.json of a dialogue session (undefined for other data): the `text` tokenizer's config, its end
 * token also as `bos_token` when it names none (every training sequence starts with it, as GPT-2's
 * tokenizer_config.json has it), and `chat_template`: the template's jinja, or for `mix` Hugging Face's list of named
 * templates (`default`: llava_v1, `minigpt4`).
 * @throws Error when the `text` tokenizer is not an HFTokenizer with an end id (a dialogue session has one)
 */
export function chatTokenizerConfig(s: Pick<Session, 'data' | 'tokenizer'>): Record<string, unknown> | undefined {
  if (!isDialogueData(s.data)) return undefined;
  const tok = s.tokenizer;
  if (!(tok instanceof HFTokenizer) || tok.endId === undefined) throw new Error('chatTokenizerConfig: the text tokenizer has no end-of-text id');
  const own = tok.toJSON().config;
  const eos = tok.inner.id_to_token(tok.endId);
  const templates = s.data.templates;
  const chat = templates.length === 1
    ? chatTemplateJinja(templates[0])
    : templates.map((t, i) => ({ name: i === 0 ? 'default' : t.name, template: chatTemplateJinja(t) }));
  return { ...own, eos_token: own.eos_token ?? eos, bos_token: own.bos_token ?? eos, chat_template: chat };
}

/**
 * Writes {@link chatTokenizerConfig} as `<runDir>/tokenizer_config.json` (nothing for other data).
 * @throws Error from the file system
 */
export function writeChatTokenizerConfig(runDir: string, s: Session): void {
  const config = chatTokenizerConfig(s);
  if (config) writeFileSync(path.join(runDir, CHAT_CONFIG_FILE), JSON.stringify(config, null, 2));
}
