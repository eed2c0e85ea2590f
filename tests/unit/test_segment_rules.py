"""Segment's rules as pure functions: any casing of a key folds to one snake_case key, and the integrations
object says whether a message is for us."""

from hypothesis import given
from hypothesis import strategies as st

from receiver.segment import normalise_keys, snake_key

# words of two letters or more: "AA" could be one word or two, in any rule
words = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8), min_size=1, max_size=4)


@given(words)
def test_every_common_casing_of_a_name_folds_to_the_same_key(parts):
    expected = "_".join(parts)
    spellings = [
        "_".join(parts),  # snake_case
        parts[0] + "".join(part.capitalize() for part in parts[1:]),  # camelCase
        "".join(part.capitalize() for part in parts),  # PascalCase
        "_".join(parts).upper(),  # SCREAMING_SNAKE
        "-".join(parts),  # kebab-case
        " ".join(part.capitalize() for part in parts),  # Title Case
    ]
    for spelling in spellings:
        assert snake_key(spelling) == expected, spelling


@given(st.text(alphabet="abcXYZ019_- ", max_size=20))
def test_folding_is_idempotent(key):
    assert snake_key(snake_key(key)) == snake_key(key)


@given(st.recursive(st.none() | st.booleans() | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(alphabet="aAbB_", max_size=6), children, max_size=3),
                    max_leaves=12))
def test_normalising_twice_changes_nothing(value):
    assert normalise_keys(normalise_keys(value)) == normalise_keys(value)
