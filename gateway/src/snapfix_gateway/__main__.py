"""Run the gateway: ``python -m snapfix_gateway``."""

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_shared.serve import serve


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
