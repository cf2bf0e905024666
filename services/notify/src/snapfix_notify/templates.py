"""Messages rendered from Jinja2 templates (``templates/<moment>.txt`` and ``.html``).

HTML is autoescaped (a comment or a title never injects markup); text is not. Subjects
are one-line templates here, so every channel shares them as its title.

A context value named ``<name>_sealed`` is a link sealed by the gateway (``snapfix_shared.sealing``):
it is opened here, as ``<name>``, only to render the message, so it is in clear nowhere else
(not on Kafka, not in the stored delivery).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from snapfix_shared.sealing import LinkNotUnsealed, LinkSeal

SEALED = "_sealed"

SUBJECTS: dict[str, str] = {
    "report_received": "We received your report: {{ title }}",
    "acknowledged": "Your report was acknowledged: {{ title }}",
    "status_changed": "Your report is {{ to_status | replace('_', ' ') }}: {{ title }}",
    "resolved": "Resolved: {{ title }} (is it fixed?)",
    "duplicate": "Your report duplicates an earlier one: {{ title }}",
    "comment_added": "New comment on your report: {{ title }}",
    "followed_status_changed": "A report you follow is {{ to_status | replace('_', ' ') }}: {{ title }}",
    "followed_comment_added": "New comment on a report you follow: {{ title }}",
    "assigned": "Assigned to you: {{ title }}",
    "overdue": "Overdue: {{ title }}",
    "area_report": "New report near you: {{ title }}",
    "area_digest": "{{ items | length }} new report{{ 's' if items | length != 1 }} in an area you watch",
    "verify_email": "Confirm your email address for {{ app_name }}",
    "password_reset": "Choose a new password for {{ app_name }}",
    "registration_attempted": "Someone tried to register your address with {{ app_name }}",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, *, app_name: str = "SnapFix", link_seal: LinkSeal | None = None) -> None:
        self.app_name, self.link_seal = app_name, link_seal
        loader = PackageLoader("snapfix_notify", "templates")
        # A variable a template needs but the context lacks is a bug: fail, never send "None".
        self._html = Environment(loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined)
        self._text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)  # noqa: S701 - plain text
        self._subjects = {m: self._text.from_string(s) for m, s in SUBJECTS.items()}

    def knows(self, moment: str) -> bool:
        return moment in self._subjects

    def render(
        self,
        moment: str,
        context: Mapping[str, Any],
        *,
        display_name: str = "",
        unsubscribe_url: str | None = None,
        greeting: bool = True,
        html: bool = True,
    ) -> Rendered:
        values = {
            "note": "",
            "reason": "",
            "original_url": "",
            "reopen_url": "",  # set when the web app is there (and absent from older deliveries)
            **self._unsealed(context),
            "app_name": self.app_name,
            "display_name": display_name,
            "unsubscribe_url": unsubscribe_url,
            "greeting": greeting,
        }
        subject = " ".join(self._subjects[moment].render(values).split())  # one line, always
        values["subject"] = subject
        text = self._text.get_template(f"{moment}.txt").render(values).strip() + "\n"
        markup = self._html.get_template(f"{moment}.html").render(values) if html else ""
        return Rendered(subject, text, markup)

    def _unsealed(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The context with each ``<name>_sealed`` link opened as ``<name>`` (raises LinkNotUnsealed)."""
        values = dict(context)
        for key, value in context.items():
            if key.endswith(SEALED):
                if self.link_seal is None:
                    raise LinkNotUnsealed(f"{key}: no SNAPFIX_LINK_SEAL_KEY to open it with")
                values[key.removesuffix(SEALED)] = self.link_seal.unseal(str(value))
                del values[key]
        return values
