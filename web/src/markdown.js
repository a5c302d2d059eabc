// Model answers as Markdown: marked parses, raw HTML in the text is shown as text, DOMPurify
// sanitises what marked made (no script, no event handlers, no javascript: links), and code blocks
// are highlighted (highlight.js, a few common languages) and get a copy button.
import { Marked } from './vendor/marked.esm.js';
import DOMPurify from './vendor/purify.es.mjs';
import hljs from './vendor/highlight/core.min.js';
import bash from './vendor/highlight/languages/bash.min.js';
import c from './vendor/highlight/languages/c.min.js';
import cpp from './vendor/highlight/languages/cpp.min.js';
import css from './vendor/highlight/languages/css.min.js';
import diff from './vendor/highlight/languages/diff.min.js';
import go from './vendor/highlight/languages/go.min.js';
import java from './vendor/highlight/languages/java.min.js';
import javascript from './vendor/highlight/languages/javascript.min.js';
import json from './vendor/highlight/languages/json.min.js';
import markdown from './vendor/highlight/languages/markdown.min.js';
import plaintext from './vendor/highlight/languages/plaintext.min.js';
import python from './vendor/highlight/languages/python.min.js';
import rust from './vendor/highlight/languages/rust.min.js';
import shell from './vendor/highlight/languages/shell.min.js';
import sql from './vendor/highlight/languages/sql.min.js';
import typescript from './vendor/highlight/languages/typescript.min.js';
import xml from './vendor/highlight/languages/xml.min.js';
import yaml from './vendor/highlight/languages/yaml.min.js';

const languages = { bash, c, cpp, css, diff, go, java, javascript, json, markdown, plaintext, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, grammar] of Object.entries(languages)) hljs.registerLanguage(name, grammar);

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));
}

const marked = new Marked({
  gfm: true,
  breaks: true,  // a model's single newlines are meant as line breaks
  renderer: {
    // HTML the model writes is shown, not interpreted.
    html({ text }) {
      return escapeHtml(text);
    },
  },
});

// Links open in a new tab without giving it this page; only http(s), mailto and in-page links stay.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    const href = node.getAttribute('href') || '';
    if (!/^(https?:|mailto:|#)/i.test(href)) node.removeAttribute('href');
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const purifyConfig = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'svg', 'math'],
  FORBID_ATTR: ['style', 'id', 'class'],
};

// A code block with its language, a copy button and highlighted text.
function decorateCode(pre) {
  const code = pre.querySelector('code');
  if (!code) return;
  const match = /language-([\w+-]+)/.exec(code.className || pre.dataset.lang || '');
  const lang = match ? match[1].toLowerCase() : '';
  const block = document.createElement('div');
  block.className = 'code-block';
  const head = document.createElement('div');
  head.className = 'code-head';
  const label = document.createElement('span');
  label.textContent = lang || 'text';
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'copy-code';
  copy.textContent = 'Copy';
  copy.setAttribute('aria-label', `Copy ${lang || 'code'} to the clipboard`);
  head.append(label, copy);
  pre.replaceWith(block);
  block.append(head, pre);
  if (lang && hljs.getLanguage(lang)) {
    // highlight() escapes the text it is given: its output holds only its own <span class> tags.
    code.innerHTML = hljs.highlight(code.textContent, { language: lang, ignoreIllegals: true }).value;
    code.classList.add('hljs');
  }
}

// Renders `text` into `container`, replacing what was there.
export function renderMarkdown(container, text) {
  const html = marked.parse(text);
  // marked's classes (language-x) are kept on <code> before the sanitiser drops class attributes.
  const withLang = html.replace(/<pre><code class="language-([\w+-]+)">/g, '<pre data-lang="language-$1"><code>');
  const fragment = DOMPurify.sanitize(withLang, purifyConfig);
  for (const pre of fragment.querySelectorAll('pre')) {
    const lang = pre.getAttribute('data-lang');
    pre.removeAttribute('data-lang');
    const code = pre.querySelector('code');
    if (code && lang) code.className = lang;
    decorateCode(pre);
  }
  container.replaceChildren(fragment);
}

export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on another address than localhost has no Clipboard API: the older way still works.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}
