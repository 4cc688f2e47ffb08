"use strict";
// The propagation graph page: cytoscape (from npm, served at /vendor) draws the graph on a
// canvas, so labels never become HTML; side panels and the tooltip use textContent only.
const KNOWN_COLOURS = { left: "#2f6fde", right: "#d64541", neutral: "#8a94a6", unknown: "#c3c9d3" };
const PALETTE = ["#2a9d8f", "#e9a23b", "#8e5bd6", "#d6457f", "#4caf50", "#795548", "#00acc1", "#f06292"];

document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  const state = { graphId: null, graph: null, windows: [], colours: {}, cy: null, timer: null };
  window.qgraph = state;  // handy in the browser console (and for the browser test)

  const colourOf = (counts) => {
    let best = "unknown", n = -1;
    for (const [c, v] of Object.entries(counts)) if (v > n) { best = c; n = v; }
    return state.colours[best] || KNOWN_COLOURS.unknown;
  };

  function assignColours(communities) {
    state.colours = {};
    let i = 0;
    for (const c of communities) state.colours[c] = KNOWN_COLOURS[c.toLowerCase()] || PALETTE[i++ % PALETTE.length];
    const legend = $("legend");
    legend.replaceChildren();
    for (const [c, colour] of Object.entries(state.colours)) {
      const swatch = Q.el("span", { class: "swatch" });
      swatch.style.background = colour;
      legend.append(Q.el("div", {}, [swatch, document.createTextNode(c)]));
    }
  }

  // Counts per community of a node up to and including window index w.
  function countsUpTo(node, w) {
    const limit = state.windows[w];
    const out = {};
    for (const win of node.windows) if (win.window <= limit) for (const [c, v] of Object.entries(win.counts)) out[c] = (out[c] || 0) + v;
    return out;
  }

  function showTime(w) {
    const cy = state.cy;
    $("time-label").textContent = w >= state.windows.length - 1 ? `${state.windows[w] || "all"} (end)` : state.windows[w];
    let shown = 0;
    const maxSize = Math.max(...state.graph.nodes.map((n) => n.size), 1);
    cy.batch(() => {
      for (const node of state.graph.nodes) {
        const counts = countsUpTo(node, w);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        const ele = cy.getElementById(node.id);
        if (total === 0) { ele.style("display", "none"); continue; }
        shown += 1;
        const px = 16 + 44 * Math.sqrt(total / maxSize);
        ele.style({ display: "element", width: px, height: px, "background-color": colourOf(counts) });
      }
      cy.edges().forEach((e) => {
        const visible = e.source().style("display") !== "none" && e.target().style("display") !== "none";
        e.style("display", visible ? "element" : "none");
      });
    });
    $("cy").dataset.visibleNodes = String(shown);
  }

  async function loadGraph(id) {
    Q.showError($("error"), null);
    const graph = await Q.api(`/api/infopattern/graphs/${encodeURIComponent(id)}`);
    state.graphId = id;
    state.graph = graph;
    state.windows = [...new Set(graph.nodes.flatMap((n) => n.windows.map((w) => w.window)))].sort();
    assignColours(graph.meta.communities || []);
    const meta = graph.meta;
    $("summary").textContent = `${graph.nodes.length} claims, ${graph.links.length} links` +
      (meta.messages ? ` from ${meta.messages} messages` : "") + (meta.window ? `; window: ${meta.window}` : "");
    const elements = graph.nodes.map((n) => ({ data: { id: n.id, label: (n.keywords || []).slice(0, 3).join(", ") || n.name.slice(0, 30) } }))
      .concat(graph.links.map((l, i) => ({ data: { id: `e${i}`, source: l.source, target: l.target, weight: l.weight } })));
    if (state.cy) state.cy.destroy();
    state.cy = cytoscape({
      container: $("cy"), elements, wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: { label: "data(label)", "font-size": 10, color: "#1d2430", "text-valign": "bottom", "text-margin-y": 3,
          "border-width": 1, "border-color": "#ffffff", "text-wrap": "ellipsis", "text-max-width": 120 } },
        { selector: "node:selected", style: { "border-width": 4, "border-color": "#1d2430" } },
        { selector: "edge", style: { width: "mapData(weight, 0, 1, 1, 6)", "line-color": "#9aa4b2", "target-arrow-color": "#9aa4b2",
          "target-arrow-shape": "triangle", "curve-style": "bezier", opacity: 0.75 } },
      ],
      minZoom: 0.05, maxZoom: 4,
    });
    // Lay out, then fit with a margin; a small graph is not blown up past 1.2x (labels stay readable).
    state.cy.layout({ name: "cose", animate: false, randomize: true, fit: false,
      nodeRepulsion: () => 9000, idealEdgeLength: () => 90 }).run();
    state.cy.fit(undefined, 60);
    if (state.cy.zoom() > 1.2) { state.cy.zoom(1.2); state.cy.center(); }
    const tip = $("tooltip");
    state.cy.on("mouseover", "node", (evt) => {
      const n = state.graph.nodes.find((x) => x.id === evt.target.id());
      const shares = Object.entries(n.community_shares).map(([c, s]) => `${c} ${(100 * s).toFixed(0)}%`).join(", ");
      tip.textContent = `${n.name}\nkeywords: ${(n.keywords || []).join(", ")}\nclaims: ${n.size}; first seen: ${n.first_seen || "undated"} (${n.origin_community})\n${shares}`;
      tip.style.display = "block";
    });
    state.cy.on("mouseover", "edge", (evt) => {
      const e = evt.target;
      tip.textContent = `transition probability ${Number(e.data("weight")).toFixed(2)}`;
      tip.style.display = "block";
    });
    state.cy.on("mousemove", (evt) => {
      const box = $("cy").getBoundingClientRect();
      tip.style.left = `${box.left + evt.renderedPosition.x + 14}px`;
      tip.style.top = `${box.top + evt.renderedPosition.y + 14}px`;
    });
    state.cy.on("mouseout", "node, edge", () => { tip.style.display = "none"; });
    state.cy.on("tap", "node", (evt) => showNode(evt.target.id()));
    const slider = $("time");
    slider.max = String(Math.max(state.windows.length - 1, 0));
    slider.value = slider.max;
    showTime(Number(slider.value));
  }

  async function showNode(nodeId) {
    const n = state.graph.nodes.find((x) => x.id === nodeId);
    $("node-title").textContent = n.name;
    $("node-meta").textContent = `${n.messages || n.size} messages · first seen ${n.first_seen || "undated"} in ${n.origin_community} · keywords: ${(n.keywords || []).join(", ")}`;
    const box = $("node-messages");
    box.replaceChildren();
    try {
      const res = await Q.api(`/api/infopattern/graphs/${encodeURIComponent(state.graphId)}/nodes/${encodeURIComponent(nodeId)}/messages`);
      for (const m of res.messages) {
        const row = Q.el("div", { class: "msg node-message" }, [Q.el("span", { class: "tag", text: m.community })]);
        row.append(document.createTextNode(m.text));
        if (m.created_at) row.append(Q.el("div", { class: "muted", text: m.created_at }));
        box.append(row);
      }
      if (res.total > res.messages.length) box.append(Q.el("p", { class: "muted", text: `… and ${res.total - res.messages.length} more` }));
    } catch (err) { Q.showError($("error"), err); }
  }

  function download(href, name) {
    const a = Q.el("a", { href, download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }

  $("time").addEventListener("input", () => showTime(Number($("time").value)));
  $("play").addEventListener("click", () => {
    if (state.timer) { clearInterval(state.timer); state.timer = null; $("play").textContent = "▶ Replay"; return; }
    let w = 0;
    $("play").textContent = "■ Stop";
    state.timer = setInterval(() => {
      $("time").value = String(w);
      showTime(w);
      w += 1;
      if (w >= state.windows.length) { clearInterval(state.timer); state.timer = null; $("play").textContent = "▶ Replay"; }
    }, 700);
  });
  for (const fmt of ["json", "graphml", "gexf"]) {
    $(`export-${fmt}`).addEventListener("click", () => {
      if (state.graphId) download(`/api/infopattern/graphs/${encodeURIComponent(state.graphId)}/export?format=${fmt}`, `graph.${fmt}`);
    });
  }
  $("export-png").addEventListener("click", () => {
    if (state.cy) download(state.cy.png({ full: true, scale: 2, bg: "#ffffff" }), "graph.png");
  });
  $("graph-select").addEventListener("change", () => loadGraph($("graph-select").value).catch((e) => Q.showError($("error"), e)));

  if (typeof cytoscape === "undefined") {
    Q.showError($("error"), "The graph library is missing: run `npm ci` in the quartet folder and restart the server.");
    return;
  }
  try {
    const graphs = await Q.api("/api/infopattern/graphs");
    if (!graphs.length) { $("summary").textContent = "No graphs yet: run the graph evaluation or upload data on the Your data page."; return; }
    for (const g of graphs) $("graph-select").append(Q.el("option", { value: g.id, text: `${g.title} (${g.nodes} claims)` }));
    const wanted = new URLSearchParams(location.search).get("graph");
    const first = graphs.some((g) => g.id === wanted) ? wanted : graphs[0].id;
    $("graph-select").value = first;
    await loadGraph(first);
  } catch (err) { Q.showError($("error"), err); }
});
