// smsfw console: a hash-routed single page over the review API.
// No framework and no build step: plain modules served from the binary.
import {h, replace} from './dom.js';
import * as pages from './pages.js';

const routes = {
  '': pages.dashboard,
  dashboard: pages.dashboard,
  events: pages.events,
  event: pages.eventDetail,
  campaigns: pages.campaigns,
  quarantine: pages.quarantine,
  overrides: pages.overrides,
  leakage: pages.leakage,
  bans: pages.bans,
  peers: pages.peers,
  inbound: pages.inbound,
  audit: pages.audit,
};

let timers = [];

// ctx is what a page gets: its parameters and a few services.
function makeCtx(arg, params) {
  return {
    arg,
    params,
    // every runs fn periodically while the page is shown.
    every(ms, fn) {
      timers.push(setInterval(fn, ms));
    },
  };
}

async function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?', 2);
  const [name, arg] = path.split('/', 2);
  const page = routes[name] || pages.notFound;
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.route === (name || 'dashboard') || (name === 'event' && a.dataset.route === 'events'));
  }
  const main = document.getElementById('app');
  replace(main, h('p', {class: 'muted'}, 'Loading…'));
  try {
    await page(main, makeCtx(arg ? decodeURIComponent(arg) : '', new URLSearchParams(query || '')));
  } catch (err) {
    replace(main, h('div', {class: 'error', role: 'alert'}, String(err.message || err)));
  }
}

window.addEventListener('hashchange', route);
route();
