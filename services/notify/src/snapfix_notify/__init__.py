"""SnapFix notify service. Owns notifications: who is told what, on which channel, exactly once."""
