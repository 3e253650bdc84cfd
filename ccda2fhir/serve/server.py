"""uvicorn's server, saying where it listens once it does (the real port when given port 0)."""
from __future__ import annotations

import logging

import uvicorn

log = logging.getLogger("ccda2fhir.serve")


class Server(uvicorn.Server):
    """A uvicorn Server that logs one 'listening' line with the bound address and port."""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        for server in self.servers:
            for sock in server.sockets or ():
                host, port = sock.getsockname()[:2]
                log.info("listening", extra={"fields": {"host": host, "port": port,
                                                        "url": f"http://{host}:{port}/convert/v1/ccda/to/fhir"}})
