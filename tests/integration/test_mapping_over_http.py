"""SKU_MAP and TAG_PROPERTIES shaping the invitations of orders posted to a live receiver."""

import json

import pytest
import requests

from receiver.config import load_settings
from receiver.invitation import MAX_TAG
from support.data import base_env, basic_auth, fixture


@pytest.fixture
def settings(database_url, tmp_path):
    path = tmp_path / "skus.csv"
    path.write_text("segment_sku,trustpilot_sku\n45790-32,MONOPOLY-3RD\n505bd76785ebb509fc183733, UNO-CLASSIC\n")
    return load_settings(base_env(DATABASE_URL=database_url, SKU_MAP=str(path), TRUSTPILOT_TAGS="segment, Google Store",
                                  TAG_PROPERTIES="affiliation, Coupon, channel"), intake=True)


def post(base, message):
    return requests.post(f"{base}/segment", data=json.dumps(message), headers=basic_auth(), timeout=5)


def test_skus_are_mapped_by_sku_then_by_product_id(live_app, store):
    seed = fixture("order-completed-seed.json")
    seed["properties"]["products"].append({"product_id": "unmapped-id", "sku": "UNMAPPED-SKU"})
    seed["properties"]["products"].append({"product_id": "45790-32"})  # a product id that is a mapped SKU
    assert post(live_app, seed).status_code == 200
    # 45790-32 by its sku; the Uno by its product_id; the unmapped one as sent; repeats dropped
    assert store.reports.find(message_id=seed["messageId"]).skus == ("MONOPOLY-3RD", "UNO-CLASSIC", "UNMAPPED-SKU")


def test_tags_from_properties_sanitised_and_deduplicated(live_app, store):
    seed = fixture("order-completed-seed.json")
    seed["properties"].update(coupon=["hasbros", "Summer  Sale", "hasbros"], channel="x" * 100)
    assert post(live_app, seed).status_code == 200
    tags = store.reports.find(message_id=seed["messageId"]).tags
    assert tags == ("segment", "Google_Store", "affiliation:Google_Store", "coupon:hasbros", "coupon:Summer_Sale",
                    "channel:" + "x" * (MAX_TAG - len("channel:")))
    other = {**fixture("order-completed-no-products.json")}
    other["properties"]["affiliation"] = "  "  # blank: no tag
    post(live_app, other)
    assert store.reports.find(message_id=other["messageId"]).tags == ("segment", "Google_Store")
