"""The PRM in the web app: score a typed solution step by step, or rerank N sampled solutions.

Models come from a finished ``quartet prm pipeline`` run (``models.find_prm_run``).
"""

from quartet.web.prm import routes

ROUTERS = [routes.router]
PAGES = {"/prm": ("prm/prm.html", "PRM")}
