"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  $("upload").addEventListener("click", async () => {
    Q.showError($("error"), null);
    const file = $("file").files[0];
    if (!file) { Q.showError($("error"), "Choose a file first."); return; }
    $("upload").disabled = true;
    try {
      const started = await Q.api(`/api/infopattern/uploads?filename=${encodeURIComponent(file.name)}`, {
        method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file,
      });
      $("job").hidden = false;
      $("explore").hidden = true;
      $("summary").replaceChildren();
      $("chart").replaceChildren();
      for (;;) {
        const job = await Q.api(`/api/infopattern/jobs/${encodeURIComponent(started.job_id)}`);
        $("stage").textContent = job.stage;
        $("percent").textContent = `${Math.round(job.progress * 100)}%`;
        $("bar").style.width = `${Math.round(job.progress * 100)}%`;
        if (job.state === "error") throw new Error(job.error);
        if (job.state === "done") { show(job.result); break; }
        await sleep(400);
      }
    } catch (err) {
      Q.showError($("error"), err);
    } finally {
      $("upload").disabled = false;
    }
  });

  function show(result) {
    $("summary").textContent = `${result.messages} messages, ${result.claims} claims in ${result.clusters} claim clusters.`;
    $("chart-caption").hidden = !result.stance;
    if (result.stance) Q.barChart($("chart"), result.stance.bins, result.stance.counts, (v) => `${v} messages`);
    $("explore-link").href = `/infopattern/graph?graph=${encodeURIComponent(result.graph_id)}`;
    $("explore").hidden = false;
  }
});
