"""What the promotion calls of the local API v1 accept. Ids are opaque strings here, as everywhere in the
contract; with Engage they must be GUIDs, which the Engage code checks (``posplugin.vendors.engage.ids``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .api_requests import MemberId, OpId, Strict

AssignmentId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="a promotion assignment's id (opaque): the `id` of a member view's `promotions[]`, not its "
        "`promotionId`",
    ),
]


class PromotionOpBody(Strict):
    contactId: MemberId
    opId: OpId | None = None


class PrintPromotionBody(Strict):
    contactId: MemberId
    assignmentId: AssignmentId
