// The chat page's wiring: conversations in the sidebar, the current one's messages, sending and
// streaming an answer (stop, regenerate, edit and resend), per-conversation settings, model and
// knowledge base, themes, import/export, and the API key prompt when the server answers 401.
import { ApiError, chatRequest, listKnowledgeBases, listModels, setApiKey, streamChat } from './api.js';
import {
  ConversationStore, createConversation, defaultSettings, exportConversation, importConversation, titleFrom,
} from './conversations.js';
import { copyText, renderMarkdown } from './markdown.js';
import { editorItem, messageItem, statsText } from './messages.js';

const $ = (id) => document.getElementById(id);
const ui = {
  app: $('app'), sidebar: $('sidebar'), scrim: $('scrim'), list: $('conversation-list'), title: $('title'),
  model: $('model-select'), messages: $('messages'), messageList: $('message-list'), empty: $('empty'),
  emptyModel: $('empty-model'), composer: $('composer'), prompt: $('prompt'), send: $('send-button'),
  stop: $('stop-button'), status: $('status'), theme: $('theme-button'), themeLabel: $('theme-label'),
  settingsDialog: $('settings-dialog'), settingsForm: $('settings-form'), keyDialog: $('key-dialog'),
  keyInput: $('key-input'), keyMessage: $('key-message'), renameDialog: $('rename-dialog'),
  renameInput: $('rename-input'), importFile: $('import-file'), kbSetting: $('kb-setting'), kb: $('set-kb'),
};

const store = new ConversationStore();
const state = {
  current: null,        // the conversation shown
  models: [],           // [{id, adapter}]
  knowledgeBases: [],   // [{name, chunks, sources}]: the server's --rag
  streaming: null,      // {controller, message, element} while an answer streams
  editing: -1,          // index of the user message being edited
  afterKey: null,       // what to retry once an API key is entered
};

// ---- themes: the system's, or light or dark chosen here ----
const themes = ['system', 'light', 'dark'];
function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const name = { system: 'System theme', light: 'Light theme', dark: 'Dark theme' }[theme];
  ui.themeLabel.textContent = name;
  ui.theme.setAttribute('aria-label', `${name} (change theme)`);
}
let theme = localStorage.getItem('slm.theme') || 'system';
applyTheme(theme);
ui.theme.addEventListener('click', () => {
  theme = themes[(themes.indexOf(theme) + 1) % themes.length];
  localStorage.setItem('slm.theme', theme);
  applyTheme(theme);
});

function announce(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', isError);
}

// ---- the sidebar ----
function renderList() {
  ui.list.replaceChildren();
  for (const c of store.list()) {
    const li = document.createElement('li');
    li.className = 'conversation';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'conversation-open';
    open.dataset.id = c.id;
    open.textContent = c.title;
    if (state.current && c.id === state.current.id) open.setAttribute('aria-current', 'page');
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'icon-button small';
    rename.dataset.rename = c.id;
    rename.setAttribute('aria-label', `Rename “${c.title}”`);
    rename.innerHTML = '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 20h4L19 9l-4-4L4 16z"/></svg>';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'icon-button small';
    remove.dataset.remove = c.id;
    remove.setAttribute('aria-label', `Delete “${c.title}”`);
    remove.innerHTML = '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"/></svg>';
    li.append(open, rename, remove);
    ui.list.append(li);
  }
}

const phone = window.matchMedia('(max-width: 760px)');
function setSidebarOpen(open) {
  ui.app.classList.toggle('sidebar-open', open);
  ui.scrim.hidden = !open;
  $('open-sidebar').setAttribute('aria-expanded', String(open));
  // On a phone the closed drawer is off screen: keep it out of the tab order too.
  ui.sidebar.inert = phone.matches && !open;
  if (open) $('new-chat').focus();
}
phone.addEventListener('change', () => setSidebarOpen(false));
$('open-sidebar').addEventListener('click', () => setSidebarOpen(true));
$('close-sidebar').addEventListener('click', () => { setSidebarOpen(false); $('open-sidebar').focus(); });
ui.scrim.addEventListener('click', () => setSidebarOpen(false));

