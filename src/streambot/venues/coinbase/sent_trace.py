"""The moment a request has been written to the socket, told to whoever asked (``request_sent``).

An aiohttp trace hook: it runs inside the request's own task, so the context variable the order
path set before it began the create-order call is the one it sees; every other request finds it
unset and costs one lookup.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from streambot.exchange import request_sent


async def _headers_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    if params.headers.get("Content-Length", "0") == "0":  # a body follows: sent once it is written
        _tell()


async def _chunk_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestChunkSentParams
) -> None:
    _tell()


def _tell() -> None:
    callback = request_sent.get()
    if callback is not None:
        callback()


def sent_trace() -> aiohttp.TraceConfig:
    """A trace config for a client session: ``request_sent`` is called once the request's body (or,
    for a request without one, its headers) is written."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_headers_sent)
    trace.on_request_chunk_sent.append(_chunk_sent)
    trace.freeze()
    return trace
