"use strict";
// Denoise page: upload a photo, get the denoised PNG, compare with a before/after slider, download it.
document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  let info = null;
  try {
    info = await Q.api("/api/denoise/info");
  } catch (err) {
    Q.showError($("unavailable"), err);
    return;
  }
  $("app").hidden = false;
  const levels = info.attention.startsWith("spa") ? ` (${info.levels} pyramid levels)` : "";
  $("model-info").textContent = `Run ${info.run}, ${info.checkpoint}: ${info.attention} attention${levels}, width ${info.width}, ` +
    `${info.parameters.toLocaleString("en")} parameters; ${info.tile}-pixel tiles overlapping by ${info.overlap}.`;
  $("limits").textContent = `${(info.max_bytes / 1048576).toFixed(0)} MiB and ${(info.max_pixels / 1e6).toFixed(1)} megapixels`;

  // The after image covers the before one; the slider uncovers the before image from the left.
  const split = () => {
    const pos = Number($("split").value);
    $("after").style.clipPath = `inset(0 0 0 ${pos}%)`;
    $("divider").style.left = `${pos}%`;
  };
  $("split").addEventListener("input", split);

  let urls = [];
  $("denoise").addEventListener("click", async () => {
    Q.showError($("error"), null);
    const file = $("file").files[0];
    if (!file) { Q.showError($("error"), "Choose a photo first."); return; }
    if (file.size > info.max_bytes) { Q.showError($("error"), `The file is larger than the limit of ${(info.max_bytes / 1048576).toFixed(0)} MiB.`); return; }
    $("denoise").disabled = true;
    $("working").hidden = false;
    try {
      const response = await fetch(`/api/denoise?filename=${encodeURIComponent(file.name)}`, {
        method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file,
      });
      if (!response.ok) {
        let detail = response.statusText;
        try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
        throw new Error(detail);
      }
      const blob = await response.blob();
      urls.forEach((u) => URL.revokeObjectURL(u));
      urls = [URL.createObjectURL(file), URL.createObjectURL(blob)];
      const loaded = (img) => new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
      const waits = [loaded($("before")), loaded($("after"))];
      $("before").src = urls[0];
      $("after").src = urls[1];
      await Promise.all(waits);
      const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
      $("download").href = urls[1];
      $("download").download = name ? name[1] : "denoised.png";
      $("stats").textContent = `${response.headers.get("X-Image-Width")}×${response.headers.get("X-Image-Height")} pixels, ` +
        `denoised in ${Number(response.headers.get("X-Denoise-Seconds")).toFixed(2)} s.`;
      $("split").value = "50";
      split();
      $("result").hidden = false;
    } catch (err) {
      Q.showError($("error"), err);
    } finally {
      $("denoise").disabled = false;
      $("working").hidden = true;
    }
  });
});
