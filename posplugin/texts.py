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
    "member_not_found_search": {
        "en": "No member found with this phone number or e-mail.",
        "sv": "Ingen medlem hittades med det telefonnumret eller den e-postadressen.",
    },
    "invalid_email": {"en": "This is not an e-mail address.", "sv": "Det här är inte en e-postadress."},
    "invalid_mobilePhone": {
        "en": "This is not a phone number (digits, optionally starting with +).",
        "sv": "Det här är inte ett telefonnummer (siffror, gärna med + först).",
    },
    "loyalty_offline_search": {
        "en": "Offline — searching by phone or e-mail needs a connection to the loyalty system.",
        "sv": "Offline — sökning på telefon eller e-post kräver anslutning till bonussystemet.",
    },
    "multiple_members": {
        "en": "The card matches more than one member. Ask for another id.",
        "sv": "Kortet matchar flera medlemmar. Be om annan legitimering.",
    },
    "loyalty_offline": {
        "en": "Offline — cannot identify this member now. Continue the sale without loyalty.",
        "sv": "Offline — kan inte identifiera medlemmen nu. Fortsätt köpet utan bonus.",
    },
    "loyalty_error": {
        "en": "The loyalty system answered with an error. Try again.",
        "sv": "Bonussystemet svarade med ett fel. Försök igen.",
    },
    "api_key_required": {
        "en": "A new Engage address needs its API key: enter the key for that address and save again.",
        "sv": "En ny Engage-adress kräver sin API-nyckel: ange nyckeln för adressen och spara igen.",
    },
    "client_secret_required": {
        "en": "A new fabric address needs its client secret: enter the secret for that address and save again.",
        "sv": "En ny fabric-adress kräver sin klienthemlighet: ange hemligheten för adressen och spara igen.",
    },
    "loyalty_busy": {
        "en": "Busy — too many lookups at once. Scan again in a moment.",
        "sv": "Upptaget — för många sökningar samtidigt. Skanna igen om en stund.",
    },
    "loyalty_auth": {
        "en": "The loyalty system refused the API key. Ask the store manager to check the settings.",
        "sv": "Bonussystemet godkände inte API-nyckeln. Be butikschefen kontrollera inställningarna.",
    },
    "not_found": {"en": "Not found.", "sv": "Hittades inte."},
    "loyalty_not_configured": {
        "en": "The loyalty system is not fully set up on this till. Ask the store manager.",
        "sv": "Bonussystemet är inte helt inställt på den här kassan. Fråga butikschefen.",
    },
    "not_supported": {
        "en": "The loyalty system in use cannot do this.",
        "sv": "Bonussystemet som används kan inte göra detta.",
    },
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
    "voucher_busy": {
        "en": "This voucher is already being redeemed or reactivated. Wait for that to finish.",
        "sv": "Bonuschecken håller redan på att lösas in eller återaktiveras. Vänta tills det är klart.",
    },
    "voucher_not_owned": {
        "en": "This voucher does not belong to the member on screen.",
        "sv": "Bonuschecken tillhör inte medlemmen som visas.",
    },
    "promotion_not_owned": {
        "en": "This offer does not belong to the member on screen.",
        "sv": "Erbjudandet tillhör inte medlemmen som visas.",
    },
    "promotion_busy": {
        "en": "This offer is already being redeemed. Wait for that to finish.",
        "sv": "Erbjudandet håller redan på att lösas in. Vänta tills det är klart.",
    },
    "promotion_not_found": {
        "en": "That offer is not known for this member.",
        "sv": "Erbjudandet finns inte för medlemmen.",
    },
    "op_state": {
        "en": "That cannot be done with the operation as it is now.",
        "sv": "Det går inte att göra med åtgärden som den är nu.",
    },
    "op_id_conflict": {
        "en": "This opId was already used for another operation.",
        "sv": "Detta opId har redan använts för en annan åtgärd.",
    },
    "printer_offline": {
        "en": "The printer is off or not connected.",
        "sv": "Skrivaren är avstängd eller inte ansluten.",
    },
    "printer_paper_out": {"en": "The printer is out of paper.", "sv": "Skrivaren har slut på papper."},
    "printer_cover_open": {"en": "The printer cover is open.", "sv": "Skrivarens lock är öppet."},
    "printer_unknown": {"en": "The printer does not answer.", "sv": "Skrivaren svarar inte."},
    "printer_not_configured": {"en": "No printer is set up for this till.", "sv": "Ingen skrivare är inställd."},
    "printer_will_print": {
        "en": "It prints if the printer is ready within 2 minutes; otherwise it is dropped — print it again.",
        "sv": "Det skrivs ut om skrivaren blir redo inom 2 minuter; annars slängs det — skriv ut igen.",
    },
    "nothing_to_reprint": {"en": "Nothing has been printed yet.", "sv": "Inget har skrivits ut ännu."},
    "nothing_to_reprint_member": {
        "en": "Nothing has been printed for this member yet.",
        "sv": "Inget har skrivits ut för den här medlemmen ännu.",
    },
    "reward_not_redeemed": {
        "en": "The reward is not redeemed yet; print it when it is.",
        "sv": "Belöningen är inte inlöst ännu; skriv ut den när den är det.",
    },
    "voucher_not_found": {
        "en": "That voucher is not known for this member.",
        "sv": "Bonuschecken finns inte för medlemmen.",
    },
    "pin_not_set": {"en": "No manager PIN is set yet. Set one first.", "sv": "Ingen chefs-PIN är satt ännu."},
    "pin_already_set": {"en": "A manager PIN is already set.", "sv": "En chefs-PIN är redan satt."},
    "wrong_pin": {"en": "Wrong PIN.", "sv": "Fel PIN."},
    "invalid_pin": {"en": "This PIN cannot be used.", "sv": "Den här PIN-koden kan inte användas."},
    "pin_locked": {
        "en": "Too many wrong PINs. Settings are locked for a while",
        "sv": "För många felaktiga PIN-koder. Inställningarna är låsta en stund",
    },
    "login_required": {
        "en": "Log in with the manager PIN (the session may have expired).",
        "sv": "Logga in med chefs-PIN (sessionen kan ha gått ut).",
    },
    "csrf_failed": {
        "en": "The settings page is out of date. Reload it and try again.",
        "sv": "Inställningssidan är inaktuell. Ladda om den och försök igen.",
    },
    "invalid_setting": {"en": "This setting is not valid.", "sv": "Inställningen är inte giltig."},
    "setting_managed": {
        "en": "This setting is managed centrally and cannot be changed here.",
        "sv": "Inställningen styrs centralt och kan inte ändras här.",
    },
    "config_not_writable": {
        "en": "The config file could not be written; nothing was changed.",
        "sv": "Konfigurationsfilen kunde inte skrivas; inget ändrades.",
    },
    "invalid_sale": {"en": "The sale does not add up.", "sv": "Försäljningen går inte ihop."},
    "card_data_refused": {
        "en": "The sale contains what looks like payment card data; it was not accepted.",
        "sv": "Försäljningen innehåller något som liknar kortdata; den togs inte emot.",
    },
    "sale_conflict": {
        "en": "A different sale was already sent with this receipt id.",
        "sv": "Ett annat kvitto har redan skickats med samma kvitto-id.",
    },
    "enrolment_disabled": {
        "en": "Enrolment is not available at this till (switched off, or no store id set). Ask the store manager.",
        "sv": "Medlemsregistrering är inte tillgänglig i kassan (avstängd eller inget butiks-id). Fråga butikschefen.",
    },
    "enrolment_offline": {
        "en": "Offline — enrolling a member needs a connection to the loyalty system. Nothing was saved; try again "
        "when the till is online.",
        "sv": "Offline — att registrera en medlem kräver anslutning till bonussystemet. Inget sparades; försök igen "
        "när kassan är online.",
    },
    "enrolment_unconfirmed": {
        "en": "The loyalty system has not confirmed the new member yet. Try again in a moment — the till checks "
        "first, so the member is never registered twice.",
        "sv": "Bonussystemet har inte bekräftat den nya medlemmen ännu. Försök igen om en stund — kassan kontrollerar "
        "först, så medlemmen registreras aldrig två gånger.",
    },
    "internal_error": {
        "en": "Something went wrong in the till agent. It keeps running; try again.",
        "sv": "Något gick fel i kassaagenten. Den körs vidare; försök igen.",
    },
}


