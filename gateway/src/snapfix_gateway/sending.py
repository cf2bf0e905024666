"""A ``send`` that adds headers to the answer it starts: what a layer adds to every response it passes on."""

from __future__ import annotations

from starlette.types import Message, Send


def adding_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send``, with ``headers`` added to the response's start."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", []).extend(headers)
        await send(message)

    return sending
