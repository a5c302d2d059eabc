// Sends ollama-shaped requests to a running `slm serve` with plain fetch, as ollama clients do:
// /api/version, /api/tags, /api/show, /api/chat and /api/generate (NDJSON streams read line by
// line as they arrive, and stream: false), and an error in ollama's shape.
// Usage: node ollama_requests_test.mjs BASE_URL API_KEY MODEL   (BASE_URL without /api)
import assert from 'node:assert/strict';

const [base, apiKey, model] = process.argv.slice(2);
const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` };
const name = `${model}:latest`;
let checks = 0;
const check = async (what, fn) => {
  await fn();
  checks++;
  console.log(`ok - ${what}`);
};
const post = (path, body) => fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

// Reads an NDJSON body as it streams, one JSON object per line.
async function* ndjson(response) {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}

await check('/api/version and /api/tags', async () => {
  const version = await (await fetch(`${base}/api/version`, { headers })).json();
  assert.equal(typeof version.version, 'string');
  const tags = await (await fetch(`${base}/api/tags`, { headers })).json();
  assert.equal(tags.models[0].name, name);
  assert.equal(typeof tags.models[0].details.quantization_level, 'string');
});

await check('/api/show', async () => {
  const show = await (await post('/api/show', { model: name })).json();
  assert.ok(show.model_info['general.parameter_count'] > 0);
  assert.equal(typeof show.template, 'string');
});

const chat = { model: name, messages: [{ role: 'user', content: 'Name a Python keyword.' }],
               options: { temperature: 0, num_predict: 10 } };
await check('/api/chat streams NDJSON that equals the whole answer', async () => {
  const response = await post('/api/chat', chat);
  assert.equal(response.status, 200);
  let text = '';
  let last;
  for await (const line of ndjson(response)) {
    if (!line.done) text += line.message.content;
    last = line;
  }
  assert.equal(last.done, true);
  assert.ok(last.eval_count > 0);
  const whole = await (await post('/api/chat', { ...chat, stream: false })).json();
  assert.equal(whole.message.content, text);
});

await check('/api/generate streams and returns a context', async () => {
  const body = { model: name, prompt: 'import math', raw: true, options: { temperature: 0, num_predict: 8 } };
  let text = '';
  let last;
  for await (const line of ndjson(await post('/api/generate', body))) {
    text += line.response;
    last = line;
  }
  assert.ok(Array.isArray(last.context));
  const whole = await (await post('/api/generate', { ...body, stream: false })).json();
  assert.equal(whole.response, text);
});

await check('errors come in ollama shape', async () => {
  const response = await post('/api/chat', { model: 'missing-model', messages: [] });
  assert.equal(response.status, 404);
  const body = await response.json();
  assert.equal(typeof body.error, 'string');
});

console.log(`ollama requests: ${checks} checks passed`);
