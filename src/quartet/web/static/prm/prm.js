"use strict";
// PRM page: score a typed solution step by step; sample N solutions and watch the PRM rerank them.
document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  let info = null;
  try {
    info = await Q.api("/api/prm/info");
  } catch (err) {
    Q.showError($("unavailable"), err);
    return;
  }
  $("app").hidden = false;
  $("model-info").textContent = `Run ${info.run}: the policy and the ${info.prm} PRM (steps aggregated by ${info.aggregate}).`;
  info.examples.forEach((ex, i) => $("example").append(Q.el("option", { value: String(i), text: ex.question })));
  $("example").addEventListener("change", () => {
    const ex = info.examples[Number($("example").value)];
    if (!$("example").value || !ex) return;
    $("problem").value = ex.question;
    $("solution").value = ex.steps.join("\n");
  });

  // One step: its text and a chip with P(+), coloured from red (0) to green (1).
  function stepItem(step, weakest) {
    const li = Q.el("li", { class: "step" + (weakest ? " weakest" : "") });
    li.append(Q.scoreChip(step.score), Q.el("span", { class: "step-text", text: step.text }));
    return li;
  }

  function showUnknown(words) {
    $("unknown").hidden = !words.length;
    $("unknown").textContent = words.length ? `Words this model's vocabulary does not have (it reads them as unknown): ${words.join(" ")}` : "";
  }

  async function busy(button, fn) {
    Q.showError($("error"), null);
    document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try { await fn(); } catch (err) { Q.showError($("error"), err); } finally {
      document.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  $("score").addEventListener("click", () => busy($("score"), async () => {
    const problem = $("problem").value.trim(), solution = $("solution").value.trim();
    if (!problem || !solution) throw new Error("Type a problem and a solution (one step per line) first.");
    const res = await Q.api("/api/prm/score", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ problem, solution }),
    });
    $("steps").replaceChildren(...res.steps.map((s, i) => stepItem(s, i === res.weakest)));
    $("scored-total").textContent = `· solution score ${res.score.toFixed(2)} (lowest: step ${res.weakest + 1})`;
    showUnknown(res.unknown_words);
    $("scored").hidden = false;
  }));

  let nodes = [], sampledOrder = [], prmOrder = [];
  // Move the candidate cards into ``order`` and animate each from where it was (FLIP).
  function arrange(order, label) {
    const box = $("candidates");
    const before = new Map(nodes.map((n) => [n, n.getBoundingClientRect().top]));
    box.append(...order.map((i) => nodes[i]));
    for (const n of nodes) {
      const dy = before.get(n) - n.getBoundingClientRect().top;
      if (!dy) continue;
      n.style.transition = "none";
      n.style.transform = `translateY(${dy}px)`;
      requestAnimationFrame(() => requestAnimationFrame(() => { n.style.transition = "transform .7s ease"; n.style.transform = ""; }));
    }
    $("order-label").textContent = label;
    box.dataset.order = label === "by PRM score, best first" ? "prm" : "sampled";
  }

  $("rerank").addEventListener("click", () => busy($("rerank"), async () => {
    const problem = $("problem").value.trim();
    if (!problem) throw new Error("Type a problem first.");
    const ex = info.examples.find((e) => e.question === problem);
    const body = { problem, n: Number($("n").value), seed: Number($("seed").value), gold: ex ? ex.gold : null };
    const res = await Q.api("/api/prm/rerank", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const bySample = [...res.candidates].sort((a, b) => a.sample - b.sample);
    nodes = bySample.map((c) => {
      const rank = res.candidates.indexOf(c) + 1;
      const head = Q.el("div", { class: "cand-head" }, [
        Q.el("span", { class: "tag", text: `#${rank} by PRM` }),
        Q.el("span", { class: "muted", text: `sample ${c.sample + 1}` }), Q.scoreChip(c.score),
        Q.el("span", { class: "answer", text: c.answer === null ? "no answer" : `answer ${c.answer}` }),
      ]);
      if (c.correct !== null) head.append(Q.el("span", { class: c.correct ? "ok" : "bad", text: c.correct ? "right" : "wrong" }));
      if (c.sample === res.best) head.append(Q.el("span", { class: "tag best", text: "PRM's choice" }));
      const steps = Q.el("ol", { class: "steps" }, c.steps.map((s) => stepItem(s, false)));
      if (!c.steps.length) steps.append(Q.el("li", { class: "muted", text: "(no steps)" }));
      return Q.el("div", { class: "cand", "data-sample": String(c.sample), "data-rank": String(rank) }, [head, steps]);
    });
    sampledOrder = bySample.map((_, i) => i);
    prmOrder = res.candidates.map((c) => c.sample);
    $("candidates").replaceChildren(...nodes);
    $("ranked-n").textContent = String(res.candidates.length);
    const right = res.candidates.filter((c) => c.correct).length;
    $("ranked-summary").textContent = ex ? `· ${right} of ${res.candidates.length} right; the PRM's choice is ` +
      (res.candidates[0].correct ? "right" : "wrong") + `; majority answer ${res.majority ?? "none"}` :
      `· majority answer ${res.majority ?? "none"}`;
    $("ranked").hidden = false;
    arrange(sampledOrder, "as sampled");
    // Let the person see the sampled order, then rerank in front of them.
    setTimeout(() => arrange(prmOrder, "by PRM score, best first"), 700);
  }));
  $("order-sampled").addEventListener("click", () => arrange(sampledOrder, "as sampled"));
  $("order-prm").addEventListener("click", () => arrange(prmOrder, "by PRM score, best first"));
});
