import { HFTokenizer, WordTokenizer } from '@mmzoo/core';
import { chatTemplateOf, renderChat } from '@mmzoo/lm';
import {
  CHAT_TEMPLATES, IGNORE_LABEL, LLAVA_V1_SYSTEM, chatPieces, chatTemplateJinja, chatText, dialogueBatchArrays, pieceIds, trainByteLevelBpe,
} from '@mmzoo/train';

const TURNS = [
  { user: 'Top left: a bag.\nIs there a bag?', assistant: 'Yes' },
  { user: 'Where is the bag?', assistant: 'Top left' },
];
const TOKENS = { bos: '<|endoftext|>', eos: '<|endoftext|>' };

// the strings of LLaVA's conv_llava_v1 (SeparatorStyle.TWO, sep ' ', sep2 '</s>') and MiniGPT-4's training wrap
// ('###Human: {} ###Assistant: ' + answer + end_sym '###'), written out by hand
const LLAVA_TWO_TURNS = `<|endoftext|>${LLAVA_V1_SYSTEM} USER: Top left: a bag.\nIs there a bag? ASSISTANT: Yes<|endoftext|>USER: Where is the bag? ASSISTANT: Top left<|endoftext|>`;
const MINIGPT4_TWO_TURNS = '<|endoftext|>###Human: Top left: a bag.\nIs there a bag? ###Assistant: Yes###Human: Where is the bag? ###Assistant: Top left###';

