"""The console as a Starlette application, for `kneebot serve` to mount under /staff: routes, templates, static
files (htmx, vendored: static/VENDORED.md) and the security headers every response carries."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console import pages
from bot.console.auth import Auth
from bot.console.config import Console
from bot.console.present import Words

STATIC = Path(__file__).parent / "static"
# Scripts and styles from the console itself only (htmx, console.css): no inline script, no CDN, no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def create_console(console: Console) -> ASGIApp:
    templates = Environment(
        loader=PackageLoader("bot.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app = Starlette(
        routes=[
            Route("/", pages.home, methods=["GET"]),
            Route("/signin", pages.signin_page, methods=["GET"]),
            Route("/signin", pages.signin, methods=["POST"]),
            Route("/signout", pages.signout, methods=["POST"]),
            Route("/cases", pages.cases, methods=["GET"]),
            Route("/cases/rows", pages.rows, methods=["GET"]),
            Route("/cases/{case_id}", pages.case, methods=["GET"]),
            Route("/cases/{case_id}/conversation", pages.conversation, methods=["GET"]),
            Route("/cases/{case_id}/{action}", pages.act, methods=["POST"]),
            Route("/stats", pages.stats, methods=["GET"]),
            Route("/stats.csv", pages.stats_csv, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    words = Words(console.catalog, console.config.locale, console.config.zone)
    app.state.site = pages.Site(console, Auth(console), templates, words)
    return SecurityHeaders(app)


class SecurityHeaders:
    """Adds the headers above to every response, and `Cache-Control: no-store` to all but static files: a case
    page must not outlive the session in a shared computer's cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(f"{scope.get('root_path', '')}/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *HEADERS]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