ui.list.addEventListener('click', (event) => {
  const target = event.target.closest('button');
  if (!target) return;
  if (target.dataset.id) {
    openConversation(store.get(target.dataset.id));
    setSidebarOpen(false);
    ui.prompt.focus();
  } else if (target.dataset.rename) {
    const c = store.get(target.dataset.rename);
    ui.renameDialog.dataset.id = c.id;
    ui.renameInput.value = c.title;
    ui.renameDialog.showModal();
  } else if (target.dataset.remove) {
    const c = store.get(target.dataset.remove);
    if (!window.confirm(`Delete “${c.title}”? This cannot be undone.`)) return;
    if (state.streaming && state.current.id === c.id) state.streaming.controller.abort();
    store.remove(c.id);
    if (state.current.id === c.id) openConversation(store.list()[0] || null);
    else renderList();
    announce(`Deleted “${c.title}”.`);
  }
});
$('rename-cancel').addEventListener('click', () => ui.renameDialog.close());
ui.renameDialog.addEventListener('close', () => {
  if (ui.renameDialog.returnValue !== 'save') return;
  ui.renameDialog.returnValue = '';
  const c = store.get(ui.renameDialog.dataset.id);
  const title = ui.renameInput.value.trim();
  if (!c || !title) return;
  c.title = title;
  store.save(c);
  if (state.current.id === c.id) state.current.title = title;
  renderList();
  renderHeader();
});

// ---- the current conversation ----
function openConversation(conversation) {
  if (state.streaming) state.streaming.controller.abort();
  state.current = conversation || createConversation(state.models[0] ? state.models[0].id : '');
  state.editing = -1;
  renderList();
  renderHeader();
  renderMessages();
}

function renderHeader() {
  ui.title.textContent = state.current.title;
  document.title = state.current.messages.length ? `${state.current.title} · slm chat` : 'slm chat';
  renderModels();
}

function renderModels() {
  ui.model.replaceChildren();
  const ids = state.models.map((m) => m.id);
  if (state.current.model && !ids.includes(state.current.model)) ids.push(state.current.model);
  for (const id of ids) {
    const m = state.models.find((x) => x.id === id);
    const option = document.createElement('option');
    option.value = id;
    option.textContent = !m ? `${id} (not served)` : m.adapter ? `${id} (adapter)` : id;
    ui.model.append(option);
  }
  if (!state.current.model && state.models[0]) state.current.model = state.models[0].id;
  ui.model.value = state.current.model;
  ui.emptyModel.textContent = state.current.model || 'the served model';
}

ui.model.addEventListener('change', () => {
  state.current.model = ui.model.value;
  if (state.current.messages.length) store.save(state.current);
  ui.emptyModel.textContent = state.current.model;
});

function renderMessages() {
  const messages = state.current.messages;
  ui.empty.hidden = messages.length > 0;
  ui.messageList.replaceChildren();
  let lastAnswer = -1;
  messages.forEach((m, i) => { if (m.role === 'assistant') lastAnswer = i; });
  messages.forEach((m, i) => {
    const streaming = state.streaming && state.streaming.message === m;
    const item = i === state.editing ? editorItem(m, i)
      : messageItem(m, i, { isLastAnswer: i === lastAnswer && i === messages.length - 1 && !state.streaming, streaming });
    if (streaming) state.streaming.element = item.querySelector('.content');
    ui.messageList.append(item);
  });
  scrollToEnd(true);
}

function scrollToEnd(force) {
  const m = ui.messages;
  if (force || m.scrollHeight - m.scrollTop - m.clientHeight < 120) m.scrollTop = m.scrollHeight;
}

function setBusy(busy) {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.messageList.setAttribute('aria-busy', String(busy));
  ui.model.disabled = busy;
}

// ---- sending, streaming, stopping ----
async function generate() {
  const conversation = state.current;
  const history = conversation.messages.filter((m) => !m.error);
  const request = chatRequest(conversation.model, conversation.settings, history);
  const answer = { role: 'assistant', content: '' };
  conversation.messages.push(answer);
  const controller = new AbortController();
  state.streaming = { controller, message: answer, element: null };
  setBusy(true);
  renderMessages();
  announce('Generating an answer…');
  let frame = 0;
  const paint = () => {
    frame = 0;
    if (state.streaming && state.streaming.element) renderMarkdown(state.streaming.element, answer.content);
    scrollToEnd(false);
  };
  try {
    const result = await streamChat(request, {
      signal: controller.signal,
      onText: (text) => {
        answer.content += text;
        if (!frame) frame = requestAnimationFrame(paint);
      },
    });
    answer.stats = statsFrom(result);
    if (result.citations) answer.citations = result.citations;
    announce(result.stopped ? 'Stopped.' : `Answer finished: ${statsText(answer.stats)}.`);
  } catch (e) {
    if (e.name === 'AbortError') {
      answer.stats = { stopped: true };
      announce('Stopped.');
    } else {
      conversation.messages.pop();
      if (e instanceof ApiError && e.status === 401) {
        askForKey(e.message, () => generate());
      } else {
        conversation.messages.push({ role: 'assistant', content: '', error: e.message });
        announce(`Error: ${e.message}`, true);
      }
    }
  } finally {
    if (frame) cancelAnimationFrame(frame);
    state.streaming = null;
    setBusy(false);
    if (state.current === conversation) renderMessages();
    if (store.get(conversation.id)) store.save(conversation);  // not when it was deleted meanwhile
    renderList();
  }
}

