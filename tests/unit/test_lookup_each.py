"""``lookup_each`` finds, in one pass over a source, what ``lookup`` finds for each name on its own: the same key
and value for every name, whatever the keys' casing, separators, order, placeholders and repeats."""

from hypothesis import given
from hypothesis import strategies as st

from receiver.segment import SKU_KEYS, lookup, lookup_each

NAMES = ("first_name", "last_name", "surname", "name")
SPELLINGS = ["first_name", "firstName", "FIRST-NAME", "First Name", "last_name", "lastName", "LastName", "surname",
             "Surname", "name", "NAME", "sku", "SKU", "product_id", "productId", "id", "ID", "email", "other", "Name "]
VALUES = st.one_of(st.none(), st.sampled_from(["", "  ", "undefined", "n/a", "null", "Ann", "Lee", "x1"]),
                   st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))
SOURCES = st.lists(st.tuples(st.sampled_from(SPELLINGS), VALUES), max_size=12).map(dict)


@given(SOURCES, st.sampled_from([NAMES, SKU_KEYS, ("name", "first_name"), ("surname",)]))
def test_each_name_is_found_as_lookup_finds_it_alone(source, names):
    each = lookup_each(source, names)
    for name in names:
        assert each.get(name) == lookup(source, (name,))
    assert list(each) == [name for name in names if name in each]


def test_the_first_key_with_a_value_wins_in_the_order_sent():
    source = {"firstName": "undefined", "FIRST_NAME": "Ann", "first_name": "Other", "Surname": "Lee"}
    assert lookup_each(source, NAMES) == {"first_name": ("FIRST_NAME", "Ann"), "surname": ("Surname", "Lee")}