# Why a scan is not a member code (scan_codes.InvalidCode.problem); {limit} is a length.
SCAN_PROBLEMS: dict[str, dict[str, str]] = {
    "too_long": {"en": "the scan is longer than {limit} characters", "sv": "skanningen är längre än {limit} tecken"},
    "empty": {"en": "the scan was empty", "sv": "skanningen var tom"},
    "web_link": {
        "en": "this QR code is a web link without a member id",
        "sv": "QR-koden är en webblänk utan medlems-id",
    },
    "not_a_code": {"en": "this is not a member card or app code", "sv": "inte ett medlemskort eller en app-kod"},
}
# Why an enrolment request is refused (posplugin.enrolment); {id} names a consent, {kind} an identifier.
ENROLMENT_PROBLEMS: dict[str, dict[str, str]] = {
    "identifier_count": {
        "en": "give exactly one identifier: email or mobilePhone",
        "sv": "ange exakt en identifierare: email eller mobilePhone",
    },
    "email": {
        "en": "This is not an e-mail address (name@example.com).",
        "sv": "Det här är inte en e-postadress (namn@exempel.se).",
    },
    "mobilePhone": {
        "en": "Enter the mobile number with country code: + and 8–15 digits, e.g. +46701234567.",
        "sv": "Ange mobilnumret med landsnummer: + och 8–15 siffror, t.ex. +46701234567.",
    },
    "first_name": {
        "en": "firstName: letters, spaces, hyphens, apostrophes and dots, at most 50",
        "sv": "firstName: bokstäver, mellanslag, bindestreck, apostrofer och punkter, högst 50",
    },
    "consent_missing": {
        "en": "consents.{id}: the shopper's answer (yes or no) is missing",
        "sv": "consents.{id}: kundens svar (ja eller nej) saknas",
    },
    "consent_unknown": {"en": "consents.{id} is not asked at this till", "sv": "consents.{id} frågas inte i kassan"},
    "consent_not_asked": {
        "en": "consents.{id} is not asked for an enrolment with {kind}",
        "sv": "consents.{id} frågas inte vid registrering med {kind}",
    },
}
PIN_ATTEMPTS_LEFT = {"en": "{left} left before a lockout", "sv": "{left} försök kvar innan spärr"}


