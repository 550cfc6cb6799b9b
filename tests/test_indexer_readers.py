"""Catalog readers: every format with good and bad rows, field mapping, encoding detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyseek.indexer.prices import CatalogCurrency
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


# ----------------------------------------------------------------------- broken quoting
def csv_rows(n: int) -> list[str]:
    return [f"R{i},Product number {i},{i}.50,Brand{i % 3}\n" for i in range(n)]


def test_a_stray_quote_spoils_only_its_own_line(tmp_path: Path) -> None:
    rows = csv_rows(500)
    rows[100] = 'R100,"Stray quote product,100.50,Brand1\n'  # opened, never closed
    rows[300] = 'R300,Fine "inch" product,300.50,Brand0\n'  # quotes inside a field: fine
    path = tmp_path / "catalog.csv"
    path.write_text("id,title,price,brand\n" + "".join(rows), encoding="utf-8")
    products, rejects = split(list(read_catalog(path)))
    assert len(products) == 499 and [r.line for r in rejects] == [102]
    assert "quote" in rejects[0].reason and rejects[0].raw.startswith("R100,")
    assert {p.id for p in products} == {f"R{i}" for i in range(500)} - {"R100"}


def test_an_unclosed_quote_near_the_end_merges_nothing(tmp_path: Path) -> None:
    rows = csv_rows(10)
    rows[8] = 'R8,"Lamp with an unclosed quote,8.50,Brand2\n'
    path = tmp_path / "catalog.csv"
    path.write_text("id,title,price,brand\n" + "".join(rows), encoding="utf-8")
    products, rejects = split(list(read_catalog(path)))
    assert [p.id for p in products] == [f"R{i}" for i in range(10) if i != 8]
    assert [r.line for r in rejects] == [10]


def test_a_quote_closed_lines_later_does_not_swallow_rows(tmp_path: Path) -> None:
    """The count of fields comes out right, but the lines in between are rows."""
    rows = csv_rows(6)
    rows[2] = 'R2,"Rug,2.50,Brand2\n'
    rows[4] = 'R4,Mat",4.50,Brand1\n'
    path = tmp_path / "catalog.csv"
    path.write_text("id,title,price,brand\n" + "".join(rows), encoding="utf-8")
    products, rejects = split(list(read_catalog(path)))
    assert [r.line for r in rejects] == [4]
    assert [p.id for p in products] == ["R0", "R1", "R3", "R4", "R5"]
    assert products[3].title == 'Mat"'  # what the line says, on its own


def test_a_quoted_description_may_span_lines(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "id,title,description,price\n"
        'S1,Sofa,"Seats three.\nLinen, washable.\nMade to order",599\n'
        "S2,Chair,Oak,99\n",
        encoding="utf-8",
    )
    products, rejects = split(list(read_catalog(path)))
    assert rejects == [] and [p.id for p in products] == ["S1", "S2"]
    assert products[0].description.count("\n") == 2


def test_field_limits_and_value_rules_match_the_api(tmp_path: Path) -> None:
    from tinyseek.search.validation import MAX_TITLE_CHARS

    path = tmp_path / "catalog.jsonl"
    rows = [
        {"id": "big", "title": "x" * (10 << 20)},
        {"id": "ok", "title": "y" * MAX_TITLE_CHARS},
        {"id": "r1", "title": "t", "rating": -3},
        {"id": "r2", "title": "t", "rating": 99},
        {"id": "r3", "title": "t", "rating": 1e308},
        {"id": "p1", "title": "t", "price": -1},
        {"id": " SP1 ", "title": "Stripped id"},
        {"id": "A/B", "title": "Slash id"},
        {"id": "x\u0007", "title": "Control character id"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    products, rejects = split(list(read_catalog(path)))
    assert [p.id for p in products] == ["ok", "SP1"]
    reasons = {r.line: r.reason for r in rejects}
    assert "the limit is 2000" in reasons[1]
    assert all("rating must be within 0-5" in reasons[n] for n in (3, 4, 5))
    assert "price" in reasons[6]
    assert "'/'" in reasons[8] and "control character" in reasons[9]
    big = tmp_path / "big.csv"
    big.write_text("id,title\nB1," + "z" * (3 << 20) + "\nB2,Fine\n", encoding="utf-8")
    products, rejects = split(list(read_catalog(big)))
    assert [p.id for p in products] == ["B2"] and [r.line for r in rejects] == [2]


def test_prices_with_currencies_and_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "id;title;price\n".replace(";", ",")
        + 'a,Oak table,"€1.499"\n'
        + 'b,Pine shelf,"249,90 €"\n'
        + 'c,Teak bench,"EUR 1 099,00"\n'
        + "d,Desk lamp,£249\n"
        + "e,Stool,12\n",
        encoding="utf-8",
    )
    prices = CatalogCurrency()
    products, rejects = split(list(read_catalog(path, currency=prices)))
    assert [(p.id, p.price) for p in products] == [
        ("a", 1499.0),
        ("b", 249.9),
        ("c", 1099.0),
        ("e", 12.0),
    ]
    assert prices.code == "EUR"
    assert [(r.line, r.reason) for r in rejects] == [
        (5, "price '£249' is in GBP, but the catalog's prices are in EUR (set by its first "
         "priced row; one currency per catalog)"),
    ]  # fmt: skip


def test_a_currency_column_and_a_declared_currency(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    rows = [
        {"sku": "1", "name": "Kettle", "cost": "49,00", "currency": "EUR"},
        {"sku": "2", "name": "Toaster", "cost": "59.5", "currency": "usd"},
        {"sku": "3", "name": "Mixer", "cost": 89},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapping = parse_mapping(["id=sku", "title=name", "price=cost"])
    prices = CatalogCurrency("EUR")
    products, rejects = split(list(read_catalog(path, mapping, currency=prices)))
    assert [(p.id, p.price) for p in products] == [("1", 49.0), ("3", 89.0)]
    assert rejects[0].reason.startswith("currency 'usd' is in USD, but the catalog's prices")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,cost\nx,Lamp,cheap\n", encoding="utf-8")
    (reject,) = list(read_catalog(bad, parse_mapping(["price=cost"])))
    assert isinstance(reject, Reject)
    assert reject.reason.startswith("price (column 'cost') must be a number, got 'cheap'")


def test_unmapped_columns_become_attributes(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "id,title,colour,material,image\n"
        "a,Oak chair,red,oak,https://shop.example/a.jpg\n"
        "b,Pine chair,,pine,javascript:alert(1)\n",
        encoding="utf-8",
    )
    products, rejects = split(list(read_catalog(path)))
    (chair,) = products
    assert chair.attributes == {"colour": "red", "material": "oak"}
    assert chair.image_url == "https://shop.example/a.jpg"  # the `image` column
    assert rejects[0].reason.startswith("image_url (column 'image') 'javascript:alert(1)' is not")
    only = split(list(read_catalog(path, unmapped=["material"])))[0]
    assert only[0].attributes == {"material": "oak"}
    assert split(list(read_catalog(path, unmapped="none")))[0][0].attributes == {}
    # a plain column mapped onto attributes keeps its name, beside a JSON object column
    jsonl = tmp_path / "catalog.jsonl"
    row = {"id": "c", "title": "Rug", "colour": "blue", "attributes": {"size": "2x3 m"}}
    jsonl.write_text(json.dumps(row) + "\n", encoding="utf-8")
    mapping = parse_mapping(["attributes=attributes,colour"])
    (rug,) = split(list(read_catalog(jsonl, mapping, unmapped="none")))[0]
    assert rug.attributes == {"size": "2x3 m", "colour": "blue"}


def test_reject_reasons_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "sku,name,stars,stock,notes\n"
        "1,Lamp,five,yes,ok\n"
        "2,Vase,4,maybe,ok\n"
        f"3,Bowl,4,yes,{'x' * 2001}\n",
        encoding="utf-8",
    )
    mapping = parse_mapping(["id=sku", "title=name", "rating=stars", "in_stock=stock"])
    rejects = split(list(read_catalog(path, mapping)))[1]
    assert [r.reason for r in rejects] == [
        "rating (column 'stars') must be a number, got 'five'",
        "in_stock (column 'stock') must be a boolean, got 'maybe'",
        "attribute 'notes' is 2001 characters long; the limit is 2000",
    ]
