// The web chat page of `slm serve` in a real browser: Debian's Chromium, headless, driven by
// playwright-core (tests/webui, installed by scripts/setup.sh) against `slm serve` with the tiny
// model of ../shared on a loopback port. Registered in ctest (tests/CMakeLists.txt) as webui.browser;
// exits 77 (skipped) with a message when Chromium, playwright-core or the model is missing.
// Usage: node webui_test.mjs --slm PATH [--model DIR] [--screenshots DIR]
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1]]);
  return pairs;
}, []));
const sharedDir = process.env.SLM_SHARED_DIR || path.resolve(here, '../../../shared');
const modelDir = args.model || path.join(sharedDir, 'models/tinyqwen2-bpe-11m');
const chromiumPath = process.env.CHROME_PATH || '/usr/bin/chromium';
const skip = (why) => { console.log(`SKIPPED: ${why}`); process.exit(77); };
if (!args.slm || !fs.existsSync(args.slm)) skip(`no slm binary at ${args.slm}`);
if (!fs.existsSync(modelDir)) skip(`${modelDir} not found (../shared beside the repository)`);
if (!fs.existsSync(chromiumPath)) skip(`${chromiumPath} not found: run scripts/setup.sh (apt-get install chromium)`);
if (!fs.existsSync(path.join(here, 'node_modules/playwright-core')))
  skip('playwright-core is not installed: run scripts/setup.sh (npm ci in tests/webui)');
const { chromium } = await import('playwright-core');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slm-webui-'));
const shots = args.screenshots || path.join(work, 'screenshots');
fs.mkdirSync(shots, { recursive: true });
const cleanup = [];
const contexts = [];  // browsers and their profile directories, closed and removed at the end
process.on('exit', () => { for (const f of cleanup.reverse()) try { f(); } catch { /* best effort */ } });

// `slm serve` on any free loopback port; resolves with its base URL once it listens.
function serve(extra = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(args.slm, ['serve', modelDir, '--host', '127.0.0.1', '--port', '0', '--ctx', '2048',
      '--parallel', '2', '--threads', '2', '--quiet', '--grace-ms', '100', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanup.push(() => child.kill('SIGKILL'));
    let log = '';
    const timer = setTimeout(() => reject(new Error(`slm serve did not start:\n${log}`)), 60000);
    child.stderr.on('data', (data) => {
      log += data;
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child }); }
    });
    child.on('exit', (code) => reject(new Error(`slm serve exited with ${code}:\n${log}`)));
  });
}

const browserArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
async function openBrowser(viewport = { width: 1280, height: 820 }) {
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: browserArgs, viewport, acceptDownloads: true,
  });
  contexts.push({ context, profile });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(60000);  // a loaded 2-core CI machine
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('dialog', (d) => d.accept());
  return { context, page, problems };
}

let passed = 0;
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
  } catch (e) {
    console.log(`not ok - ${name} (${Date.now() - started} ms)`);
    throw e;
  }
  passed++;
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

// The request bodies the page sends to /v1/chat/completions, in order.
function recordChatRequests(page) {
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData())); });
  return bodies;
}

const answers = (page) => page.locator('.message.assistant:not(.error) .content');
async function sendAndWait(page, text) {
  const count = await page.locator('.message.assistant').count();
  await page.fill('#prompt', text);
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('.message.assistant').length > n
    && document.getElementById('stop-button').hidden, count, { timeout: 60000 });
}

