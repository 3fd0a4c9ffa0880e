"""Cashier-facing texts in the supported languages (sv, en)."""

from __future__ import annotations

import re

# Description codes from seed 000 and the texts the vendor suggests (sv translations ours).
DESCRIPTION_CODES: dict[str, dict[str, str]] = {
    "@@(Bonus.Points)": {"en": "Points awarded from purchase", "sv": "Poäng för köp"},
    "@@(RemovedDueToTimeLimit)": {"en": "Deduction for expired points", "sv": "Avdrag för utgångna poäng"},
    "@@(Bonus.DeductionForDiscount)": {"en": "Deduction for discount", "sv": "Avdrag för rabatt"},
    "@@(Bonus.DeductionForReturn)": {"en": "Deduction for returned item", "sv": "Avdrag för returnerad vara"},
    "@@(ConvertedToBonusCheck)": {"en": "Points converted to voucher", "sv": "Poäng omvandlade till bonuscheck"},
}
_CODE = re.compile(r"@@\([A-Za-z0-9_.]+\)")

MESSAGES: dict[str, dict[str, str]] = {
    "invalid_code": {
        "en": "This is not a member card or app code. Scan again.",
        "sv": "Det här är inte ett medlemskort eller en app-kod. Skanna igen.",
    },
    "member_not_found": {"en": "No member found for this card.", "sv": "Ingen medlem hittades för kortet."},
    "multiple_members": {
        "en": "The card matches more than one member. Ask for another id.",
        "sv": "Kortet matchar flera medlemmar. Be om annan legitimering.",
    },
    "engage_offline": {
        "en": "Offline — cannot identify this member now. Continue the sale without loyalty.",
        "sv": "Offline — kan inte identifiera medlemmen nu. Fortsätt köpet utan bonus.",
    },
    "engage_error": {
        "en": "The loyalty system answered with an error. Try again.",
        "sv": "Bonussystemet svarade med ett fel. Försök igen.",
    },
    "engage_auth": {
        "en": "The loyalty system refused the API key. Ask the store manager to check the settings.",
        "sv": "Bonussystemet godkände inte API-nyckeln. Be butikschefen kontrollera inställningarna.",
    },
    "not_found": {"en": "Not found.", "sv": "Hittades inte."},
    "invalid_request": {"en": "The request was not understood.", "sv": "Begäran kunde inte tolkas."},
    "unauthorized": {"en": "Missing or wrong X-POS-Token.", "sv": "X-POS-Token saknas eller är fel."},
    "forbidden_origin": {
        "en": "This web page may not use the till agent.",
        "sv": "Den här webbsidan får inte använda kassaagenten.",
    },
    "bad_host": {"en": "Wrong Host header.", "sv": "Fel Host-huvud."},
    "payload_too_large": {"en": "The request is too large.", "sv": "Begäran är för stor."},
    "unsupported_media_type": {
        "en": "Send JSON (Content-Type: application/json).",
        "sv": "Skicka JSON (Content-Type: application/json).",
    },
    "internal_error": {
        "en": "Something went wrong in the till agent. It keeps running; try again.",
        "sv": "Något gick fel i kassaagenten. Den körs vidare; försök igen.",
    },
}


def message(code: str, language: str) -> str:
    texts = MESSAGES.get(code) or MESSAGES["internal_error"]
    return texts.get(language) or texts["en"]


def readable_description(description: str, language: str) -> str:
    """Replace ``@@(Code)`` placeholders with text; unknown codes become their bare name, never ``@@(...)``."""

    def swap(match: re.Match[str]) -> str:
        texts = DESCRIPTION_CODES.get(match.group(0))
        if texts:
            return texts.get(language) or texts["en"]
        return match.group(0)[3:-1].replace(".", " ")

    return _CODE.sub(swap, description).strip()