function statsFrom(result) {
  if (result.stopped) return { stopped: true };
  const usage = result.usage || {};
  const stats = { completionTokens: usage.completion_tokens ?? null, promptTokens: usage.prompt_tokens ?? null, tokensPerSecond: null };
  if (result.timings && result.timings.predicted_per_second > 0) {
    stats.tokensPerSecond = result.timings.predicted_per_second;  // the server's decoding speed
  } else if (result.reads > 1) {
    // Measured here, from the first piece to the end (the prompt's time is before it). An answer
    // that arrived in one read (a proxy buffering the stream) has no speed to tell.
    const decodeMs = result.elapsedMs - (result.firstTokenMs ?? 0);
    if (stats.completionTokens > 1 && decodeMs > 0) stats.tokensPerSecond = (stats.completionTokens - 1) / (decodeMs / 1000);
  }
  return stats;
}

function send(text) {
  if (!text.trim() || state.streaming) return;
  const c = state.current;
  if (!c.model && state.models[0]) c.model = state.models[0].id;
  if (c.messages.filter((m) => m.role === 'user').length === 0 && c.title === 'New chat') c.title = titleFrom(text);
  // A failed turn is dropped when the next one is sent: it is not part of the conversation.
  c.messages = c.messages.filter((m) => !m.error);
  c.messages.push({ role: 'user', content: text });
  store.save(c);
  renderList();
  renderHeader();
  generate();
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.prompt.value;
  if (!text.trim() || state.streaming) return;
  ui.prompt.value = '';
  autosize();
  send(text);
});
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  } else if (event.key === 'Escape' && state.streaming) {
    state.streaming.controller.abort();
  }
});
function autosize() {
  ui.prompt.style.height = 'auto';
  ui.prompt.style.height = `${Math.min(ui.prompt.scrollHeight, 240)}px`;
}
ui.prompt.addEventListener('input', autosize);
ui.stop.addEventListener('click', () => {
  if (state.streaming) state.streaming.controller.abort();
  ui.prompt.focus();
});

// ---- per-message actions: copy, edit and resend, regenerate, copy code ----
ui.messageList.addEventListener('click', async (event) => {
  const ref = event.target.closest('a.citation-ref');
  if (ref) {  // [n]: show that source, without touching the address
    event.preventDefault();
    const item = document.getElementById(ref.getAttribute('href').slice(1));
    if (!item) return;
    item.querySelector('details').open = true;
    item.scrollIntoView({ block: 'nearest' });
    item.focus({ preventScroll: true });
    return;
  }
  const target = event.target.closest('button');
  if (!target) return;
  const item = target.closest('li.message');
  const index = item ? Number(item.dataset.index) : -1;
  const message = state.current.messages[index];
  if (target.classList.contains('copy-code')) {
    await copyText(target.closest('.code-block').querySelector('code').textContent);
    flash(target, 'Copied');
  } else if (target.dataset.action === 'copy') {
    await copyText(message.content);
    flash(target, 'Copied');
  } else if (target.dataset.action === 'regenerate' && !state.streaming) {
    state.current.messages.splice(index, 1);
    generate();
  } else if (target.dataset.action === 'edit' && !state.streaming) {
    state.editing = index;
    renderMessages();
    const area = ui.messageList.querySelector('.editing textarea');
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  } else if (target.dataset.action === 'cancel-edit') {
    state.editing = -1;
    renderMessages();
  }
});
ui.messageList.addEventListener('submit', (event) => {
  event.preventDefault();
  const index = state.editing;
  const text = event.target.querySelector('textarea').value;
  if (index < 0 || !text.trim() || state.streaming) return;
  state.editing = -1;
  state.current.messages = state.current.messages.slice(0, index);
  send(text);
});
ui.messageList.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && state.editing >= 0) {
    state.editing = -1;
    renderMessages();
    ui.prompt.focus();
  }
});
function flash(buttonElement, text) {
  const before = buttonElement.textContent;
  buttonElement.textContent = text;
  setTimeout(() => { buttonElement.textContent = before; }, 1500);
}

