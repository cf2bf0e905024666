"""SnapFix issues service: owns reports, their lifecycle and queries."""
