"""SnapFix gateway: the thin HTTP edge for the mobile app."""