// ---- new chat, settings, export, import ----
$('new-chat').addEventListener('click', () => {
  openConversation(null);
  setSidebarOpen(false);
  ui.prompt.focus();
});

$('settings-button').addEventListener('click', () => {
  renderKnowledgeBases();
  for (const key of Object.keys(defaultSettings)) {
    const field = ui.settingsForm.elements.namedItem(key);
    if (field) field.value = state.current.settings[key] ?? '';
  }
  ui.settingsDialog.showModal();
});

// The knowledge-base picker: "None" and the server's KBs (and the conversation's own, should the
// server no longer have it); hidden when neither exists.
function renderKnowledgeBases() {
  const chosen = state.current.settings.kb || '';
  const none = document.createElement('option');
  none.value = '';
  none.textContent = 'None (the model alone)';
  const options = [none];
  const names = state.knowledgeBases.map((kb) => kb.name);
  if (chosen && !names.includes(chosen)) names.push(chosen);
  for (const name of names) {
    const kb = state.knowledgeBases.find((k) => k.name === name);
    const option = document.createElement('option');
    option.value = name;
    option.textContent = kb ? `${name} (${kb.sources} files, ${kb.chunks} passages)` : `${name} (not served)`;
    options.push(option);
  }
  ui.kb.replaceChildren(...options);
  ui.kbSetting.hidden = names.length === 0;
}
$('settings-reset').addEventListener('click', () => {
  for (const key of Object.keys(defaultSettings)) ui.settingsForm.elements.namedItem(key).value = '';
});
ui.settingsDialog.addEventListener('close', () => {
  if (ui.settingsDialog.returnValue !== 'save') return;
  ui.settingsDialog.returnValue = '';
  for (const key of Object.keys(defaultSettings)) state.current.settings[key] = ui.settingsForm.elements.namedItem(key).value;
  if (state.current.messages.length) store.save(state.current);
  announce('Settings saved for this conversation.');
});

$('export-button').addEventListener('click', () => {
  const json = JSON.stringify(exportConversation(state.current), null, 2);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([`${json}\n`], { type: 'application/json' }));
  link.download = `${state.current.title.replace(/[^\w -]+/g, '').trim().replace(/\s+/g, '-') || 'chat'}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});

$('import-button').addEventListener('click', () => ui.importFile.click());
ui.importFile.addEventListener('change', async () => {
  const file = ui.importFile.files[0];
  ui.importFile.value = '';
  if (!file) return;
  try {
    const conversation = importConversation(await file.text());
    store.save(conversation);
    openConversation(conversation);
    announce(`Imported “${conversation.title}”.`);
  } catch (e) {
    announce(`Cannot import ${file.name}: ${e.message}`, true);
  }
});

// ---- the API key ----
function askForKey(message, retry) {
  state.afterKey = retry;
  ui.keyMessage.textContent = /incorrect/i.test(message)
    ? 'That key was not accepted. Enter the key this server was started with.'
    : 'This server was started with an API key. Enter it to chat; it is kept in this browser only.';
  ui.keyInput.value = '';
  announce('The server needs an API key.', true);
  if (!ui.keyDialog.open) ui.keyDialog.showModal();
}
ui.keyDialog.addEventListener('close', () => {
  if (ui.keyDialog.returnValue !== 'save') return;
  ui.keyDialog.returnValue = '';
  setApiKey(ui.keyInput.value.trim());
  announce('');
  const retry = state.afterKey;
  state.afterKey = null;
  if (retry) retry();
});

async function loadModels() {
  try {
    state.models = await listModels();
    renderModels();
    state.knowledgeBases = await listKnowledgeBases();
    renderKnowledgeBases();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) askForKey(e.message, loadModels);
    else announce(`Cannot list the models: ${e.message}`, true);
  }
}

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && ui.app.classList.contains('sidebar-open')) {
    setSidebarOpen(false);
    $('open-sidebar').focus();
  }
});

setSidebarOpen(false);
openConversation(store.list()[0] || null);
loadModels();
