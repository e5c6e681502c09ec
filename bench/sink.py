"""A webhook that answers 204 to every POST at once: the zero-latency provider of the
throughput benchmarks. `python bench/sink.py PORT` (the benchmarks start it themselves)."""

from __future__ import annotations

import sys

import uvicorn


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
