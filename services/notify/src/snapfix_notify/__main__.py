"""Run the notify service: ``python -m snapfix_notify``."""

from snapfix_notify.app import create_app
from snapfix_notify.config import NotifySettings
from snapfix_shared.serve import serve


def main() -> None:
    settings = NotifySettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
