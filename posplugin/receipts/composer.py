"""Turning facts into a receipt: the renderer for the configured printer and the placeholder values of each
layout. Needs only the config — the doctor, the benchmarks and the tests use it without an agent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..config import Config
from . import formatting as fmt
from .encoding import code_page
from .layout import Block, ReceiptRenderer
from .templates import TEXTS

PAPER_DOTS = {58: 384, 80: 576}
PAPER_COLUMNS = {58: 32, 80: 48}


class ReceiptComposer:
    def __init__(self, config: Config, clock: Callable[[], float]) -> None:
        self.config = config
        self.language = config.agent.language
        self.clock = clock
        self._renderer: ReceiptRenderer | None = None
        self._renderer_lock = threading.Lock()

    @property
    def renderer(self) -> ReceiptRenderer:
        """Built on first use (python-escpos takes a while to load); ``start`` warms it in the background."""
        with self._renderer_lock:
            if self._renderer is None:
                pc = self.config.printer
                self._renderer = ReceiptRenderer(
                    profile=pc.profile,
                    code_page=code_page(pc.profile, pc.codepage),
                    columns=pc.columns or PAPER_COLUMNS[pc.paper_mm],
                    paper_dots=PAPER_DOTS[pc.paper_mm],
                    logo=self.config.receipt.logo_path,
                )
                self._renderer.render((), {})  # loads python-escpos's printer classes too
            return self._renderer

    def render(self, layout: tuple[Block, ...], context: Mapping[str, Any]) -> bytes:
        return self.renderer.render(layout, {**self.base_context(), **context})

    # ---- contexts --------------------------------------------------------------------------------------

    def base_context(self) -> dict[str, Any]:
        agent = self.config.agent
        texts = TEXTS[self.language]
        store = " · ".join(
            x
            for x in (
                f"{texts['t_store']} {agent.store_id}" if agent.store_id else "",
                f"{texts['t_till']} {agent.till_id}" if agent.till_id else "",
            )
            if x
        )
        return {
            **texts,
            "header": [{"line": line} for line in self.config.receipt.header],
            "footer": [{"line": line} for line in self.config.receipt.footer],
            "store_line": store,
            "printed_at": fmt.timestamp(datetime.fromtimestamp(self.clock(), UTC), self.language),
        }

    def member_context(self, view: Mapping[str, Any]) -> dict[str, Any]:
        contact = view.get("contact", {})
        return {
            "member_name": f"{contact.get('firstName', '')} {contact.get('lastName', '')}".strip(),
            "member_number_masked": fmt.mask_number(str(contact.get("memberNumber") or "")),
        }

    def voucher_context(
        self, view: Mapping[str, Any], voucher: Mapping[str, Any], used: bool = False
    ) -> dict[str, Any]:
        """``used``: redeemed, or a redemption is on its way — the slip says so and carries no barcode."""
        value = voucher.get("value") or {}
        return {
            "used": used,
            "valid": not used,
            **self.base_context(),
            **self.member_context(view),
            "voucher_name": voucher.get("name", ""),
            "voucher_value": fmt.money(value["amount"], value["currency"], self.language) if value else "",
            "local_values": [
                {"value": fmt.money(v["amount"], v["currency"], self.language)}
                for v in voucher.get("localValues") or []
                if v
            ],
            "voucher_expires": fmt.date(voucher.get("expiresOn"), self.language),
            "voucher_number": voucher.get("voucherNumber", ""),
        }

    def promotion_context(
        self, view: Mapping[str, Any], promotion: Mapping[str, Any], used: bool = False
    ) -> dict[str, Any]:
        """A promotion's slip (``promotion`` as the member view shows it); ``used``: redeemed or on its way."""
        return {
            "used": used,
            **self.base_context(),
            **self.member_context(view),
            "promotion_name": promotion.get("name") or promotion.get("heading") or "",
            "promotion_heading": promotion.get("heading") if promotion.get("name") else "",
            "promotion_value": self.promotion_value(promotion),
            "local_values": [
                {"value": fmt.money(v["amount"], v["currency"], self.language)}
                for v in promotion.get("localValues") or []
                if v
            ],
            "promotion_expires": fmt.date(promotion.get("expiresOn"), self.language),
            "promotion_description": promotion.get("description") or "",
            "promotion_instruction": promotion.get("instruction") or "",
            "assignment_id": promotion.get("id", ""),
        }

    def promotion_value(self, promotion: Mapping[str, Any]) -> str:
        """What the offer is worth, as the panel writes it: an amount, a percentage or the vendor's words."""
        value = promotion.get("value")
        if value:
            return fmt.money(value["amount"], value["currency"], self.language)
        if promotion.get("percent") is not None:
            return fmt.percent(promotion["percent"], self.language)
        return str(promotion.get("valueText") or "")

    def balance_context(self, view: Mapping[str, Any], voucher_list: bool = True) -> dict[str, Any]:
        """``voucher_list``: the backend keeps waiting vouchers (Engage); without them the slip lists none."""
        points = view.get("points", {})
        vouchers = [
            {
                "name": v.get("name", ""),
                "value": fmt.money(v["value"]["amount"], v["value"]["currency"], self.language)
                if v.get("value")
                else "",
                "expires": fmt.date(v.get("expiresOn"), self.language),
            }
            for v in view.get("vouchers", [])
        ]
        return {
            **self.base_context(),
            **self.member_context(view),
            "points_balance": fmt.points(points.get("balance", 0), self.language),
            "points_pending": fmt.points(points.get("pending", 0), self.language),
            "restricted": self.restricted_lines(points),
            "voucher_list": voucher_list,
            "vouchers": vouchers,
            "no_vouchers": not vouchers,
        }

    def restricted_lines(self, points: Mapping[str, Any]) -> list[dict[str, str]]:
        """Points that count only at another store (fabric), one line each: not part of the balance here."""
        template = TEXTS[self.language]["t_restricted"]
        return [
            {"line": template.format(points=fmt.points(r.get("points", 0), self.language), location=r.get("location"))}
            for r in points.get("restricted") or ()
            if not r.get("usableHere")
        ]

    def reward_context(
        self, view: Mapping[str, Any], amount: str, code: str, redeemed_at: float, undone: bool = False
    ) -> dict[str, Any]:
        """``undone``: an undo is under way or done — the slip says so and carries no QR code."""
        return {
            **self.base_context(),
            **self.member_context(view),
            "valid": not undone,
            "undone": undone,
            "reward_amount": fmt.amount(amount, self.language),
            "redeemed_at": fmt.timestamp(datetime.fromtimestamp(redeemed_at, UTC), self.language),
            "redemption_code": code,
        }

    def test_context(self) -> dict[str, Any]:
        pc = self.config.printer
        return {
            **self.base_context(),
            "sample_amount": fmt.money(195, "SEK", self.language),
            "printer_line": f"{pc.backend} {pc.profile} {pc.codepage} {pc.paper_mm} mm",
        }
