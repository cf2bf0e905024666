"""Run the gateway: ``python -m snapfix_gateway``."""

from fastapi import FastAPI

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_shared.serve import serve


def app() -> FastAPI:
    """The app of one worker process (uvicorn calls it in each)."""
    return create_app(GatewaySettings())


def main() -> None:
    serve("snapfix_gateway.__main__:app", GatewaySettings())


if __name__ == "__main__":
    main()
