"""Run the issues service: ``python -m snapfix_issues``."""

from snapfix_issues.app import create_app
from snapfix_issues.config import IssuesSettings
from snapfix_shared.serve import serve


def main() -> None:
    settings = IssuesSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
