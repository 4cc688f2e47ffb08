"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const $ = (id) => document.getElementById(id);
  $("analyze").addEventListener("click", async () => {
    const messages = $("messages").value.split("\n").map((s) => s.trim()).filter(Boolean);
    Q.showError($("error"), null);
    if (!messages.length) { Q.showError($("error"), "Type at least one message."); return; }
    $("analyze").disabled = true;
    try {
      const body = { messages, target: $("target").value.trim() || null };
      const res = await Q.api("/api/infopattern/stance", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      Q.barChart($("chart"), res.bins, res.distribution);
      const list = $("list");
      list.replaceChildren();
      for (const r of res.results) {
        const row = Q.el("div", { class: "msg" }, [Q.el("span", { class: "tag", text: r.label })]);
        row.append(Q.highlighted(r.text, r.evidence));
        list.append(row);
      }
      $("result").hidden = false;
    } catch (err) {
      Q.showError($("error"), err);
    } finally {
      $("analyze").disabled = false;
    }
  });
});
