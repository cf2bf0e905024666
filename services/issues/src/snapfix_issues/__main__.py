"""Run the issues service: ``python -m snapfix_issues``."""

from fastapi import FastAPI

from snapfix_issues.app import create_app
from snapfix_issues.config import IssuesSettings
from snapfix_shared.serve import serve


def app() -> FastAPI:
    """The app of one worker process (uvicorn calls it in each)."""
    return create_app(IssuesSettings())


def main() -> None:
    serve("snapfix_issues.__main__:app", IssuesSettings())


if __name__ == "__main__":
    main()
