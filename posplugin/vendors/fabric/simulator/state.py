"""The simulator's fabric: members, points by type, earns, rewards and tokens, behind one lock.

It refuses what fabric documents it refuses: the four earn rules (the same checks the till applies), lengths of
the documented string fields, a duplicate ``transactionExternalReference`` under the duplicate check, a reward
cancel after redemption and a reverse before it, too few points for a reward.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..earn_rules import is_reverse, violations
from ..errors import DUPLICATE_EARN_CODE, DUPLICATE_EARN_STATUS, INSUFFICIENT_POINTS_CODE

POINTS_PER_UNIT = 1  # earned per currency unit of net amount (a club rule; the simulator's choice)
REWARD_POINTS_PER_UNIT = 10  # points a reward costs per currency unit of its value (the simulator's choice)


class SimError(Exception):
    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})


@dataclass
class Settings:
    token_ttl: float = 600.0  # fabric's default token lifetime; tests make it short


@dataclass
class MemberRecord:
    profile_id: str
    loyalty_number: str
    first_name: str
    last_name: str
    points: dict[str, int] = field(default_factory=dict)  # unrestricted, by point type
    restricted: list[tuple[int, str]] = field(default_factory=list)  # (points, location)
    used: int = 0

    def usable_at(self, location: str) -> int:
        return sum(self.points.values()) + sum(p for p, where in self.restricted if where == location)

    def json(self) -> dict[str, Any]:
        return {
            "profileId": self.profile_id,
            "loyaltyNumber": self.loyalty_number,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "accounts": [{"clubReference": "club-1", "tier": "Silver", "status": "ACTIVE"}],
        }


def _text(body: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise SimError(400, "Bad Request", {name: f"required, 1-{limit} characters"})
    return value


def _amount(body: Mapping[str, Any], name: str) -> Decimal:
    value = body.get(name)
    try:
        number = Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise SimError(400, "Bad Request", {name: "a number is required"})
    return number


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FabricState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.settings = Settings()
        self.client_id = "posplugin-demo"
        self.client_secret = "demo-client-secret"  # noqa: S105 (the simulator's own demo credential)
        self.members: dict[str, MemberRecord] = {}
        self.tokens: dict[str, float] = {}  # token → expiry (clock)
        self.earns: dict[str, dict[str, Any]] = {}  # transactionExternalReference → record
        self.rewards: dict[str, dict[str, Any]] = {}  # redemptionCode → record
        self.earn_commits = 0
        self.issue_commits = 0
        self.duplicate_earns = 0
        self.token_requests = 0

    # ---- tokens ----------------------------------------------------------------------------------------

    def issue_token(self, client_id: str, secret: str, form: Mapping[str, str]) -> dict[str, Any]:
        with self.lock:
            self.token_requests += 1
            if form.get("grant_type") != "client_credentials" or form.get("scope") != "s2s":
                raise SimError(400, "invalid_request")
            ok_id = secrets.compare_digest(client_id, self.client_id)
            if not (ok_id and secrets.compare_digest(secret, self.client_secret)):
                raise SimError(401, "invalid_client")
            token = secrets.token_urlsafe(24)
            self.tokens[token] = self.clock() + self.settings.token_ttl
            ttl = self.settings.token_ttl
            return {"token_type": "Bearer", "access_token": token, "expires_in": ttl, "scope": "s2s"}

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self.tokens.get(token)
            return expiry is not None and self.clock() < expiry

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # ---- members and points ----------------------------------------------------------------------------

    def add_member(self, member: MemberRecord) -> None:
        with self.lock:
            self.members[member.profile_id] = member

    def _member(self, profile_id: Any) -> MemberRecord:
        member = self.members.get(profile_id) if isinstance(profile_id, str) else None
        if member is None:
            raise SimError(404, "Member not found", {"profileId": "not found"})
        return member

    def find_members(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        with self.lock:
            if "loyaltyNumber" in query:
                found = [m for m in self.members.values() if m.loyalty_number == query["loyaltyNumber"]]
            elif "profileId" in query:
                found = [m for m in self.members.values() if m.profile_id == query["profileId"]]
            else:
                raise SimError(400, "Bad Request", {"query": "give loyaltyNumber or profileId"})
            return [m.json() for m in found]

    def member_points(self, profile_id: str) -> list[dict[str, Any]]:
        with self.lock:
            m = self._member(profile_id)
            restricted = sum(p for p, _ in m.restricted)
            unrestricted = sum(m.points.values())
            by_type = [{"pointType": t, "points": p} for t, p in m.points.items()]
            if restricted:
                by_type.append({"pointType": "Restricted", "points": restricted})
            items = [{"points": p, "pointType": "Restricted", "restrictedLocation": w} for p, w in m.restricted]
            return [
                {
                    "totalPoints": unrestricted + restricted,
                    "pointsByType": by_type,
                    "pointsBalance": {
                        "memberPointsUsed": m.used,
                        "memberPointsAvailable": unrestricted + restricted,
                        "memberPointsLocked": 0,
                    },
                    "breakdown": {
                        "unrestrictedPoints": unrestricted,
                        "restrictedPoints": {"restrictedPointsItems": items},
                    },
                }
            ]

    def _deduct(self, m: MemberRecord, cost: int, location: str) -> None:
        left = cost
        for kind in list(m.points):
            take = min(left, m.points[kind])
            m.points[kind] -= take
            left -= take
        for n, (p, where) in enumerate(m.restricted):
            if where == location and left:
                take = min(left, p)
                m.restricted[n] = (p - take, where)
                left -= take
        m.used += cost

    # ---- earn ------------------------------------------------------------------------------------------

    def earn(self, body: Any, reverse: bool) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise SimError(400, "Bad Request", {"body": "a JSON object is required"})
        with self.lock:
            m = self._member(body.get("profileId"))
            _text(body, "entityReference", 100)
            kind = _text(body, "transactionTypeExternalReference", 100)
            reference = _text(body, "transactionExternalReference", 100)
            stamp = body.get("activityTimestamp")
            if not isinstance(stamp, str):
                raise SimError(400, "Bad Request", {"activityTimestamp": "required"})
            try:
                datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                raise SimError(400, "Bad Request", {"activityTimestamp": "not a timestamp"}) from None
            check = body.get("checkForDuplicateTransaction", 0)
            if check not in (0, 1) or isinstance(check, bool):
                raise SimError(400, "Bad Request", {"checkForDuplicateTransaction": "0 or 1"})
            for name in ("issueAuditUser", "cancelAuditUser"):
                _text(body, name, 200, required=False)
            if reverse != is_reverse(body) or (reverse and kind.upper() != "RETURN"):
                raise SimError(400, "Bad Request", {"reverseTransactionExternalRef": "a reverse is a RETURN"})
            broken = violations(body)
            if broken:
                raise SimError(400, "Payload validation failed", {v.rule: v.message() for v in broken})
            if check == 1 and reference in self.earns:
                self.duplicate_earns += 1
                raise SimError(DUPLICATE_EARN_STATUS, "Duplicate transaction", {DUPLICATE_EARN_CODE: reference})
            gross = _amount(body, "transactionGrossAmount")
            net = _amount(body, "netAmount")
            points = int(abs(net) * POINTS_PER_UNIT)
            if reverse:
                original = self.earns.get(str(body.get("reverseTransactionExternalRef")))
                if original is None or original["profileId"] != m.profile_id or original["reverse"]:
                    raise SimError(404, "Original transaction not found", {"reverseTransactionExternalRef": "unknown"})
                if original["reversedGross"] + abs(gross) > original["gross"]:
                    raise SimError(400, "Reverse exceeds the original", {"transactionGrossAmount": "too large"})
                original["reversedGross"] += abs(gross)
                points = min(points, original["points"] - original["reversedPoints"])
                original["reversedPoints"] += points
                m.points["Base"] = m.points.get("Base", 0) - points
            else:
                m.points["Base"] = m.points.get("Base", 0) + points
            self.earns[reference] = {
                "profileId": m.profile_id,
                "gross": abs(gross),
                "points": points,
                "reverse": reverse,
                "reversedGross": Decimal(0),
                "reversedPoints": 0,
            }
            self.earn_commits += 1
            signed = -points if reverse else points
            return {
                "transactionCode": uuid.uuid4().hex[:12].upper(),
                "points": signed,
                "basePoints": signed,
                "bonusPoints": 0,
                "promotionalPoints": 0,
                "currentPointsBalance": m.usable_at(str(body.get("entityReference"))),
            }

    # ---- rewards ---------------------------------------------------------------------------------------

    def issue_reward(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise SimError(400, "Bad Request", {"body": "a JSON object is required"})
        with self.lock:
            m = self._member(body.get("profileId"))
            location = _text(body, "locationExternalReference", 100)
            amount = _amount(body, "amountToRedeem")
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise SimError(400, "Bad Request", {"amountToRedeem": "a positive amount in cents"})
            cost = math.ceil(amount * REWARD_POINTS_PER_UNIT)
            if m.usable_at(location) < cost:
                raise SimError(400, "Insufficient points", {INSUFFICIENT_POINTS_CODE: f"{cost} points needed"})
            self._deduct(m, cost, location)
            code = str(uuid.uuid4())
            self.rewards[code] = {
                "redemptionCode": code,
                "profileId": m.profile_id,
                "rewardValue": float(amount),
                "rewardPointCost": cost,
                "rewardName": f"{amount} off",
                "status": "Active",
                "createdAt": _iso(self.clock()),
                "location": location,
            }
            self.issue_commits += 1
            public = ("redemptionCode", "rewardValue", "rewardPointCost", "rewardName")
            return {k: self.rewards[code][k] for k in public}

    def _reward(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise SimError(400, "Bad Request", {"body": "a JSON object is required"})
        m = self._member(body.get("profileId"))
        reward = self.rewards.get(str(body.get("redemptionCode")))
        if reward is None or reward["profileId"] != m.profile_id:
            raise SimError(404, "Reward not found", {"redemptionCode": "not found"})
        return reward

    def _move(self, body: Any, source: str, target: str, refund: bool) -> Any:
        """Moves a reward between statuses; the answer's ``data`` is null."""
        with self.lock:
            reward = self._reward(body)
            if reward["status"] != source:
                raise SimError(409, f"Reward is {reward['status']}", {"rewardStatus": reward["status"]})
            reward["status"] = target
            if refund:
                m = self.members[reward["profileId"]]
                m.points["Base"] = m.points.get("Base", 0) + reward["rewardPointCost"]
                m.used -= reward["rewardPointCost"]
        return None

    def redeem_reward(self, body: Any) -> Any:
        if isinstance(body, Mapping):
            _text(body, "locationExternalReference", 100)
        return self._move(body, "Active", "Redeemed", refund=False)

    def cancel_reward(self, body: Any) -> Any:
        return self._move(body, "Active", "Cancelled", refund=True)

    def reverse_reward(self, body: Any) -> Any:
        return self._move(body, "Redeemed", "Reversed", refund=True)

    def reward_history(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        try:
            limit, offset = int(query.get("limit", "20")), int(query.get("offset", "0"))
        except ValueError:
            raise SimError(400, "Bad Request", {"limit": "integers"}) from None
        if not 1 <= limit <= 100 or offset < 0:
            raise SimError(400, "Bad Request", {"limit": "1-100"})
        with self.lock:
            m = self._member(query.get("profileId"))
            mine = [dict(r) for r in self.rewards.values() if r["profileId"] == m.profile_id]
            mine.sort(key=lambda r: r["createdAt"], reverse=True)
            return [{k: v for k, v in r.items() if k != "location"} for r in mine[offset : offset + limit]]

    def reward_statuses(self, profile_id: str) -> list[str]:
        with self.lock:
            return [r["status"] for r in self.rewards.values() if r["profileId"] == profile_id]
