"""Hypothesis strategies for Segment-shaped input: any JSON value, and messages that look more or less like an
order (the right keys with any values, or any of Segment's keys with any values)."""

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
_keys = st.sampled_from(["type", "messageId", "event", "properties", "context", "userId", "timestamp", "traits",
                         "integrations", "anonymousId"])
_property_keys = st.sampled_from(["order_id", "orderId", "email", "name", "surname", "products", "first_name",
                                  "locale"])
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "TRACK", "bogus"]) | json_values,
     "event": st.just("Order Completed") | json_values,
     "properties": st.dictionaries(_property_keys, json_values, max_size=6) | json_values},
    optional={"messageId": json_values, "context": json_values, "timestamp": json_values},
) | st.dictionaries(_keys, json_values, max_size=8)
