// Shared helpers for every page. Message text only ever reaches the page through
// textContent / createTextNode, never innerHTML, so markup in a message shows as text.
"use strict";

const Q = {
  el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  },

  // Text with [start, end) spans wrapped in <mark>, built from text nodes.
  highlighted(text, spans) {
    const frag = document.createDocumentFragment();
    const sorted = [...(spans || [])].sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [s, e] of sorted) {
      if (s < pos) continue;
      if (s > pos) frag.append(document.createTextNode(text.slice(pos, s)));
      frag.append(Q.el("mark", { text: text.slice(s, e) }));
      pos = e;
    }
    if (pos < text.length) frag.append(document.createTextNode(text.slice(pos)));
    return frag;
  },

  // fetch JSON; a failed request throws an Error whose message is the server's "detail".
  async api(url, options = {}) {
    const response = await fetch(url, options);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText;
      throw new Error(detail);
    }
    return body;
  },

  showError(box, err) { box.textContent = err ? String(err.message || err) : ""; },

  // A score in [0, 1] as a chip coloured from red (0) through yellow to green (1).
  scoreColour(p) { return `hsl(${Math.round(Math.max(0, Math.min(1, p)) * 120)}, 75%, 82%)`; },
  scoreChip(p) {
    const chip = Q.el("span", { class: "score", text: p.toFixed(2), "data-score": String(p) });
    chip.style.background = Q.scoreColour(p);
    return chip;
  },

  // format(value) -> the text above a bar (default: two decimals).
  barChart(container, labels, values, format = (v) => v.toFixed(2)) {
    container.replaceChildren();
    const bars = Q.el("div", { class: "bars" });
    const names = Q.el("div", { class: "bar-labels" });
    const max = Math.max(...values, 1e-9);
    labels.forEach((label, i) => {
      const fill = Q.el("div", { class: "fill" });
      fill.style.height = `${Math.round((values[i] / max) * 100)}%`;
      bars.append(Q.el("div", { class: "bar", "data-bin": label }, [Q.el("div", { class: "value", text: format(values[i]) }), fill]));
      names.append(Q.el("span", { text: label }));
    });
    container.append(bars, names);
  },

  async nav() {
    const header = document.querySelector("header nav");
    if (!header) return;
    try {
      for (const page of await Q.api("/api/pages")) {
        const a = Q.el("a", { href: page.url, text: page.title });
        if (location.pathname === page.url) a.className = "active";
        header.append(a);
      }
      header.append(Q.el("a", { href: "/docs", text: "API" }));
    } catch (_) { /* the page still works without navigation */ }
  },
};

document.addEventListener("DOMContentLoaded", () => Q.nav());
