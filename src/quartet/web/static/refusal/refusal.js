"use strict";
// Refusal page: ask a tuned model; its answer, P(sure) against the threshold, and whether it declines.
document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  let info = null;
  try {
    info = await Q.api("/api/refusal/info");
  } catch (err) {
    Q.showError($("unavailable"), err);
    return;
  }
  $("app").hidden = false;
  $("model-info").textContent = `Run ${info.run}: tuned models ${info.methods.join(", ")}.`;
  for (const m of info.methods) $("method").append(Q.el("option", { value: m, text: m }));
  $("method").value = info.default_method;
  $("threshold").value = String(info.threshold);
  const showThreshold = () => { $("threshold-value").textContent = Number($("threshold").value).toFixed(2); };
  showThreshold();
  $("threshold").addEventListener("input", showThreshold);
  info.examples.forEach((ex, i) => $("example").append(Q.el("option", { value: String(i), text: `[${ex.role}] ${ex.question}` })));
  const example = () => info.examples.find((e) => e.question === $("question").value.trim());
  $("example").addEventListener("change", () => {
    const ex = info.examples[Number($("example").value)];
    if ($("example").value && ex) $("question").value = ex.question;
  });

  async function ask() {
    Q.showError($("error"), null);
    const question = $("question").value.trim();
    if (!question) { Q.showError($("error"), "Type a question first."); return; }
    $("ask").disabled = true;
    try {
      const body = { question, method: $("method").value, threshold: Number($("threshold").value) };
      const res = await Q.api("/api/refusal/ask", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      $("verdict").textContent = res.declines ? "Declines: “I don't know”" : "Answers";
      $("verdict").className = `verdict ${res.declines ? "declines" : "answers"}`;
      $("answer").textContent = res.answer || "(empty)";
      const ex = example();
      $("expected").textContent = ex ? (ex.answers.length ? `(the run's gold answer: ${ex.answers.join(" / ")})` : "(this question has no answer)") : "";
      $("p-sure").textContent = res.p_sure.toFixed(3);
      $("meter-fill").style.width = `${(res.p_sure * 100).toFixed(1)}%`;
      $("meter-fill").style.background = Q.scoreColour(res.p_sure);
      $("meter-threshold").style.left = `${(res.threshold * 100).toFixed(1)}%`;
      $("reason").textContent = `${res.method}: ${res.reason}.`;
      $("answer-conf").textContent = res.answer_confidence.toFixed(3);
      $("confidence").textContent = res.confidence.toFixed(3);
      $("unknown").hidden = !res.unknown_words.length;
      $("unknown").textContent = res.unknown_words.length ? `Words this model's vocabulary does not have: ${res.unknown_words.join(" ")}` : "";
      $("result").hidden = false;
    } catch (err) {
      Q.showError($("error"), err);
    } finally {
      $("ask").disabled = false;
    }
  }
  $("ask").addEventListener("click", ask);
  $("question").addEventListener("keydown", (e) => { if (e.key === "Enter") ask(); });
});
