"""The endpoint label: paths of the loyalty APIs as templates, never an id, and a bounded number of them."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.metrics.endpoints import ID, MAX_TEMPLATES, OTHER, EndpointLabels, path_template

GUID = "6b8a2b5e-1c3d-4e5f-9a0b-123456789abc"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (f"/api/v3/contacts/{GUID}", "/api/v3/contacts/{id}"),
        (f"/api/v3/contacts/{GUID}/bonuschecks", "/api/v3/contacts/{id}/bonuschecks"),
        ("/api/v3/contacts/id", "/api/v3/contacts/id"),  # Engage's lookup path: the id is in the query
        (f"/api/v3/reward-vouchers/{GUID}/redeem", "/api/v3/reward-vouchers/{id}/redeem"),
        ("/api/v3/reward-vouchers/available", "/api/v3/reward-vouchers/available"),
        ("/api/v3/point-accounts/definitions/3", "/api/v3/point-accounts/definitions/{id}"),
        ("/api/v3/point-shop-items/purchase", "/api/v3/point-shop-items/purchase"),
        ("/v1/inquire/profile_0042/member-points", "/v1/inquire/{id}/member-points"),
        ("/api/v3/contacts/1000003", "/api/v3/contacts/{id}"),  # a member number
        ("/api/v3/contacts/anna@example.com", "/api/v3/contacts/{id}"),
        ("/api/v3/contacts/Anna", "/api/v3/contacts/{id}"),  # not a lower-case word
        ("/api/v3/contacts/abcdefab-cdef-abcd-efab-cdefabcdefab", "/api/v3/contacts/{id}"),  # all-letter GUID
        ("/", "/"),
    ],
)
def test_ids_become_placeholders_and_words_stay(path: str, template: str) -> None:
    assert path_template(path) == template


ids = st.one_of(
    st.uuids().map(str),
    st.integers(min_value=0, max_value=10**15).map(str),
    st.emails(),
    st.text(min_size=1, max_size=30).filter(lambda t: "/" not in t),
)
words = st.sampled_from(["api", "v3", "contacts", "reward-vouchers", "redeem", "point-accounts", "id"])


@given(st.lists(st.tuples(words, ids), min_size=1, max_size=4))
def test_no_id_ever_reaches_the_label(parts: list[tuple[str, str]]) -> None:
    path = "/" + "/".join(f"{word}/{value}" for word, value in parts)
    template = path_template(path)
    for segment in template.strip("/").split("/"):
        assert segment == ID or segment.replace("-", "").isalpha() or segment.startswith("v"), template
    for _, value in parts:
        if any(ch.isdigit() or ch.isupper() or ch in "@._%+ " for ch in value) or len(value) > 40:
            assert f"/{value}/" not in template + "/", (value, template)


def test_the_number_of_templates_is_capped() -> None:
    labels = EndpointLabels(limit=3)
    words = ("orders", "items", "points", "stores", "tills")
    seen = [labels.label(f"/api/v3/{word}/{uuid.uuid4()}") for word in words]
    assert seen == ["/api/v3/orders/{id}", "/api/v3/items/{id}", "/api/v3/points/{id}", OTHER, OTHER]
    assert labels.label(f"/api/v3/items/{uuid.uuid4()}") == "/api/v3/items/{id}"  # a known one stays itself
    assert MAX_TEMPLATES <= 100


def test_a_path_deeper_than_any_api_is_other() -> None:
    assert path_template("/a" * 9) == OTHER
