// Drives a running `slm serve` with the official `openai` npm client: models, chat (whole and
// streamed, usage in the stream), completions (whole and streamed), structured output, and the
// client's own error classes for a bad key and an unknown model.
// Usage: node openai_client_test.mjs BASE_URL API_KEY MODEL   (BASE_URL ends in /v1)
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120000 });
let checks = 0;
const check = async (name, fn) => {
  await fn();
  checks++;
  console.log(`ok - ${name}`);
};

await check('models.list names the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
});

const messages = [
  { role: 'system', content: 'You answer questions about Python.' },
  { role: 'user', content: 'What does len() return?' },
];
let wholeChat;
await check('chat.completions.create returns an answer with usage', async () => {
  wholeChat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(wholeChat.object, 'chat.completion');
  assert.equal(wholeChat.choices[0].message.role, 'assistant');
  assert.equal(typeof wholeChat.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(wholeChat.choices[0].finish_reason));
  assert.ok(wholeChat.usage.prompt_tokens > 0);
  assert.equal(wholeChat.usage.total_tokens, wholeChat.usage.prompt_tokens + wholeChat.usage.completion_tokens);
});

await check('streamed chat equals the whole answer, usage last', async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(text, wholeChat.choices[0].message.content);
  assert.equal(finish, wholeChat.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, wholeChat.usage.completion_tokens);
});

await check('completions.create, whole and streamed, agree', async () => {
  const whole = await client.completions.create({ model, prompt: 'def add(a, b):', max_tokens: 10, temperature: 0 });
  assert.equal(whole.object, 'text_completion');
  const stream = await client.completions.create({ model, prompt: 'def add(a, b):', max_tokens: 10, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
});

await check('response_format json_schema gives parseable JSON', async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Pick one.' }], max_tokens: 60, temperature: 0,
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'pick', strict: true, schema: {
        type: 'object', properties: { pick: { enum: ['a', 'b'] } }, required: ['pick'] } },
    },
  });
  const value = JSON.parse(r.choices[0].message.content);
  assert.ok(['a', 'b'].includes(value.pick));
});

await check('an unknown model is a NotFoundError with code model_not_found', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 2 }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found' && e.param === 'model');
});

await check('a bad request is a BadRequestError naming the field', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages, temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
});

await check('a wrong API key is an AuthenticationError', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

console.log(`openai client: ${checks} checks passed`);
