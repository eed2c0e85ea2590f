"""The ``SKU_MAP`` file: Segment SKUs -> the SKUs of the Trustpilot product catalogue, one problem line per bad row."""

from __future__ import annotations

import csv
import io
from types import MappingProxyType

from .declare import Kind, Setting

SKU_MAP_HEADER = ("segment_sku", "trustpilot_sku")
MAX_SKU = 200


def parse_sku_map(text: str, name: str = "SKU_MAP") -> dict[str, str]:
    """A CSV of ``segment_sku,trustpilot_sku`` rows -> a dict; ``ValueError`` lists every bad line.

    One mapping per row: the Segment ``sku`` or ``product_id``, then the SKU of the Trustpilot product
    catalogue. An optional header row ``segment_sku,trustpilot_sku``; blank lines and lines starting
    with ``#`` are skipped. A row with another number of cells, an empty cell, a SKU over 200
    characters or a Segment SKU mapped twice is an error naming its line.
    """
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    seen_row = False
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        for row in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            is_header = not seen_row and tuple(cell.lower() for cell in cells) == SKU_MAP_HEADER
            seen_row = True
            if is_header:
                continue
            if len(cells) != 2:
                problems.append(f"{name} line {line}: expected 2 cells (Segment SKU, Trustpilot SKU), found {len(cells)}")
            elif not all(cells):
                problems.append(f"{name} line {line}: an empty cell")
            elif any(len(cell) > MAX_SKU for cell in cells):
                problems.append(f"{name} line {line}: a SKU longer than {MAX_SKU} characters")
            elif cells[0] in first_line:
                problems.append(f"{name} line {line}: this Segment SKU is already mapped on line {first_line[cells[0]]}")
            else:
                mapping[cells[0]] = cells[1]
                first_line[cells[0]] = line
    except csv.Error as exc:
        problems.append(f"{name} line {reader.line_num}: not valid CSV ({exc})")
    if problems:
        raise ValueError("\n".join(problems))
    return mapping


def read_sku_map(path: str, name: str = "SKU_MAP") -> dict[str, str]:
    """``parse_sku_map`` of the UTF-8 file at ``path``; ``ValueError`` says why it cannot be used."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}: {path} is not UTF-8 text") from None
    mapping = parse_sku_map(text, name)
    if not mapping:
        raise ValueError(f"{name}: {path} maps no SKU")
    return mapping


class SkuMapFile(Kind):
    """A CSV file of ``segment_sku,trustpilot_sku`` rows (``parse_sku_map``: one problem line per bad row)."""

    label = "CSV file"
    refused = ("/nonexistent/sku-map.csv",)

    def __init__(self) -> None:
        super().__init__(empty=MappingProxyType({}))

    def parse(self, text: str, setting: Setting) -> MappingProxyType[str, str]:
        return MappingProxyType(read_sku_map(text, setting.name))
