"""Serve the dashboard at ``/``: the built React app (``web/dist``), else the plain status page.

The build lives in ``web/dist`` of a source checkout (``make run`` builds it) or, in an installed
package, in ``api/static/dashboard``. It is looked up on each request for ``/``, so building
while the platform runs takes effect on the next reload.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

_PACKAGED = Path(__file__).parent / "static" / "dashboard"
_CHECKOUT = Path(__file__).resolve().parents[3] / "web" / "dist"

# The page talks only to its own origin (REST and WebSockets); charts draw on canvas. Inline styles
# are allowed because React sets sizes through the style attribute.
_HEADERS = {
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
}


def dashboard_dir() -> Path | None:
    for candidate in (_PACKAGED, _CHECKOUT):
        if (candidate / "index.html").is_file():
            return candidate
    return None


def mount_dashboard(app: FastAPI) -> None:
    fallback = resources.files("streambot.api").joinpath("static/index.html").read_text(encoding="utf-8")
    assets = (dashboard_dir() or _CHECKOUT) / "assets"
    # check_dir=False: the build may appear after start-up (a build in another terminal).
    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="dashboard-assets")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        built = dashboard_dir()
        if built is None:
            return HTMLResponse(
                fallback, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
            )
        return FileResponse(built / "index.html", media_type="text/html", headers=_HEADERS)
