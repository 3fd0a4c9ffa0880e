"""Amounts, points and dates the way a Swedish or English receipt writes them."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

SYMBOLS_SV = {"SEK": "kr", "EUR": "€", "NOK": "NOK", "DKK": "DKK"}
SYMBOLS_EN = {"EUR": "€", "GBP": "£", "USD": "$"}


def _grouped(value: Decimal, thousands: str, decimal: str, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"
    return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)


def money(amount: float | int | str | Decimal, currency: str, language: str) -> str:
    value = Decimal(str(amount))
    if language == "sv":
        return f"{_grouped(value, ' ', ',', 2)} {SYMBOLS_SV.get(currency, currency)}"
    symbol = SYMBOLS_EN.get(currency)
    number = _grouped(value, ",", ".", 2)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def amount(value: float | int | str | Decimal, language: str) -> str:
    """A money amount without a currency (a fabric reward's value is a plain decimal): ``1 250,00`` / ``1,250.00``."""
    number = Decimal(str(value))
    return _grouped(number, " ", ",", 2) if language == "sv" else _grouped(number, ",", ".", 2)


def points(value: float | int, language: str) -> str:
    number = Decimal(str(value))
    places = 0 if number == number.to_integral_value() else 1
    return _grouped(number, " " if language == "sv" else ",", "," if language == "sv" else ".", places)


def percent(value: float | int | str | Decimal, language: str) -> str:
    """``20 %`` in Swedish (a space before the sign), ``20%`` in English; a fraction only when there is one."""
    number = Decimal(str(value))
    places = 0 if number == number.to_integral_value() else 1
    text = _grouped(number, " " if language == "sv" else ",", "," if language == "sv" else ".", places)
    return f"{text} %" if language == "sv" else f"{text}%"


def date(value: str | datetime | None, language: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = value.astimezone()
    return local.strftime("%Y-%m-%d") if language == "sv" else local.strftime("%d %b %Y")


def timestamp(value: datetime, language: str) -> str:
    local = value.astimezone()
    return local.strftime("%Y-%m-%d %H:%M") if language == "sv" else local.strftime("%d %b %Y %H:%M")


def mask_number(number: str) -> str:
    """A member or voucher number as a receipt may show it in full view: the last four characters."""
    if len(number) <= 4:
        return number
    return "*" * (len(number) - 4) + number[-4:]
