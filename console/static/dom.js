// DOM helpers. Message text, senders and every other value from the API are
// hostile input: they only ever reach the page as text nodes (textContent)
// or attribute values set through the DOM, never as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h builds an element: h('td', {class: 'x', onclick: fn}, 'text', child, ...).
// Strings and numbers become text nodes; null/undefined/false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

// s builds an SVG element the same way.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = !!v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties an element and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// marked returns nodes showing text with every occurrence of needle (case
// insensitive) wrapped in <mark>, all as text nodes.
export function marked(text, needle) {
  text = text || '';
  if (!needle) return [document.createTextNode(text)];
  let hay = text.toLowerCase();
  let pin = needle.toLowerCase();
  // Lower-casing can change lengths (e.g. U+0130); then match exactly, so
  // the offsets stay true.
  if (hay.length !== text.length || pin.length !== needle.length) {
    hay = text;
    pin = needle;
  }
  const out = [];
  let at = 0;
  for (;;) {
    const i = hay.indexOf(pin, at);
    if (i < 0 || pin.length === 0) break;
    if (i > at) out.push(document.createTextNode(text.slice(at, i)));
    out.push(h('mark', {class: 'hl'}, text.slice(i, i + pin.length)));
    at = i + pin.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

// fmtTime shows an API time in local time, to the second.
export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// fpHex returns the API's fingerprint (hex, as the filters take it), or ''
// for none or anything that is not one.
export function fpHex(fp) {
  return typeof fp === 'string' && /^[0-9a-f]{1,16}$/.test(fp) && fp !== '0' ? fp : '';
}

export function truncate(str, n) {
  str = str || '';
  return str.length > n ? str.slice(0, n - 1) + '…' : str;
}

export function badge(action) {
  return h('span', {class: 'badge a-' + String(action || 'none').replace(/[^a-z_]/g, '')}, action || '—');
}
