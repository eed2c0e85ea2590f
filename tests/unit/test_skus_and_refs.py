"""Issue 17, point 9 (part): at most MAX_SKUS SKUs per invitation, and one order however its ref is spelt."""

import unicodedata

import pytest

from receiver.invitation import NOTE, Rules, invitation_and_sources, order_ref
from receiver.segment import parse_message
from receiver.text import normal_ref


def order(products):
    return parse_message({"type": "track", "event": "Order Completed", "messageId": "m-1",
                          "properties": {"order_id": "R-1", "email": "jane@example.com", "products": products}})


def test_skus_over_max_skus_are_dropped_with_a_note():
    invitation, sources = invitation_and_sources(order([{"sku": f"S-{n}"} for n in range(105)]), Rules())
    assert invitation.skus == tuple(f"S-{n}" for n in range(100))
    assert sources[NOTE] == "5 SKUs over MAX_SKUS=100 dropped"


def test_max_skus_is_a_rule():
    invitation, sources = invitation_and_sources(order([{"sku": "A"}, {"sku": "B"}, {"sku": "A"}]), Rules(max_skus=1))
    assert invitation.skus == ("A",) and sources[NOTE] == "1 SKU over MAX_SKUS=1 dropped"


def test_an_order_within_max_skus_has_no_note():
    assert NOTE not in invitation_and_sources(order([{"sku": "A"}]), Rules())[1]


@pytest.mark.parametrize("spelling", [
    "A\u200b1", "\ufeffA1", "A\u200d1", "A1\u2060", "\u200eA1\u200f", "A\u00ad1", " A1\u200c ",
])
def test_invisible_characters_do_not_make_another_order(spelling):
    assert order_ref({"order_id": spelling}) == "A1"


def test_nfd_and_nfc_are_one_order():
    nfc = "Café-1"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc and order_ref({"order_id": nfd}) == order_ref({"order_id": nfc}) == nfc


def test_a_ref_of_invisible_characters_only_is_missing():
    with pytest.raises(ValueError, match="Missing order_id"):
        order_ref({"order_id": "\u200b\u200b"})


def test_normal_ref_is_stable():
    for text in ("A\u200b1", "e\u0301", "ﬁ-1", "R 1"):
        assert normal_ref(normal_ref(text)) == normal_ref(text)
    assert normal_ref("ﬁ-1") == "ﬁ-1"  # NFC, not NFKC: a compatibility character is the shop's own spelling
