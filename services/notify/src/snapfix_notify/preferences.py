"""Who is told on which channel by default, and how a user's own choices override that.

Preferences are per user, per moment and per channel. Defaults (documented in the API):

- a citizen's own reports (report_received, acknowledged, status_changed, comment_added,
  resolved, duplicate): email and in-app;
- reports they follow (followed_status_changed, followed_comment_added): in-app only;
- staff work (assigned, overdue): email and in-app;
- area watches (area_report): in-app (a watch with ``digest`` sends an hourly email instead);
- push is opt-in for every moment.

Account emails (verify_email, password_reset, registration_attempted) are not optional: they always go by email.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

EMAIL, IN_APP, PUSH = "email", "in_app", "push"
CHANNELS = (EMAIL, IN_APP, PUSH)

OWN = ("report_received", "acknowledged", "status_changed", "comment_added", "resolved", "duplicate")
FOLLOWED = ("followed_status_changed", "followed_comment_added")
STAFF = ("assigned", "overdue")
AREA = ("area_report",)
ACCOUNT = ("verify_email", "password_reset", "registration_attempted")
MOMENTS = OWN + FOLLOWED + STAFF + AREA
"""The moments a user may choose channels for."""

DEFAULTS: dict[str, dict[str, bool]] = {
    **{m: {EMAIL: True, IN_APP: True, PUSH: False} for m in OWN},
    **{m: {EMAIL: False, IN_APP: True, PUSH: False} for m in FOLLOWED},
    **{m: {EMAIL: True, IN_APP: True, PUSH: False} for m in STAFF},
    "area_report": {EMAIL: False, IN_APP: True, PUSH: False},
}

Choices = Mapping[str, Mapping[str, bool]]


def effective(choices: Choices | None) -> dict[str, dict[str, bool]]:
    """Every moment with every channel: the user's choice where made, else the default."""
    mine = choices or {}
    return {m: {c: bool(mine.get(m, {}).get(c, DEFAULTS[m][c])) for c in CHANNELS} for m in MOMENTS}


def channels_for(moment: str, choices: Choices | None, available: Iterable[str]) -> list[str]:
    """The channels ``moment`` goes out on for this user, among the channels this process has."""
    available = list(available)
    if moment in ACCOUNT:
        return [EMAIL] if EMAIL in available else []
    on = effective(choices).get(moment)
    if on is None:
        return []
    return [c for c in available if on.get(c, False)]


def merged(current: Choices | None, change: Choices) -> dict[str, dict[str, bool]]:
    """``current`` with ``change`` applied (a partial update); unknown names raise ValueError."""
    result = {m: dict(v) for m, v in (current or {}).items()}
    for moment, channels in change.items():
        if moment not in MOMENTS:
            raise ValueError(f"unknown moment {moment!r}; one of {', '.join(MOMENTS)}")
        for channel, on in channels.items():
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
            result.setdefault(moment, {})[channel] = bool(on)
    return result


def unsubscribed(current: Choices | None, moment: str | None) -> dict[str, dict[str, bool]]:
    """``current`` with email turned off for ``moment`` (None: every moment)."""
    moments = MOMENTS if moment is None else (moment,)
    return merged(current, {m: {EMAIL: False} for m in moments})
