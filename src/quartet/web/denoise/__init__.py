"""Denoising in the web app: upload a photo, get it denoised (tiled), compare before/after, download.

The model comes from a finished ``quartet denoise train`` / ``ablation`` run (``models.find_denoise_run``).
"""

from quartet.web.denoise import routes

ROUTERS = [routes.router]
PAGES = {"/denoise": ("denoise/denoise.html", "Denoise")}
