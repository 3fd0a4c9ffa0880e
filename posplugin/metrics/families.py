"""The metric families the agent exports: names, help texts, label values and buckets.

The names and labels are a contract (dashboards and alert rules are written against them, docs/metrics.md
lists each); change one only with a CHANGELOG entry. No family carries a member id, a code, a name or any other
personal data, and every label has a bounded set of values.
"""

from __future__ import annotations

PREFIX = "posplugin_"

BUILD_INFO = "posplugin_build"  # exposed as posplugin_build_info (an info metric)
LOYALTY_UP = "posplugin_loyalty_up"
QUEUE_OPS = "posplugin_queue_ops"
QUEUE_OLDEST_PENDING_AGE = "posplugin_queue_oldest_pending_age_seconds"
OPS = "posplugin_ops"  # a counter: posplugin_ops_total
LOYALTY_REQUEST_DURATION = "posplugin_loyalty_request_duration_seconds"
IDENTIFY_DURATION = "posplugin_identify_duration_seconds"
PRINTER_UP = "posplugin_printer_up"
PRINTS = "posplugin_prints"  # posplugin_prints_total
RATE_LIMITED = "posplugin_rate_limited"  # posplugin_rate_limited_total

HELP = {
    BUILD_INFO: "The agent's version and loyalty backend; store and till where configured. Always 1.",
    LOYALTY_UP: "1 while the loyalty system answers (online), 0 while it is offline or not yet known.",
    QUEUE_OPS: "Operations in the outbox by state: pending (waiting to be sent or confirmed), sending (on the "
    "wire), parked and conflict (both need a person).",
    QUEUE_OLDEST_PENDING_AGE: "Age of the oldest operation not yet confirmed (pending or sending); 0 when none.",
    OPS: "Operations the outbox worker brought to an end, by kind and outcome.",
    LOYALTY_REQUEST_DURATION: "Requests to the loyalty system that went out, by endpoint (a path template without "
    "ids), until the whole answer arrived or the request failed.",
    IDENTIFY_DURATION: "Member identifications answered, by where the answer came from (live or cache).",
    PRINTER_UP: "1 while the printer can print (or cannot tell), 0 while it is offline, out of paper or open. "
    "Absent when no printer is configured.",
    PRINTS: "Receipts by how they ended: printed, expired (not printed within its time-to-live) or refused "
    "(the printer said it could not print before anything was queued).",
    RATE_LIMITED: "Answers 429 (too many requests) from the loyalty system.",
}

# The outbox's final states as outcome words; an op parked and later retried counts once for each ending.
OP_OUTCOMES = ("confirmed", "rejected", "conflict", "parked")
QUEUE_STATES = ("pending", "sending", "parked", "conflict")
IDENTIFY_SOURCES = ("live", "cache")
PRINT_OUTCOMES = ("printed", "expired", "refused")

# Few buckets: a fleet of thousands of tills multiplies every series. A cashier waits up to the cashier deadline
# (2.5 s by default) before the cache answers.
IDENTIFY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Lookups time out after 10 s, redeems and receipts after 75 s.
REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 90.0)


def exported_names() -> frozenset[str]:
    """Every sample name the agent can expose: what alert rules and dashboards may refer to."""
    names = {
        f"{BUILD_INFO}_info",
        LOYALTY_UP,
        QUEUE_OPS,
        QUEUE_OLDEST_PENDING_AGE,
        PRINTER_UP,
    }
    names |= {f"{counter}_total" for counter in (OPS, PRINTS, RATE_LIMITED)}
    for histogram in (LOYALTY_REQUEST_DURATION, IDENTIFY_DURATION):
        names |= {f"{histogram}{suffix}" for suffix in ("_bucket", "_count", "_sum")}
    return frozenset(names)
