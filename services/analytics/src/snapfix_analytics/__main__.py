"""Run the analytics service: ``python -m snapfix_analytics``."""

from fastapi import FastAPI

from snapfix_analytics.app import create_app
from snapfix_analytics.config import AnalyticsSettings
from snapfix_shared.serve import serve


def app() -> FastAPI:
    """The app of one worker process (uvicorn calls it in each)."""
    return create_app(AnalyticsSettings())


def main() -> None:
    serve("snapfix_analytics.__main__:app", AnalyticsSettings())


if __name__ == "__main__":
    main()
