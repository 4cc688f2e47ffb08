"""InfoPattern in the web app: one API router per capability and the four pages.

``ROUTERS`` is what ``quartet.web.app`` includes; ``PAGES`` maps a URL to a static page
(under ``static/infopattern/``) and the title shown in the navigation. Another system adds
its own subpackage with the same two names.
"""

from quartet.web.infopattern import data, graph, redteam, stance

ROUTERS = [stance.router, redteam.router, graph.router, data.router]
PAGES = {
    "/infopattern/stance": ("infopattern/stance.html", "Stance"),
    "/infopattern/redteam": ("infopattern/redteam.html", "Red teaming"),
    "/infopattern/graph": ("infopattern/graph.html", "Propagation graph"),
    "/infopattern/data": ("infopattern/data.html", "Your data"),
}
