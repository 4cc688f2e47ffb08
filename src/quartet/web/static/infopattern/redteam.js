"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  let communities = {};
  const showStance = () => { $("stance-value").textContent = Number($("stance").value).toFixed(1); };
  // Moving the slider means "use this value"; picking a community moves the slider to its value.
  $("stance").addEventListener("input", () => { $("community").value = ""; showStance(); });
  $("community").addEventListener("change", () => {
    const name = $("community").value;
    if (name && name in communities) { $("stance").value = String(communities[name]); showStance(); }
  });
  try {
    communities = await Q.api("/api/infopattern/redteam/communities");
    for (const [name, value] of Object.entries(communities)) {
      $("community").append(Q.el("option", { value: name, text: `${name} (s = ${value})` }));
    }
  } catch (err) { Q.showError($("error"), err); }
  $("generate").addEventListener("click", async () => {
    Q.showError($("error"), null);
    const message = $("message").value.trim();
    if (!message) { Q.showError($("error"), "Type a message first."); return; }
    $("generate").disabled = true;
    try {
      const body = { message, community: $("community").value || null, stance: Number($("stance").value),
        k: Number($("k").value), target: $("target").value.trim() || null };
      const res = await Q.api("/api/infopattern/redteam", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      $("used-stance").textContent = res.stance.toFixed(1);
      const box = $("responses");
      box.replaceChildren();
      res.responses.forEach((r, i) => {
        const row = Q.el("div", { class: "msg response" }, [Q.el("span", { class: "tag", text: `#${i + 1}` })]);
        row.append(Q.highlighted(r.text, r.evidence));
        box.append(row);
      });
      $("result").hidden = false;
    } catch (err) {
      Q.showError($("error"), err);
    } finally {
      $("generate").disabled = false;
    }
  });
});
