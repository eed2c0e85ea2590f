"""SKU_MAP and TAG_PROPERTIES: the file format, its checks at start, and the tag rule (the invitations they shape
over real HTTP are in tests/integration/test_mapping_over_http.py)."""

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from receiver.cli import main
from receiver.config import ConfigError, load_settings, parse_sku_map
from receiver.invitation import MAX_TAG, sanitise_tag
from support.data import base_env

SKU_CSV = """\
segment_sku,trustpilot_sku
# tracking SKU or product id, then the catalogue's SKU
45790-32,MONOPOLY-3RD
505bd76785ebb509fc183733, UNO-CLASSIC

"with,comma",QUOTED-OK
"""


# -- the file ------------------------------------------------------------------------------------------

def test_the_format():
    assert parse_sku_map(SKU_CSV) == {"45790-32": "MONOPOLY-3RD", "505bd76785ebb509fc183733": "UNO-CLASSIC",
                                      "with,comma": "QUOTED-OK"}
    assert parse_sku_map("a,b\nc,d\n") == {"a": "b", "c": "d"}  # the header is optional
    assert parse_sku_map("") == {}


def test_every_bad_line_is_named():
    text = "segment_sku,trustpilot_sku\nA,1\nB\nC,2,extra\n,3\nA,4\nD," + "x" * 201 + "\n"
    with pytest.raises(ValueError) as bad:
        parse_sku_map(text)
    assert str(bad.value).splitlines() == [
        "SKU_MAP line 3: expected 2 cells (Segment SKU, Trustpilot SKU), found 1",
        "SKU_MAP line 4: expected 2 cells (Segment SKU, Trustpilot SKU), found 3",
        "SKU_MAP line 5: an empty cell",
        "SKU_MAP line 6: this Segment SKU is already mapped on line 2",
        "SKU_MAP line 7: a SKU longer than 200 characters",
    ]


def test_problems_with_the_file_stop_the_start(tmp_path):
    missing = tmp_path / "missing.csv"
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00a,b")
    empty = tmp_path / "empty.csv"
    empty.write_text("# nothing yet\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\nc\n")
    for path, problem in [
        (missing, f"SKU_MAP: cannot read {missing} (No such file or directory)"),
        (binary, f"SKU_MAP: {binary} is not UTF-8 text"),
        (empty, f"SKU_MAP: {empty} maps no SKU"),
        (broken, "SKU_MAP line 2: expected 2 cells (Segment SKU, Trustpilot SKU), found 1"),
    ]:
        with pytest.raises(ConfigError) as refused:
            load_settings(base_env(SKU_MAP=str(path)))
        assert refused.value.problems == [problem]
    result = CliRunner().invoke(main, ["serve"], env=base_env(SKU_MAP=str(broken)))
    assert result.exit_code == 2
    assert result.output.strip() == ("configuration error: SKU_MAP line 2: expected 2 cells (Segment SKU, "
                                     "Trustpilot SKU), found 1")


def test_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsegment_sku,trustpilot_sku\r\nA,B\r\n".encode())
    assert dict(load_settings(base_env(SKU_MAP=str(path))).trustpilot.sku_map) == {"A": "B"}


# -- tags ---------------------------------------------------------------------------------------------

@given(st.text(max_size=100))
def test_a_sanitised_tag_has_no_space_is_bounded_and_stays_put(tag):
    clean = sanitise_tag(tag)
    assert not any(char.isspace() for char in clean)
    assert len(clean) <= MAX_TAG
    assert sanitise_tag(clean) == clean
