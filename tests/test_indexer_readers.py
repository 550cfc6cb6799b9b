"""Catalog readers: every format with good and bad rows, field mapping, encoding detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyseek.indexer.readers import (
    Reject,
    count_rows,
    detect_encoding,
    parse_mapping,
    read_catalog,
)
from tinyseek.search.types import Product


def split(items: list[Product | Reject]) -> tuple[list[Product], list[Reject]]:
    return (
        [i for i in items if isinstance(i, Product)],
        [i for i in items if isinstance(i, Reject)],
    )


def test_csv_latin1_good_and_bad_rows(tmp_path: Path) -> None:
    text = (
        "sku,name,price,brand\n"
        "A1,Café crème brûlée set,12.50,Crème & Co\n"
        ",Missing id row,3.00,X\n"
        "A2,Größe señor jalapeño grill,$1,299.00,Señor\n"  # unquoted comma: 5 fields
        'A3,"Quoted, with comma",abc,Y\n'
        "A1,Duplicate of the first,4.00,Z\n"
        'A4,"Multi\nline title",7,Ü\n'
    )
    path = tmp_path / "catalog.csv"
    path.write_bytes(text.encode("latin-1"))
    items = list(read_catalog(path, parse_mapping(["id=sku", "title=name"])))
    products, rejects = split(items)
    assert [p.id for p in products] == ["A1", "A4"]
    assert products[0].title == "Café crème brûlée set"
    assert products[0].brand == "Crème & Co"
    assert products[0].price == 12.5
    assert products[1].title == "Multi\nline title" and products[1].brand == "Ü"
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[3] == "missing id"
    assert reasons[4] == "expected 4 fields, got 5"
    assert reasons[5].startswith("price must be a number")
    assert reasons[6] == "duplicate id 'A1'"
    assert "jalapeño" in next(r.raw for r in rejects if r.line == 4)


def test_csv_utf8_with_an_undecodable_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(
        b"id,title\n"
        + "1,Crème fraîche bowl\n".encode()
        + b"2,Broken \xff\xfe bytes\n"
        + "3,Señor chair\n".encode()
    )
    products, rejects = split(list(read_catalog(path)))
    assert [p.title for p in products] == ["Crème fraîche bowl", "Señor chair"]
    assert len(rejects) == 1 and rejects[0].line == 3
    assert rejects[0].reason.startswith("undecodable text")


def test_csv_with_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes("\ufeffid,title\n1,Lampe à poser\n".encode())
    products, rejects = split(list(read_catalog(path)))
    assert not rejects and products[0].id == "1" and products[0].title == "Lampe à poser"


def test_detect_encoding() -> None:
    assert detect_encoding(b"id,title\n1,plain ascii\n") == "utf-8"
    assert detect_encoding("id,title\n1,Café\n".encode()) == "utf-8"
    latin = "id,title\n1,Café crème\n2,Größe señor\n".encode("latin-1")
    assert detect_encoding(latin) in ("cp1252", "latin_1", "iso8859_15")


def test_tsv_good_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "catalog.tsv"
    path.write_text(
        "id\ttitle\tprice\trating\tin_stock\n"
        '1\t12" "Deluxe" skillet\t19.99\t4.5\tyes\n'
        "2\tToo few fields\n"
        "3\tBad rating\t5\t7\tno\n"
        "4\tOut of stock lamp\t\t\tno\n"
        "5\tWeird stock\t1\t1\tmaybe\n",
        encoding="utf-8",
    )
    products, rejects = split(list(read_catalog(path)))
    assert [p.id for p in products] == ["1", "4"]
    assert products[0].title == '12" "Deluxe" skillet' and products[0].rating == 4.5
    assert products[1].in_stock is False and products[1].price is None
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[3] == "expected 5 fields, got 2"
    assert reasons[4] == "rating must be within 0-5, got 7.0"
    assert reasons[6].startswith("in_stock must be a boolean")


def test_jsonl_good_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "catalog.jsonl"
    lines = [
        json.dumps({"_id": "a", "title": "Oak table", "text": "Solid oak", "price": 10}).encode(),
        json.dumps({"title": "No id"}).encode(),
        b'{"_id": "b", "title": "Broken \xff"}',
        b"{not json",
        json.dumps({"_id": "a", "title": "Again"}).encode(),
        json.dumps({"_id": "c", "title": "Bad price", "price": "cheap"}).encode(),
        json.dumps({"_id": "d", "title": {"nested": "object"}}).encode(),
        json.dumps({"_id": "e", "title": "Attrs", "attributes": ["not", "a", "map"]}).encode(),
        b"[1, 2]",
        b"",
        json.dumps({"_id": 7, "title": "Numeric id", "attributes": {"size": 3}}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    products, rejects = split(list(read_catalog(path)))
    assert [p.id for p in products] == ["a", "7"]
    assert products[0].description == "Solid oak"
    assert products[1].attributes == {"size": "3"}
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[2] == "missing id"
    assert reasons[3].startswith("undecodable text")
    assert reasons[4].startswith("invalid JSON")
    assert reasons[5] == "duplicate id 'a'"
    assert reasons[6].startswith("price must be a number")
    assert reasons[7].startswith("title must be text")
    assert reasons[8].startswith("attributes must be an object")
    assert reasons[9].startswith("expected a JSON object")
    assert all(r.raw for r in rejects)
    json.loads(rejects[0].to_json())


def test_parquet_good_and_bad_rows(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "product_id": ["p1", None, "p3", "p1", "p5"],
            "name": [b"Desk lamp", b"No id", b"Bad \xff bytes", b"Dup", b"Kettle"],
            "price": ["9.5", "1", "2", "3", "free"],
            "attrs": [[("color", "red")], [], [], [], []],
        },
        schema=pa.schema(
            [
                ("product_id", pa.string()),
                ("name", pa.binary()),
                ("price", pa.string()),
                ("attrs", pa.map_(pa.string(), pa.string())),
            ]
        ),
    )
    path = tmp_path / "catalog.parquet"
    pq.write_table(table, path)
    mapping = parse_mapping(["title=name"])
    products, rejects = split(list(read_catalog(path, mapping)))
    assert [(p.id, p.title, p.price) for p in products] == [("p1", "Desk lamp", 9.5)]
    assert products[0].attributes == {"color": "red"}
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[2] == "missing id"
    assert reasons[3].startswith("undecodable text in column 'name'")
    assert reasons[4] == "duplicate id 'p1'"
    assert reasons[5].startswith("price must be a number")
    assert count_rows(path) == 5


def test_mapping_file_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "map.json").write_text(json.dumps({"title": ["headline", "name"]}))
    (tmp_path / "map.toml").write_text('title = "headline"\nbrand = "maker"\n')
    assert parse_mapping([], tmp_path / "map.json")["title"] == ("headline", "name")
    toml = parse_mapping(["price=cost"], tmp_path / "map.toml")
    assert toml["brand"] == ("maker",) and toml["price"] == ("cost",)
    assert toml["id"][0] == "id"  # defaults kept for fields not mentioned
    with pytest.raises(ValueError, match="unknown product field"):
        parse_mapping(["colour=red"])
    with pytest.raises(ValueError, match="FIELD=COLUMN"):
        parse_mapping(["title"])


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xml"
    path.write_text("<x/>")
    with pytest.raises(ValueError, match="unsupported catalog format"):
        read_catalog(path)
