"""Run the notify service: ``python -m snapfix_notify``."""

from fastapi import FastAPI

from snapfix_notify.app import create_app
from snapfix_notify.config import NotifySettings
from snapfix_shared.serve import serve


def app() -> FastAPI:
    """The app of one worker process (uvicorn calls it in each)."""
    return create_app(NotifySettings())


def main() -> None:
    serve("snapfix_notify.__main__:app", NotifySettings())


if __name__ == "__main__":
    main()
