"""Who the fake APNs of the push tests is (tests/push_fakes.py): its topic, key id and team id."""

from __future__ import annotations

TOPIC = "dev.snapfix.app"
KEY_ID, TEAM_ID = "ABC123DEFG", "TEAM123456"