describe('chat templates (data/chat-templates)', () => {
  test("LLaVA v1's system prompt and layout, and MiniGPT-4's ###Human / ###Assistant wrap", () => {
    expect(LLAVA_V1_SYSTEM).toBe("A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.");
    expect(chatText(chatPieces(CHAT_TEMPLATES.llava_v1, TURNS), TOKENS)).toBe(LLAVA_TWO_TURNS);
    expect(chatText(chatPieces(CHAT_TEMPLATES.minigpt4, TURNS), TOKENS)).toBe(MINIGPT4_TWO_TURNS);
    // a generation prompt stops after the assistant's colon (LLaVA's `role + ":"` for an empty message)
    expect(chatText(chatPieces(CHAT_TEMPLATES.llava_v1, TURNS.slice(0, 1), true), TOKENS)).toBe(`<|endoftext|>${LLAVA_V1_SYSTEM} USER: Top left: a bag.\nIs there a bag? ASSISTANT:`);
    expect(chatText(chatPieces(CHAT_TEMPLATES.minigpt4, TURNS.slice(0, 1), true), TOKENS)).toBe('<|endoftext|>###Human: Top left: a bag.\nIs there a bag? ###Assistant:');
    // only the answers (with their end) count
    expect(chatPieces(CHAT_TEMPLATES.llava_v1, TURNS.slice(0, 1))).toEqual([
      { special: 'bos', counted: false }, { text: `${LLAVA_V1_SYSTEM} USER: Top left: a bag.\nIs there a bag? ASSISTANT:`, counted: false },
      { text: ' Yes', counted: true }, { special: 'eos', counted: true },
    ]);
    expect(() => chatPieces(CHAT_TEMPLATES.llava_v1, [])).toThrow('chatPieces: a conversation needs at least one turn');
  });

  const bpe = trainByteLevelBpe([LLAVA_TWO_TURNS.replace(/<\|endoftext\|>/g, ''), MINIGPT4_TWO_TURNS.replace(/<\|endoftext\|>/g, '')], {
    vocabSize: 320, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>',
  });
  const tokenizer = HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());

  test.each(['llava_v1', 'minigpt4'] as const)('%s: the pieces tokenized one by one give the ids of the whole rendered text', (name) => {
    const pieces = chatPieces(CHAT_TEMPLATES[name], TURNS);
    const { ids } = pieceIds(tokenizer, pieces);
    expect(Array.from(ids)).toEqual(tokenizer.inner.encode(chatText(pieces, TOKENS), { add_special_tokens: false }).ids);
  });

  test('labels by construction: exactly the answer ids (and the end after each) are targets, shifted by one', () => {
    const pieces = chatPieces(CHAT_TEMPLATES.llava_v1, TURNS);
    const { ids, answer } = pieceIds(tokenizer, pieces);
    const enc = (t: string) => tokenizer.inner.encode(t, { add_special_tokens: false }).ids;
    const eos = tokenizer.endId!;
    const prompt1 = enc(`${LLAVA_V1_SYSTEM} USER: Top left: a bag.\nIs there a bag? ASSISTANT:`);
    const answer1 = enc(' Yes');
    const prompt2 = enc('USER: Where is the bag? ASSISTANT:');
    const answer2 = enc(' Top left');
    expect(Array.from(ids)).toEqual([eos, ...prompt1, ...answer1, eos, ...prompt2, ...answer2, eos]);
    const L = ids.length + 2;
    const { text, labels } = dialogueBatchArrays([{ ids, answer }], L, tokenizer.padId);
    expect(Array.from(text)).toEqual([...Array.from(ids.subarray(0, -1)), ...new Array(3).fill(tokenizer.padId)]);
    // labels[t] is ids[t + 1] where that id is an answer's; the positions are written out from the piece lengths
    const expected = new Array(L).fill(IGNORE_LABEL);
    const a1 = 1 + prompt1.length;
    [...answer1, eos].forEach((id, j) => { expected[a1 - 1 + j] = id; });
    const a2 = a1 + answer1.length + 1 + prompt2.length;
    [...answer2, eos].forEach((id, j) => { expected[a2 - 1 + j] = id; });
    expect(Array.from(labels)).toEqual(expected);
    expect(Array.from(labels).filter((l) => l !== IGNORE_LABEL).length).toBe(answer1.length + answer2.length + 2);
    expect(() => dialogueBatchArrays([{ ids, answer }], ids.length - 2, 1)).toThrow(`a dialogue of ${ids.length} ids exceeds contextLength + 1 = ${ids.length - 1}`);
  });

  test('pieceIds needs a Hugging Face tokenizer with an end id', () => {
    expect(() => pieceIds(WordTokenizer.fromCaptions(['a bag']), chatPieces(CHAT_TEMPLATES.minigpt4, TURNS)))
      .toThrow("data.dataset 'dialogue' needs a tokenizer with an end-of-text id (tokenizers.text kind bpe, hf or init)");
  });

  // the jinja chat_template renders the same text through @mmzoo/lm's renderChat (@huggingface/jinja, what
  // `mmzoo generate --chat` uses), read back by chatTemplateOf as one template or the `default` of a named list
  test.each(['llava_v1', 'minigpt4'] as const)('%s: the jinja chat_template renders what the training renders', (name) => {
    const jinja = chatTemplateJinja(CHAT_TEMPLATES[name]);
    expect(chatTemplateOf({ chat_template: [{ name: 'default', template: jinja }, { name: 'other', template: '' }] }, 'test')).toBe(jinja);
    const template = chatTemplateOf({ chat_template: jinja }, 'test')!;
    const messages = TURNS.flatMap((x) => [{ role: 'user' as const, content: x.user }, { role: 'assistant' as const, content: x.assistant }]);
    expect(renderChat(template, messages, { bos_token: TOKENS.bos, eos_token: TOKENS.eos, add_generation_prompt: false }))
      .toBe(chatText(chatPieces(CHAT_TEMPLATES[name], TURNS), TOKENS));
    expect(renderChat(template, messages.slice(0, 1), { bos_token: TOKENS.bos, eos_token: TOKENS.eos }))
      .toBe(chatText(chatPieces(CHAT_TEMPLATES[name], TURNS.slice(0, 1), true), TOKENS));
    // a system message replaces LLaVA's system prompt; MiniGPT-4 has none
    const withSystem = renderChat(template, [{ role: 'system', content: 'Be brief.' }, messages[0]], { bos_token: TOKENS.bos, eos_token: TOKENS.eos });
    expect(withSystem).toBe(name === 'llava_v1'
      ? '<|endoftext|>Be brief. USER: Top left: a bag.\nIs there a bag? ASSISTANT:'
      : '<|endoftext|>###Human: Top left: a bag.\nIs there a bag? ###Assistant:');
  });

  test('the jinja template is one line with the template strings in it', () => {
    const llava = chatTemplateJinja(CHAT_TEMPLATES.llava_v1);
    expect(llava).not.toMatch(/\n|{%-|-%}/);
    expect(llava).toContain("{{ bos_token }}{{ system }} {% for message in loop_messages %}{% if message['role'] == 'user' %}USER: {{ message['content'] }} ASSISTANT:");
    expect(llava).toContain("{% elif message['role'] == 'assistant' %} {{ message['content'] }}{{ eos_token }}");
    expect(llava).toContain("human\\'s questions.'");
    expect(chatTemplateJinja(CHAT_TEMPLATES.minigpt4)).toContain("{{ bos_token }}###{% for message in loop_messages %}{% if message['role'] == 'user' %}Human: {{ message['content'] }} ###Assistant:{% elif message['role'] == 'assistant' %} {{ message['content'] }}###");
  });
});
