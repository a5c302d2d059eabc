// The server's OpenAI routes as this page uses them: /v1/models, /v1/rag/kbs, and
// /v1/chat/completions streamed as server-sent events; the API key (when the server has one) is
// kept in this browser.

const keyStorage = 'slm.apiKey';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function apiKey() {
  return window.localStorage.getItem(keyStorage) || '';
}

export function setApiKey(key) {
  if (key) window.localStorage.setItem(keyStorage, key); else window.localStorage.removeItem(keyStorage);
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// The error object of an OpenAI-shaped body, or the status text when the body is not one.
async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON: the status line says what there is to say
  }
  return new ApiError(response.status, message);
}

// The models this server answers with: its own model and its adapters (hub-cached models that
// are listed but not loaded are left out: the server would refuse them).
export async function listModels() {
  const response = await fetch('/v1/models', { headers: headers() });
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  const served = body.data.filter((m) => m.owned_by === 'slm');
  return served.map((m) => ({ id: m.id, adapter: Boolean(m.parent) }));
}

// The knowledge bases the server can ground answers in (`slm serve --rag`): [{name, chunks, sources}].
export async function listKnowledgeBases() {
  const response = await fetch('/v1/rag/kbs', { headers: headers() });
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  return body.data.map((kb) => ({ name: kb.name, chunks: kb.chunks, sources: kb.sources }));
}

// The request body for one answer: the conversation's messages and its sampling settings (fields
// left empty are not sent, so the server's defaults apply).
export function chatRequest(model, settings, messages) {
  const body = { model, messages: [], stream: true, stream_options: { include_usage: true } };
  if (settings.system.trim()) body.messages.push({ role: 'system', content: settings.system });
  for (const m of messages) body.messages.push({ role: m.role, content: m.content });
  const numbers = { temperature: parseFloat, top_p: parseFloat, min_p: parseFloat, top_k: parseInt, max_tokens: parseInt, seed: parseInt };
  for (const [key, parse] of Object.entries(numbers)) {
    const text = String(settings[key] ?? '').trim();
    if (text === '') continue;
    const value = parse(text, 10);
    if (!Number.isNaN(value)) body[key] = value;
  }
  if (settings.kb) body.rag = { kb: settings.kb };  // answers grounded in that knowledge base
  return body;
}

// Streams one answer: onText(piece) for each content delta; resolves with the usage and timings
// (the server's, and this page's own clock) and a grounded answer's citations (the chunk the
// server sends before [DONE]) when the stream ends, or with `stopped: true` when `signal` aborted it.
export async function streamChat(body, { signal, onText }) {
  const started = performance.now();
  const response = await fetch('/v1/chat/completions', {
    method: 'POST', headers: headers(), body: JSON.stringify(body), signal,
  });
  if (!response.ok) throw await errorFrom(response);
  const result = {
    usage: null, timings: null, citations: null, finishReason: null, stopped: false, firstTokenMs: null, elapsedMs: 0, reads: 0,
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const handle = (data) => {
    if (data === '[DONE]') return;
    const event = JSON.parse(data);
    if (event.error) throw new ApiError(500, event.error.message);
    if (event.usage) result.usage = event.usage;
    if (event.timings) result.timings = event.timings;  // slm's and llama.cpp's speed figures
    if (Array.isArray(event.citations)) result.citations = event.citations.map(citationFrom);
    for (const choice of event.choices || []) {
      const text = choice.delta && choice.delta.content;
      if (text) {
        if (result.firstTokenMs === null) result.firstTokenMs = performance.now() - started;
        onText(text);
      }
      if (choice.finish_reason) result.finishReason = choice.finish_reason;
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      result.reads++;
      buffer += decoder.decode(value, { stream: true });
      // Events are separated by a blank line; a partial one waits for the next read.
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split('\n')) if (line.startsWith('data: ')) handle(line.slice(6));
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
    result.stopped = true;
  }
  result.elapsedMs = performance.now() - started;
  return result;
}

// The fields of a citation this page shows and keeps; anything else the server sends is dropped.
function citationFrom(c) {
  return {
    number: Number(c.number), source: String(c.source ?? ''), text: String(c.text ?? ''), cited: Boolean(c.cited),
  };
}
