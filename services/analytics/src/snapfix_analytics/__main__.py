"""Run the analytics service: ``python -m snapfix_analytics``."""

from snapfix_analytics.app import create_app
from snapfix_analytics.config import AnalyticsSettings
from snapfix_shared.serve import serve


def main() -> None:
    settings = AnalyticsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
