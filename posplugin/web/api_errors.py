"""Every error the local API v1 can answer, in one table, and the OpenAPI ``responses`` each operation declares.

Each code has one status. An operation names the codes it can return beyond the ones every call can; they are
grouped by status into the document, with the codes listed in each response's description.
"""

from __future__ import annotations

from typing import Any

# code → (status, when)
ERROR_CODES: dict[str, tuple[int, str]] = {
    "bad_host": (400, "the Host header is not 127.0.0.1:<port> or localhost:<port>"),
    "unauthorized": (401, "X-POS-Token is missing or wrong"),
    "forbidden_origin": (403, "a browser origin that is not allowed"),
    "not_found": (404, "no such path, op or record"),
    "member_not_found": (404, "no member for this code or id"),
    "member_not_found_search": (404, "no member with the e-mail address or phone number searched for"),
    "voucher_not_found": (404, "the voucher is not known for this member"),
    "promotion_not_found": (404, "the promotion is not known for this member"),
    "invalid_request": (422, "the request does not fit the contract (the message names the field)"),
    "invalid_code": (422, "the scanned text is not a member card, member number, id or app code"),
    "invalid_sale": (422, "the sale's amounts do not add up (error.details names the rule)"),
    "card_data_refused": (422, "a free-text field holds what looks like a payment card number"),
    "voucher_not_owned": (422, "the voucher does not belong to the member named"),
    "promotion_not_owned": (422, "the promotion assignment does not belong to the member named"),
    "invalid_email": (422, "the text searched for is not an e-mail address"),
    "invalid_mobilePhone": (422, "the text searched for is not a phone number"),
    "multiple_members": (409, "the code matches more than one member"),
    "voucher_busy": (409, "another operation on this voucher is still live"),
    "promotion_busy": (409, "another redemption of this promotion is still live"),
    "op_id_conflict": (409, "this opId was used for a different operation"),
    "op_state": (
        409,
        "the action does not apply to the op's state (resolve: conflict or parked; retry: parked or waiting;"
        " park: waiting)",
    ),
    "loyalty_not_configured": (409, "the loyalty backend's settings are incomplete (the message names the key)"),
    "sale_conflict": (409, "a different sale was sent with this receipt id"),
    "not_completed": (409, "the purchase is not completed yet"),
    "nothing_to_reprint": (409, "nothing has been printed since the agent started"),
    "nothing_to_reprint_member": (409, "nothing has been printed for this member since the agent started"),
    "enrolment_disabled": (409, "enrolment is switched off at this till, or no store id is set"),
    "printer_not_configured": (409, "no printer is set up"),
    "printer_config": (409, "the printer's code page is not usable"),
    "payload_too_large": (413, "the body is over [api] max_body_bytes"),
    "unsupported_media_type": (415, "a body that is not JSON"),
    "internal_error": (500, "a bug in the agent; it keeps running"),
    "not_supported": (404, "the loyalty backend in use has no such capability (health lists its features)"),
    "loyalty_error": (502, "the loyalty system answered with an error"),
    "loyalty_auth": (502, "the loyalty system refused our credentials (API key or client secret)"),
    "loyalty_offline": (503, "the loyalty system is unreachable and nothing cached can answer"),
    "loyalty_offline_search": (503, "a search by e-mail or phone needs the loyalty system, which is unreachable"),
    "loyalty_busy": (503, "too many lookups to the loyalty system at once; scan again in a moment"),
    "enrolment_offline": (503, "enrolling a member needs the loyalty system, which is unreachable; nothing was saved"),
    "enrolment_unconfirmed": (
        503,
        "the loyalty system has not confirmed the new member in time; trying again is safe (the agent looks it up"
        " first)",
    ),
    "printer_offline": (503, "the printer is off or not connected"),
    "printer_paper_out": (503, "the printer is out of paper"),
    "printer_cover_open": (503, "the printer's cover is open"),
}

STATUS_TEXT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    500: "Internal error",
    502: "Bad gateway",
    503: "Unavailable",
}

ERROR_REF = "#/components/schemas/ErrorBody"  # added to the document with the event models (api_routes)
EVERY_CALL = ("bad_host", "forbidden_origin", "internal_error")
WITH_TOKEN = ("unauthorized",)
WITH_INPUT = ("invalid_request",)  # a path parameter, query or body the contract refuses
WITH_PATH = ("not_found",)  # a path parameter that names nothing (or does not fit the path at all)
WITH_BODY = ("payload_too_large", "unsupported_media_type")


def error_responses(
    *codes: str, token: bool = True, body: bool = False, inputs: bool = True, path: bool = False
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of one operation for the codes it can return (plus the ones every call can)."""
    wanted = [
        *EVERY_CALL,
        *(WITH_TOKEN if token else ()),
        *(WITH_INPUT if inputs else ()),
        *(WITH_PATH if path else ()),
        *(WITH_BODY if body else ()),
        *codes,
    ]
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(wanted):
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    return {
        status: {
            "description": f"{STATUS_TEXT[status]}: " + "; ".join(f"`{c}` ({ERROR_CODES[c][1]})" for c in found),
            # Always JSON, also for an operation whose answer is not (the event stream).
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
        }
        for status, found in sorted(by_status.items())
    }


def codes_markdown() -> str:
    """The README's table of error codes (a test keeps the README in step with this table)."""
    rows = [f"| `{code}` | {status} | {when} |" for code, (status, when) in ERROR_CODES.items()]
    return "\n".join(["| code | status | when |", "| --- | --- | --- |", *rows])
