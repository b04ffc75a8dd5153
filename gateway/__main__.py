"""`python -m gateway [--host H] [--port P]`: run the gateway (closeloop dev starts it)."""

from __future__ import annotations

import argparse

import uvicorn

from gateway.app import create_app
from gateway.settings import get_gateway_settings


def main() -> None:
    """Parse the address, build the app, serve it."""
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Closed Loop gateway (one origin)")
    parser.add_argument("--host", default=None, help="listen address (default CLOSELOOP_GATEWAY_HOST)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default CLOSELOOP_GATEWAY_PORT, 8000)")
    args = parser.parse_args()
    settings = get_gateway_settings()
    uvicorn.run(create_app(settings), host=args.host or settings.gateway_host, port=args.port or settings.gateway_port,
                log_level="warning", access_log=False, server_header=False)


if __name__ == "__main__":
    main()
