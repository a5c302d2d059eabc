// The message list: one <li> per turn, Markdown for answers and plain text for the user's own
// words, with each turn's actions (copy, edit, regenerate), an answer's token counts and speed,
// and a grounded answer's sources (its [n] linked to them).
import { renderMarkdown } from './markdown.js';

function button(label, action, text) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'message-action';
  b.dataset.action = action;
  b.setAttribute('aria-label', label);
  b.textContent = text;
  return b;
}

// "42 tokens · 118.3 tokens/s · 17 prompt tokens", from the usage the server sent and the time
// between the first and the last piece of the answer.
export function statsText(stats) {
  if (!stats) return '';
  if (stats.stopped) return 'Stopped';
  const parts = [];
  if (stats.completionTokens != null) parts.push(`${stats.completionTokens} token${stats.completionTokens === 1 ? '' : 's'}`);
  if (stats.tokensPerSecond != null) parts.push(`${stats.tokensPerSecond.toFixed(1)} tokens/s`);
  if (stats.promptTokens != null) parts.push(`${stats.promptTokens} prompt tokens`);
  return parts.join(' · ');
}

// The id of citation `number` of message `index`, which its [number] links to.
const citationId = (index, number) => `cite-${index}-${number}`;

// "Sources": the passages a grounded answer was given, numbered as the model saw them; each shows
// its source (path:lines, or path p.N:lines) and, folded, its text. Text only, never HTML: a
// chunk's text is whatever the indexed file held.
function citationList(citations, index) {
  const section = document.createElement('section');
  section.className = 'citations';
  const heading = document.createElement('h4');
  heading.id = `sources-${index}`;
  heading.textContent = 'Sources';
  section.setAttribute('aria-labelledby', heading.id);
  const list = document.createElement('ol');
  for (const c of citations) {
    const item = document.createElement('li');
    item.id = citationId(index, c.number);
    item.value = c.number;
    item.tabIndex = -1;  // a [n] link moves the focus here
    if (c.cited) item.className = 'cited';
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    const source = document.createElement('span');
    source.className = 'citation-source';
    source.textContent = c.source;
    summary.append(source);
    if (c.cited) {
      const mark = document.createElement('span');
      mark.className = 'citation-cited';
      mark.textContent = 'cited';
      summary.append(' ', mark);
    }
    const text = document.createElement('p');
    text.className = 'citation-text';
    text.textContent = c.text;
    details.append(summary, text);
    item.append(details);
    list.append(item);
  }
  section.append(heading, list);
  return section;
}

// Each [n] / [n, m] in the answer's text (outside code) becomes links to those sources; numbers
// no source has stay text. Built as DOM nodes from the text nodes DOMPurify left.
function linkCitations(content, citations, index) {
  const numbers = new Set(citations.map((c) => c.number));
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement.closest('pre, code, a') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) if (/\[\d/.test(node.nodeValue)) nodes.push(node);
  for (const node of nodes) {
    const parts = node.nodeValue.split(/(\[\d+(?:[, ]+\d+)*\])/);
    if (parts.length === 1) continue;
    const fragment = document.createDocumentFragment();
    for (const part of parts) {
      const group = /^\[([\d, ]+)\]$/.exec(part);
      const cited = group ? group[1].split(/[, ]+/).map(Number) : [];
      if (!group || !cited.every((n) => numbers.has(n))) {
        fragment.append(part);
        continue;
      }
      fragment.append('[');
      cited.forEach((n, i) => {
        if (i) fragment.append(', ');
        const link = document.createElement('a');
        link.className = 'citation-ref';
        link.href = `#${citationId(index, n)}`;
        link.textContent = String(n);
        link.setAttribute('aria-label', `source ${n}`);
        fragment.append(link);
      });
      fragment.append(']');
    }
    node.replaceWith(fragment);
  }
}

// The <li> of message `index`; `isLastAnswer` gives an answer its regenerate button.
export function messageItem(message, index, { isLastAnswer, streaming }) {
  const li = document.createElement('li');
  li.className = `message ${message.role}${message.error ? ' error' : ''}`;
  li.dataset.index = String(index);
  const who = document.createElement('h3');
  who.className = 'visually-hidden';
  who.textContent = message.role === 'user' ? 'You said:' : 'The model said:';
  const body = document.createElement('div');
  body.className = 'bubble';
  const content = document.createElement('div');
  content.className = 'content';
  if (message.error) {
    content.setAttribute('role', 'alert');
    const strong = document.createElement('strong');
    strong.textContent = 'The server answered with an error: ';
    content.append(strong, document.createTextNode(message.error));
  } else if (message.role === 'user') {
    content.classList.add('plain');
    content.textContent = message.content;
  } else {
    content.classList.add('markdown');
    renderMarkdown(content, message.content);
    if (streaming) content.classList.add('streaming');
    else if (message.citations && message.citations.length) linkCitations(content, message.citations, index);
  }
  body.append(content);
  if (!streaming && message.citations && message.citations.length) body.append(citationList(message.citations, index));
  const foot = document.createElement('div');
  foot.className = 'message-foot';
  if (message.role === 'assistant' && !streaming) {
    const stats = document.createElement('span');
    stats.className = 'stats';
    stats.textContent = statsText(message.stats);
    foot.append(stats);
  }
  if (!streaming) {
    if (!message.error) foot.append(button('Copy this message', 'copy', 'Copy'));
    if (message.role === 'user') foot.append(button('Edit this message and send it again', 'edit', 'Edit'));
    if (isLastAnswer) foot.append(button('Regenerate this answer', 'regenerate', 'Regenerate'));
  }
  body.append(foot);
  li.append(who, body);
  return li;
}

// An editor in place of a user message: Save & send replaces it and what followed.
export function editorItem(message, index) {
  const li = document.createElement('li');
  li.className = 'message user editing';
  li.dataset.index = String(index);
  const form = document.createElement('form');
  form.className = 'bubble edit-form';
  const label = document.createElement('label');
  label.className = 'visually-hidden';
  label.htmlFor = `edit-${index}`;
  label.textContent = 'Edit your message';
  const area = document.createElement('textarea');
  area.id = `edit-${index}`;
  area.value = message.content;
  area.rows = Math.min(12, Math.max(2, message.content.split('\n').length));
  const actions = document.createElement('div');
  actions.className = 'message-foot';
  const cancel = button('Cancel editing', 'cancel-edit', 'Cancel');
  const save = document.createElement('button');
  save.type = 'submit';
  save.className = 'primary small';
  save.textContent = 'Save & send';
  actions.append(cancel, save);
  form.append(label, area, actions);
  li.append(form);
  return li;
}
