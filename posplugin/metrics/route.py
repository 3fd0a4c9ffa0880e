"""``GET /metrics`` on the agent's loopback listener.

No token: the exposition holds no personal data, and monitoring agents on the till (node_exporter's
neighbours, Grafana Alloy) cannot be given the POS token. The security middleware still checks Host and
Origin, as for every path. Not in the OpenAPI document: that is the POS's JSON contract; this one's contract is
the Prometheus exposition format and the families in docs/metrics.md.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from .agent_metrics import AgentMetrics


def add_metrics_route(app: FastAPI, metrics: AgentMetrics) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def metrics_exposition(request: Request) -> Response:
        body, content_type = await metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
