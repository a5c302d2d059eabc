// Conversations kept in this browser (localStorage), and their export/import as JSON in the shape
// `slm chat` writes with /save: {"messages": [{"role", "content"}, …]}, a system prompt first.

const storageKey = 'slm.conversations';

export const defaultSettings = Object.freeze({
  system: '', temperature: '', top_p: '', top_k: '', min_p: '', max_tokens: '', seed: '', kb: '',
});

function newId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function createConversation(model = '') {
  const now = Date.now();
  return { id: newId(), title: 'New chat', created: now, updated: now, model, settings: { ...defaultSettings }, messages: [] };
}

// A title from the first user message: its first line, shortened at a word.
export function titleFrom(text) {
  const line = text.trim().split('\n')[0].replace(/\s+/g, ' ');
  if (line.length <= 48) return line || 'New chat';
  const cut = line.slice(0, 48);
  const space = cut.lastIndexOf(' ');
  return `${space > 24 ? cut.slice(0, space) : cut}…`;
}

export class ConversationStore {
  constructor(storage = window.localStorage) {
    this.storage = storage;
    this.items = this.#read();
  }

  #read() {
    try {
      const parsed = JSON.parse(this.storage.getItem(storageKey) || '[]');
      return Array.isArray(parsed) ? parsed.filter((c) => c && c.id && Array.isArray(c.messages)) : [];
    } catch {
      return [];  // unreadable storage starts empty rather than breaking the page
    }
  }

  // Newest first, as the list shows them.
  list() {
    return [...this.items].sort((a, b) => b.updated - a.updated);
  }

  get(id) {
    return this.items.find((c) => c.id === id) || null;
  }

  save(conversation) {
    conversation.updated = Date.now();
    const at = this.items.findIndex((c) => c.id === conversation.id);
    if (at >= 0) this.items[at] = conversation; else this.items.push(conversation);
    this.#write();
  }

  remove(id) {
    this.items = this.items.filter((c) => c.id !== id);
    this.#write();
  }

  #write() {
    // Empty conversations are not kept: "New chat" alone leaves nothing behind.
    const kept = this.items.filter((c) => c.messages.length > 0);
    this.storage.setItem(storageKey, JSON.stringify(kept));
  }
}

// The JSON `slm chat /load` reads back; title, model and settings ride along for this page.
export function exportConversation(conversation) {
  const messages = [];
  if (conversation.settings.system) messages.push({ role: 'system', content: conversation.settings.system });
  for (const m of conversation.messages) {
    if (m.role === 'user' || (m.role === 'assistant' && !m.error)) messages.push({ role: m.role, content: m.content });
  }
  const { system, ...sampling } = conversation.settings;
  return { messages, title: conversation.title, model: conversation.model, settings: sampling };
}

// Reads what exportConversation or `slm chat /save` wrote (an object with messages, or the array).
export function importConversation(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${e.message})`);
  }
  const messages = Array.isArray(parsed) ? parsed : parsed && parsed.messages;
  if (!Array.isArray(messages)) throw new Error('expected {"messages": [...]} as `slm chat /save` writes');
  const conversation = createConversation(typeof parsed.model === 'string' ? parsed.model : '');
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string')
      throw new Error(`messages[${i}] needs a string role and content`);
    if (m.role === 'system' && i === 0) conversation.settings.system = m.content;
    else if (m.role === 'user' || m.role === 'assistant') conversation.messages.push({ role: m.role, content: m.content });
  });
  if (conversation.messages.length === 0) throw new Error('the file holds no user or assistant messages');
  if (parsed.settings && typeof parsed.settings === 'object') {
    for (const key of Object.keys(defaultSettings)) {
      if (key !== 'system' && key in parsed.settings) conversation.settings[key] = String(parsed.settings[key] ?? '');
    }
  }
  const firstUser = conversation.messages.find((m) => m.role === 'user');
  conversation.title = typeof parsed.title === 'string' && parsed.title ? parsed.title
    : titleFrom(firstUser ? firstUser.content : 'Imported chat');
  return conversation;
}
