"""Run the media service: ``python -m snapfix_media``."""

from fastapi import FastAPI

from snapfix_media.app import create_app
from snapfix_media.config import MediaSettings
from snapfix_shared.serve import serve


def app() -> FastAPI:
    """The app of one worker process (uvicorn calls it in each)."""
    return create_app(MediaSettings())


def main() -> None:
    serve("snapfix_media.__main__:app", MediaSettings())


if __name__ == "__main__":
    main()
