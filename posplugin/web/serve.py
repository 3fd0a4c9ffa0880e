"""Running the app with uvicorn on loopback only."""

from __future__ import annotations

import socket

import uvicorn

from ..agent import Agent
from .app import create_app
from .connection_guard import GuardedH11Protocol

HOST = "127.0.0.1"  # never configurable: the agent is for this machine only


class AgentServer(uvicorn.Server):
    """uvicorn waits for open responses before shutting down; event streams never end by themselves, so
    close them first."""

    def __init__(self, config: uvicorn.Config, agent: Agent) -> None:
        super().__init__(config)
        self.agent = agent

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.agent.events.close()
        await super().shutdown(sockets)


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
        http=GuardedH11Protocol,  # receive deadline and connection cap against slow clients
    )
    return AgentServer(config, agent)