def scan_problem(problem: str, limit: int, language: str) -> str:
    texts = SCAN_PROBLEMS.get(problem) or SCAN_PROBLEMS["not_a_code"]
    return (texts.get(language) or texts["en"]).format(limit=limit)


def enrolment_problem(problem: str, language: str, **values: str) -> str:
    texts = ENROLMENT_PROBLEMS[problem]
    return (texts.get(language) or texts["en"]).format(**values)


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


# Why an operation was rejected, in words for the cashier.
REASONS: dict[str, dict[str, str]] = {
    "already_redeemed": {"en": "already redeemed", "sv": "redan inlöst"},
    "expired": {"en": "expired", "sv": "har gått ut"},
    "not_found": {"en": "not found in the loyalty system", "sv": "finns inte i bonussystemet"},
    "invalid": {"en": "not a valid voucher", "sv": "inte en giltig bonuscheck"},
    "reactivation_limit": {"en": "cannot be reactivated again", "sv": "kan inte återaktiveras fler gånger"},
    "offline_not_allowed": {"en": "cannot be accepted while offline", "sv": "kan inte tas emot offline"},
    "insufficient_points": {"en": "not enough points", "sv": "för få poäng"},
    "item_not_found": {"en": "the item is no longer in the point shop", "sv": "varan finns inte längre i poängshopen"},
    "contact_not_found": {"en": "the member is not found", "sv": "medlemmen finns inte"},
    "promotion_removed": {"en": "the offer was removed", "sv": "erbjudandet är borttaget"},
    "promotion_expired": {"en": "the offer has ended", "sv": "erbjudandet har upphört"},
    "purchase_failed": {
        "en": "the loyalty system could not complete the purchase",
        "sv": "bonussystemet kunde inte genomföra köpet",
    },
    "purchase_id_taken": {"en": "purchase id already used", "sv": "köp-id redan använt"},
    "too_old": {"en": "not confirmed in time", "sv": "inte bekräftad i tid"},
    "too_many_attempts": {"en": "too many failed attempts", "sv": "för många misslyckade försök"},
    "parked_by_user": {"en": "stopped by the store manager", "sv": "stoppad av butikschefen"},
    "not_valid_for_channel": {"en": "not valid in store", "sv": "gäller inte i butik"},
    "invalid_promotion": {"en": "not a valid offer", "sv": "inte ett giltigt erbjudande"},
    "not_in_owner_offers": {
        "en": "not yet seen in the member's offers; checked again later",
        "sv": "syns inte ännu bland medlemmens erbjudanden; kontrolleras igen",
    },
    "not_in_owner_lists": {
        "en": "not yet seen in the member's vouchers; checked again later",
        "sv": "syns inte ännu bland medlemmens bonuscheckar; kontrolleras igen",
    },
}


def reason_text(reason: str | None, language: str) -> str:
    if not reason:
        return ""
    texts = REASONS.get(reason)
    if texts is None:
        return reason.replace("_", " ")
    return texts.get(language) or texts["en"]
