// Time-series charts drawn as inline SVG from /api/v1/stats answers.
import {h, s} from './dom.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563', '#65a30d', '#9333ea'];
const ACTION_COLORS = {allow: '#16a34a', flag: '#d97706', reject: '#dc2626', throttle: '#7c3aed', drop: '#4b5563', quarantine: '#db2777'};

export function colorFor(key, i) {
  return ACTION_COLORS[key] || COLORS[i % COLORS.length];
}

// parseStep reads Go's Duration.String() ("1m0s", "1h0m0s", "30s").
export function parseStep(str) {
  let ms = 0;
  for (const [, n, u] of String(str).matchAll(/([\d.]+)(h|m|s)/g)) {
    ms += parseFloat(n) * {h: 3600e3, m: 60e3, s: 1e3}[u];
  }
  return ms || 60e3;
}

// grid returns the bucket start times (ms) covering [from, to).
function grid(from, to, step) {
  const out = [];
  for (let t = Math.floor(from / step) * step; t < to; t += step) out.push(t);
  return out;
}

// lineChart draws one line per series over time; stats is the API answer.
export function lineChart(stats, {width = 600, height = 200, title = ''} = {}) {
  const step = parseStep(stats.step);
  const from = Date.parse(stats.from);
  const to = Date.parse(stats.to);
  const ts = grid(from, to, step);
  const series = (stats.series || []).map((sr, i) => {
    const byT = new Map();
    for (const p of sr.points || []) {
      const k = Math.floor(Date.parse(p.t) / step) * step;
      byT.set(k, (byT.get(k) || 0) + p.n);
    }
    return {key: sr.key || '(none)', color: colorFor(sr.key, i), values: ts.map((t) => byT.get(t) || 0)};
  });
  const max = Math.max(1, ...series.flatMap((sr) => sr.values));
  const pad = {l: 40, r: 10, t: 10, b: 22};
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const x = (i) => pad.l + (ts.length <= 1 ? 0 : (i * w) / (ts.length - 1));
  const y = (v) => pad.t + hgt - (v * hgt) / max;

  const svg = s('svg', {class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title});
  // Axes and grid lines at 0, max/2, max.
  for (const v of [0, max / 2, max]) {
    svg.append(s('line', {x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: 'gridline'}));
    svg.append(s('text', {x: pad.l - 4, y: y(v) + 4, class: 'axis', 'text-anchor': 'end'}, fmtN(v)));
  }
  const labels = Math.min(6, ts.length);
  for (let j = 0; j < labels; j++) {
    const i = labels <= 1 ? 0 : Math.round((j * (ts.length - 1)) / (labels - 1));
    svg.append(s('text', {x: x(i), y: height - 6, class: 'axis', 'text-anchor': j === 0 ? 'start' : j === labels - 1 ? 'end' : 'middle'}, fmtTick(ts[i], to - from)));
  }
  for (const sr of series) {
    const pts = sr.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const line = s('polyline', {points: pts, fill: 'none', stroke: sr.color, 'stroke-width': 1.5, class: 'series'});
    line.append(s('title', {}, `${sr.key}: ${sr.values.reduce((a, b) => a + b, 0)}`));
    svg.append(line);
  }
  const legend = h('div', {class: 'legend'},
    series.length === 0 ? h('span', {class: 'muted'}, 'no events in this range') : null,
    series.map((sr) => h('span', {class: 'key'}, swatch(sr.color), sr.key)));
  return h('figure', {class: 'chartbox'}, h('figcaption', {}, title), svg, legend);
}

// swatch is a legend colour box: an SVG rect, since the CSP forbids inline
// style attributes.
function swatch(color) {
  return s('svg', {width: 10, height: 10, class: 'swatch'}, s('rect', {width: 10, height: 10, fill: color}));
}

// totals sums each series of a stats answer, largest first.
export function totals(stats) {
  return (stats.series || [])
    .map((sr) => ({key: sr.key || '(none)', n: (sr.points || []).reduce((a, p) => a + p.n, 0)}))
    .sort((a, b) => b.n - a.n);
}

// barList draws totals as horizontal bars (SVG), one row per key.
export function barList(rows, {width = 280, title = '', link} = {}) {
  const max = Math.max(1, ...rows.map((r) => r.n));
  const sum = rows.reduce((a, r) => a + r.n, 0);
  const body = rows.length === 0 ? [h('p', {class: 'muted'}, 'none')] : rows.slice(0, 12).map((r, i) =>
    h('div', {class: 'barrow'},
      link ? h('a', {href: link(r.key), class: 'barkey', title: r.key}, r.key) : h('span', {class: 'barkey', title: r.key}, r.key),
      s('svg', {width: width * 0.5, height: 12, class: 'bar'},
        s('rect', {x: 0, y: 1, height: 10, width: Math.max(1, (r.n * width * 0.5) / max), fill: colorFor(r.key, i)})),
      h('span', {class: 'num'}, fmtN(r.n))));
  return h('section', {class: 'card'}, h('h3', {}, title, h('span', {class: 'muted'}, ` ${fmtN(sum)}`)), body);
}

function fmtN(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  return String(Math.round(v));
}

function fmtTick(t, span) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return span > 36 * 3600e3 ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
}
