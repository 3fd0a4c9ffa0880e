"""Running the app with uvicorn on loopback only."""

from __future__ import annotations

import uvicorn

from ..agent import Agent
from .app import create_app

HOST = "127.0.0.1"  # never configurable: the agent is for this machine only


def build_server(agent: Agent) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(agent),
        host=HOST,
        port=agent.config.agent.port,
        log_config=None,  # our logging (with redaction) is already configured
        access_log=False,  # access lines carry contactIds in paths
        lifespan="on",
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    return uvicorn.Server(config)
