"""Refusal (R-Tuning) in the web app: ask a tuned model; see its answer, P(sure) and whether it declines.

Models come from a finished ``quartet refusal pipeline`` run (``models.find_refusal_run``).
"""

from quartet.web.refusal import routes

ROUTERS = [routes.router]
PAGES = {"/refusal": ("refusal/refusal.html", "Refusal")}
