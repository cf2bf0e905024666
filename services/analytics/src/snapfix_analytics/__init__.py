"""SnapFix analytics service. Owns aggregates: windowed statistics, the analyst streams, dashboard queries."""
