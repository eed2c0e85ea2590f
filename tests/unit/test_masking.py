"""Masking of addresses for logs, errors and screens."""

from receiver.logs import scrub
from receiver.privacy import mask_email


def test_mask_email():
    assert mask_email("jane.doe@example.com") == "j***e@example.com"
    assert mask_email("john.doe@example.com") == "j***e@example.com"
    assert mask_email("jack@example.com") == "j***k@example.com"  # two Js at one domain: told apart
    assert mask_email("jo@example.com") == "j***@example.com"  # too short to show a last letter
    assert mask_email("@example.com") == "***@example.com"
    assert mask_email("nonsense") == "***" and mask_email(None) == "***"


def test_scrub_masks_every_address_in_free_text():
    assert scrub("to jane.doe@example.com and <x+y@sub.example.co.uk>, ok") == \
        "to j***e@example.com and <x***y@sub.example.co.uk>, ok"