// A scripted SSE answer (the tiny model writes nonsense): for the screenshots and the inertness
// test; `citations` as a grounded answer's chunk before the usage.
function sseBody(text, citations = null) {
  const events = [];
  for (const piece of text.match(/[\s\S]{1,12}/g)) events.push({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
  events.push({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  if (citations) events.push({ choices: [], citations });
  events.push({
    choices: [], usage: { prompt_tokens: 31, completion_tokens: 87, total_tokens: 118 },
    timings: { prompt_n: 31, prompt_ms: 41.2, prompt_per_second: 752.4, predicted_n: 87, predicted_ms: 601.7, predicted_per_second: 141.3 },
  });
  return `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
}
const scripted = (text, citations) => (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: sseBody(text, citations) });

// The tiny model rarely ends on its own: answers whose request sets no max_tokens are capped on
// the way to the server (the page's own request, as recorded, is unchanged), so the run stays short.
const chatUrl = '**/v1/chat/completions';
function rewrite(change) {
  return (route) => {
    const body = JSON.parse(route.request().postData());
    route.continue({ postData: JSON.stringify(change(body)) });
  };
}
const capped = rewrite((body) => ({ max_tokens: 48, ...body }));
// A long answer: the end-of-text, <|im_start|> and <|im_end|> tokens banned, so only Stop ends it
// (or, seconds later, the context: 400 tokens took the server under a second, which a busy
// machine's browser could miss before Stop was clicked).
const endless = rewrite((body) => ({ ...body, max_tokens: 1900, logit_bias: { 0: -100, 1: -100, 2: -100 } }));

// A small knowledge base for the grounded answers (`slm serve --rag`): two notes, and one whose
// name and text are HTML and script, which the page must show as text.
const kbDocs = path.join(work, 'kb-docs');
fs.mkdirSync(kbDocs);
fs.writeFileSync(path.join(kbDocs, 'lighthouse.md'), '# The lighthouse\n\nThe lighthouse keeper lights the lamp at dusk.\n');
fs.writeFileSync(path.join(kbDocs, 'bakery.txt'), 'The bakery opens at six and sells rye bread.\n');
fs.writeFileSync(path.join(kbDocs, '<img src=x onerror=window.__xss=1>.md'),
  'The lamp <img src="data:," onerror="window.__xss = \'kb\'"> <script>window.__xss = "kb"</script>\n');
const kbPath = path.join(work, 'notes.kb');
execFileSync(args.slm, ['rag', 'index', kbPath, kbDocs, '--embed', modelDir, '--no-progress', '--threads', '2'], { stdio: 'ignore' });

const server = await serve(['--rag', kbPath]);
const modelId = path.basename(modelDir);
const { page, problems } = await openBrowser();
const requests = recordChatRequests(page);
await page.route(chatUrl, capped);

await check('the page loads from the binary with a strict Content-Security-Policy', async () => {
  const response = await page.goto(`${server.url}/`);
  assert.equal(response.status(), 200);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.waitForFunction((id) => [...document.querySelectorAll('#model-select option')].some((o) => o.value === id), modelId);
  assert.equal(await page.locator('#empty').isVisible(), true);
});

await check('a message gets a streamed answer with token counts and speed', async () => {
  let renders = 0;
  await page.exposeFunction('countRender', () => { renders++; });
  await page.evaluate(() => new MutationObserver(() => {
    if (document.querySelector('.markdown.streaming')) window.countRender();
  }).observe(document.getElementById('message-list'), { subtree: true, childList: true, characterData: true }));
  await sendAndWait(page, 'Hello! What is Python?');
  assert.ok(renders >= 2, `the answer was painted ${renders} times while streaming`);
  assert.ok((await answers(page).first().innerText()).trim().length > 0);
  assert.match(await page.locator('.message.assistant .stats').first().innerText(), /\d+ tokens? · [\d.]+ tokens\/s · \d+ prompt tokens/);
  assert.equal(await page.locator('#title').innerText(), 'Hello! What is Python?');
  assert.deepEqual(requests.at(-1).stream_options, { include_usage: true });
});

await check('Stop ends an answer midway and keeps what came', async () => {
  await page.route(chatUrl, endless);
  await page.fill('#prompt', 'Tell me a very long story.');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => (document.querySelector('.markdown.streaming')?.textContent || '').length > 20);
  await page.click('#stop-button');
  await page.waitForFunction(() => document.getElementById('stop-button').hidden);
  await page.unroute(chatUrl, endless);
  assert.equal(await page.locator('.message.assistant .stats').last().innerText(), 'Stopped');
  assert.ok((await answers(page).last().innerText()).length > 20);
  assert.equal(await page.locator('#send-button').isVisible(), true);
});

await check('Regenerate replaces the last answer with a new one', async () => {
  const before = requests.length;
  const turns = await page.locator('.message').count();
  await page.getByRole('button', { name: 'Regenerate this answer' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('.message').length === n
    && document.getElementById('stop-button').hidden && document.querySelector('.message:last-child .stats')?.textContent, turns);
  assert.equal(requests.length, before + 1);
  assert.equal(requests.at(-1).messages.at(-1).content, 'Tell me a very long story.');
  assert.equal(await page.locator('.message').count(), turns);
});

await check('settings are sent with the request: system prompt and sampling', async () => {
  await page.getByRole('button', { name: 'Conversation settings' }).click();
  await page.getByLabel('System prompt').fill('You are terse.');
  await page.getByLabel('Temperature').fill('0.3');
  await page.getByLabel('Top-p').fill('0.9');
  await page.getByLabel('Top-k').fill('20');
  await page.getByLabel('Min-p').fill('0.05');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByLabel('Seed').fill('42');
  await page.getByRole('button', { name: 'Save' }).click();
  await sendAndWait(page, 'One more question.');
  const body = requests.at(-1);
  assert.deepEqual(body.messages[0], { role: 'system', content: 'You are terse.' });
  assert.equal(body.model, modelId);
  assert.deepEqual([body.temperature, body.top_p, body.top_k, body.min_p, body.max_tokens, body.seed], [0.3, 0.9, 20, 0.05, 24, 42]);
  assert.ok(Number((await page.locator('.message.assistant .stats').last().innerText()).split(' ')[0]) <= 24);
});

await check('Edit and resend replaces a turn and what followed', async () => {
  await page.getByRole('button', { name: 'Edit this message and send it again' }).first().click();
  await page.getByLabel('Edit your message').fill('Hello! What is C++?');
  await page.getByRole('button', { name: 'Save & send' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.message').length === 2 && document.getElementById('stop-button').hidden
    && document.querySelector('.message:last-child .stats')?.textContent);
  assert.equal(await page.locator('.message.user .content').innerText(), 'Hello! What is C++?');
  assert.equal(requests.at(-1).messages.filter((m) => m.role === 'user').length, 1);
});

await check('a second conversation, switching between them, and both survive a reload', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  assert.equal(await page.locator('.message').count(), 0);
  await sendAndWait(page, 'Second conversation here');
  await page.reload();
  await page.waitForSelector('.conversation-open');
  const titles = await page.locator('.conversation-open').allInnerTexts();
  assert.deepEqual(titles, ['Second conversation here', 'Hello! What is Python?']);
  assert.equal(await page.locator('.message.user .content').innerText(), 'Second conversation here');
  await page.locator('.conversation-open', { hasText: 'Hello! What is Python?' }).click();
  await page.waitForFunction(() => document.querySelector('.message.user .content')?.textContent === 'Hello! What is C++?');
  assert.equal(await page.locator('.conversation-open[aria-current="page"]').innerText(), 'Hello! What is Python?');
  // The settings belong to that conversation and came back with it.
  await sendAndWait(page, 'And a follow-up.');
  assert.equal(requests.at(-1).seed, 42);
});

await check('export writes the JSON `slm chat /save` writes, and import reads it back', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export this conversation as JSON' }).click()]);
  const file = path.join(work, 'exported.json');
  await download.saveAs(file);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(saved.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'assistant']);
  assert.equal(saved.messages[1].content, 'Hello! What is C++?');
  // A file as `slm chat /save` writes it (only "messages") imports as a conversation.
  const chatSave = path.join(work, 'chat-save.json');
  fs.writeFileSync(chatSave, `${JSON.stringify({ messages: [{ role: 'user', content: 'Saved by slm chat' }, { role: 'assistant', content: 'Hi.' }] }, null, 2)}\n`);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: 'Import JSON…' }).click()]);
  await chooser.setFiles(chatSave);
  await page.waitForFunction(() => document.getElementById('title').textContent === 'Saved by slm chat');
  assert.equal(await page.locator('.message').count(), 2);
});

await check('rename and delete a conversation', async () => {
  await page.getByRole('button', { name: 'Rename “Saved by slm chat”' }).click();
  await page.getByLabel('Title').fill('Imported one');
  await page.getByRole('button', { name: 'Rename', exact: true }).click();
  // The page re-renders after the click: wait for it rather than read the old title.
  await page.waitForFunction(() => document.getElementById('title').textContent === 'Imported one');
  await page.getByRole('button', { name: 'Delete “Imported one”' }).click();  // confirm() is accepted
  await page.waitForFunction(() => document.querySelectorAll('.conversation-open').length === 2);
  assert.deepEqual(await page.locator('.conversation-open').allInnerTexts(), ['Hello! What is Python?', 'Second conversation here']);
});

await check('a 4xx from the server is shown as a readable error', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  await sendAndWait(page, `Too long: ${'many words here '.repeat(1200)}`);
  const alert = page.locator('.message.error [role="alert"]');
  assert.match(await alert.innerText(), /The server answered with an error: .*(context|tokens)/i);
  assert.match(await page.locator('#status').innerText(), /^Error:/);
  // The browser logs the refused request itself; that one console error is expected.
  const logged = problems.findIndex((m) => /status of 400/.test(m));
  assert.ok(logged >= 0);
  problems.splice(logged, 1);
});

await check('Markdown from the model cannot run script: <script>, <img onerror>, javascript: links are inert', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  const dangerous = scripted([
    'Inert: <script>window.__xss = "script"</script>',
    '<img src="data:," onerror="window.__xss = \'img\'">',
    '[a link](javascript:window.__xss=\'link\') and <a href="javascript:window.__xss=\'a\'">raw</a>',
    '![pic](javascript:window.__xss=\'pic\')',
    '<svg onload="window.__xss=\'svg\'"></svg> <iframe src="javascript:window.__xss=\'iframe\'"></iframe>',
  ].join('\n\n'));
  await page.route(chatUrl, dangerous);
  await sendAndWait(page, 'Say something dangerous');
  await page.unroute(chatUrl, dangerous);
  const answer = answers(page).last();
  await answer.locator('a').first().click();
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  const found = await answer.evaluate((root) => {
    const all = [...root.querySelectorAll('*')];
    return {
      tags: all.filter((e) => /^(script|iframe|svg|object|embed|form)$/i.test(e.tagName)).map((e) => e.tagName),
      handlers: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)),
      urls: all.flatMap((e) => ['href', 'src', 'action'].map((n) => e.getAttribute(n) || '')).filter((u) => /^\s*javascript:/i.test(u)),
    };
  });
  assert.deepEqual(found, { tags: [], handlers: [], urls: [] });
  assert.match(await answer.innerText(), /<script>window.__xss = "script"<\/script>/);  // shown as text
  assert.equal(await page.locator('.message.assistant a[href]').count(), 0);
});

await check('a knowledge base grounds the answer: the picker, the request, sources under it, chunk text inert', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('button', { name: 'Conversation settings' }).click();
  const picker = page.getByLabel('Knowledge base');
  assert.equal(await picker.isVisible(), true);
  assert.deepEqual(await picker.locator('option').allInnerTexts(), ['None (the model alone)', 'notes (3 files, 3 passages)']);
  await picker.selectOption('notes');
  await page.getByRole('button', { name: 'Save' }).click();
  await sendAndWait(page, 'When does the keeper light the lamp?');
  assert.deepEqual(requests.at(-1).rag, { kb: 'notes' });
  const answer = page.locator('.message.assistant').last();
  const sources = answer.getByRole('region', { name: 'Sources' }).locator('li');
  assert.equal(await sources.count(), 3);
  const labels = await sources.locator('.citation-source').allInnerTexts();
  assert.ok(labels.some((l) => l.endsWith('lighthouse.md:1-3')), labels.join(', '));
  assert.ok(labels.some((l) => l.includes('<img src=x onerror=window.__xss=1>.md')), labels.join(', '));
  for (const summary of await sources.locator('summary').all()) await summary.click();
  assert.match(await sources.locator('.citation-text').allInnerTexts().then((t) => t.join('\n')), /<script>window.__xss = "kb"<\/script>/);
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await answer.locator('img, script').count(), 0);
  // The choice belongs to the conversation: a new one starts without it.
  await page.getByRole('button', { name: 'New chat' }).click();
  await sendAndWait(page, 'No knowledge base here');
  assert.equal(requests.at(-1).rag, undefined);
  assert.equal(await page.locator('.citations').count(), 0);
});

await check('[n] in a grounded answer links to its numbered source', async () => {
  const citations = [
    { number: 1, source: 'docs/lighthouse.md:1-3', path: '/d/lighthouse.md', page: 0, line_begin: 1, line_end: 3, score: 0.03, text: 'The keeper lights the lamp at dusk.', cited: true },
    { number: 2, source: 'manual.pdf p.4:10-12', path: '/d/manual.pdf', page: 4, line_begin: 10, line_end: 12, score: 0.02, text: 'Page four.', cited: true },
    { number: 3, source: '<img src=x onerror="window.__xss=\'source\'">.md:1-2', path: '/d/x.md', page: 0, line_begin: 1, line_end: 2, score: 0.01, text: '<script>window.__xss="text"</script>', cited: false },
  ];
  await page.getByRole('button', { name: 'New chat' }).click();
  const grounded = scripted('The keeper lights the lamp at dusk [1]. See also [2, 3], but not [7] or `[1]` in code.', citations);
  await page.route(chatUrl, grounded);
  await sendAndWait(page, 'When is the lamp lit?');
  await page.unroute(chatUrl, grounded);
  const answer = page.locator('.message.assistant').last();
  const refs = answer.locator('a.citation-ref');
  assert.deepEqual(await refs.allInnerTexts(), ['1', '2', '3']);
  assert.match(await answer.locator('.content').innerText(), /not \[7\] or \[1\] in code/);
  await refs.nth(1).click();
  const second = answer.locator('.citations li').nth(1);
  assert.equal(await second.evaluate((li) => document.activeElement === li && li.querySelector('details').open), true);
  assert.equal(await page.evaluate(() => window.location.hash), '');
  assert.deepEqual(await answer.locator('.citations li.cited').count(), 2);
  assert.equal(await answer.locator('.citations li').nth(2).locator('.citation-source').innerText(), citations[2].source);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await answer.locator('img, script').count(), 0);
  await page.screenshot({ path: path.join(shots, 'desktop-light-sources.png') });
});

await check('the page works with the keyboard alone', async () => {
  await page.getByRole('button', { name: 'New chat' }).focus();
  await page.keyboard.press('Enter');
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('.message.assistant').length === 1 && document.getElementById('stop-button').hidden);
  await page.getByRole('button', { name: 'Conversation settings' }).focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#settings-dialog').evaluate((d) => d.open), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#settings-dialog').evaluate((d) => d.open), false);
});

assert.deepEqual(problems, [], 'no console errors and no page errors');

await check('screenshots: desktop and phone, light and dark', async () => {
  const code = [
    'Here is a small **Python** function that counts words, with a test:',
    '',
    '```python',
    'from collections import Counter',
    '',
    'def word_counts(text: str) -> dict[str, int]:',
    '    """Counts each word, ignoring case."""',
    '    return dict(Counter(text.lower().split()))',
    '',
    'assert word_counts("a b A") == {"a": 2, "b": 1}',
    '```',
    '',
    '`Counter` does the counting; `lower()` makes *A* and *a* the same word.',
  ].join('\n');
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.screenshot({ path: path.join(shots, 'desktop-light-empty.png') });
  const first = scripted(code);
  const second = scripted('Split on whitespace with `split()`, then count with `Counter`; both come with Python.');
  await page.route(chatUrl, first);
  await sendAndWait(page, 'Write a Python function that counts the words in a text.');
  await page.unroute(chatUrl, first);
  await page.route(chatUrl, second);
  await sendAndWait(page, 'Which modules does it need?');
  await page.unroute(chatUrl, second);
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(shots, 'desktop-light.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(shots, 'desktop-dark.png') });
  await page.getByRole('button', { name: 'Conversation settings' }).click();
  await page.getByLabel('Temperature').fill('0.7');
  await page.getByLabel('System prompt').fill('You are a concise assistant for Python questions.');
  await page.screenshot({ path: path.join(shots, 'desktop-dark-settings.png') });
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);  // the drawer's slide-out
  await page.evaluate(() => {
    document.activeElement.blur();
    const m = document.getElementById('messages');
    m.style.scrollBehavior = 'auto';
    m.scrollTop = m.scrollHeight;
  });
  await page.screenshot({ path: path.join(shots, 'phone-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(shots, 'phone-light.png') });
  await page.getByRole('button', { name: 'Open the conversation list' }).click();
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(shots, 'phone-light-conversations.png') });
  for (const f of ['desktop-light', 'desktop-dark', 'phone-light', 'phone-dark'])
    assert.ok(fs.statSync(path.join(shots, `${f}.png`)).size > 10000);
});

await check('with --api-key the page asks for the key, refuses a wrong one, then chats', async () => {
  const keyed = await serve(['--api-key', 'webui-secret']);
  const browser = await openBrowser();
  const p = browser.page;
  await p.route(chatUrl, capped);
  await p.goto(`${keyed.url}/`);
  const dialog = p.getByRole('dialog', { name: 'API key required' });
  await dialog.waitFor();
  await p.getByRole('textbox', { name: 'API key' }).fill('wrong-key');
  await p.getByRole('button', { name: 'Use this key' }).click();
  await p.waitForFunction(() => document.getElementById('key-dialog').open
    && /not accepted/.test(document.getElementById('key-message').textContent));
  await p.getByRole('textbox', { name: 'API key' }).fill('webui-secret');
  await p.getByRole('button', { name: 'Use this key' }).click();
  await p.waitForFunction((id) => [...document.querySelectorAll('#model-select option')].some((o) => o.value === id), modelId);
  await sendAndWait(p, 'Hello with a key');
  assert.equal(await p.locator('.message.error').count(), 0);
  // This server has no knowledge bases: the settings show no picker.
  await p.getByRole('button', { name: 'Conversation settings' }).click();
  assert.equal(await p.locator('#kb-setting').isHidden(), true);
  await p.keyboard.press('Escape');
  assert.ok((await answers(p).last().innerText()).length > 0);
  // The page's own files needed no key; its API calls did. Two 401s (the models list, twice) are
  // the browser's console errors for the refused requests, and nothing else.
  assert.deepEqual(browser.problems.filter((m) => !/401/.test(m)), []);
});

for (const { context, profile } of contexts) {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} checks passed; screenshots in ${shots}`);
process.exit(0);
