"""Run the media service: ``python -m snapfix_media``."""

from snapfix_media.app import create_app
from snapfix_media.config import MediaSettings
from snapfix_shared.serve import serve


def main() -> None:
    settings = MediaSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
