"""The pages a person sees on following an e-mailed link in a browser (Jinja2, autoescaped).

The links point at the API: ``GET /v1/auth/password-reset?token=…`` answers a form that posts
the token and the new password, and ``GET /v1/auth/verify-email?token=…`` a confirmation, when
the browser asks for HTML. With ``SNAPFIX_WEB_BASE_URL`` set, both send the browser to the web
app instead, the token in the query as it came.

Every page is ``no-store``, sends no Referer (the token is in the page's URL), runs no script
and may post its form only to this origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}

_pages = Environment(
    loader=PackageLoader("snapfix_gateway.identity", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


def page(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _pages.get_template(template).render(app_name="SnapFix", **values)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def to_web_app(web_base_url: str, path: str, token: str) -> RedirectResponse:
    url = f"{web_base_url.rstrip('/')}/{path}?{urlencode({'token': token})}"
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def prefers_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks ``text/html`` above JSON (a browser's does; ``*/*`` does not)."""
    html_q, json_q = 0.0, 0.0
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in {"text/html", "application/xhtml+xml"}:
            html_q = max(html_q, q)
        elif media in {"application/json", "application/problem+json"}:
            json_q = max(json_q, q)
    return html_q > json_q
