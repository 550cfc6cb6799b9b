"""Prices as catalogs write them: symbols, ISO codes, decimal commas, one currency per catalog."""

from __future__ import annotations

import pytest

from tinyseek.indexer.prices import CatalogCurrency, currency_code, parse_number, parse_price


@pytest.mark.parametrize(
    ("cell", "number", "currency"),
    [
        ("12.99", 12.99, None),
        ("$1,499.00", 1499.0, "USD"),
        ("€1.499", 1499.0, "EUR"),
        ("1.499,95 €", 1499.95, "EUR"),
        ("£249", 249.0, "GBP"),
        ("¥12,800", 12800.0, "JPY"),
        ("EUR 1 499,00", 1499.0, "EUR"),
        ("1\u00a0499,00\u00a0€", 1499.0, "EUR"),
        ("1499 USD", 1499.0, "USD"),
        ("12.99 eur", 12.99, "EUR"),
        ("CHF 1'499.90", 1499.9, "CHF"),
        ("R$ 10,50", 10.5, "BRL"),
        ("US$12", 12.0, "USD"),
        ("12,99", 12.99, None),
        ("12,5", 12.5, None),
        ("0.125", 0.125, None),
        ("1,234,567", 1234567.0, None),
        ("1.234.567,89", 1234567.89, None),
        ("1,00,000.00", 100000.0, None),
        (249, 249.0, None),
        (9.5, 9.5, None),
    ],
)
def test_prices_as_catalogs_write_them(cell: object, number: float, currency: str | None) -> None:
    prices = CatalogCurrency()
    assert parse_price(cell, prices) == pytest.approx(number)
    assert prices.code == currency


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("cheap", "price must be a number"),
        ("12.3.4", "unexpected digit grouping"),
        ("5 XYZ", "unknown currency 'XYZ'"),
        ("€ 5 $", "names two currencies"),
        ("1,2,3", "unexpected digit grouping"),
        (True, "price must be a number"),
    ],
)
def test_what_is_not_a_price(cell: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_price(cell, CatalogCurrency())


def test_one_currency_per_catalog() -> None:
    prices = CatalogCurrency()
    assert parse_price("9.99", prices) == 9.99 and prices.code is None  # no currency named yet
    parse_price("€5", prices)
    assert prices.code == "EUR"
    assert parse_price("7,50 EUR", prices) == 7.5
    with pytest.raises(ValueError, match=r"in GBP, but the catalog's prices are in EUR \(set by"):
        parse_price("£3", prices)


def test_a_declared_currency_resolves_ambiguous_symbols() -> None:
    canadian = CatalogCurrency("cad")
    assert parse_price("$5", canadian) == 5.0 and canadian.code == "CAD"
    with pytest.raises(ValueError, match=r"in EUR, but the catalog's prices are in CAD \(declared"):
        parse_price("€5", canadian)
    chinese = CatalogCurrency("CNY")
    assert parse_price("¥100", chinese) == 100.0 and chinese.code == "CNY"
    assert parse_price("¥100", japanese := CatalogCurrency()) == 100.0
    assert japanese.code == "JPY"


def test_currency_codes() -> None:
    assert currency_code("eur") == "EUR" and currency_code("£") == "GBP"
    with pytest.raises(ValueError, match="unknown currency"):
        currency_code("$")  # several dollars: say which
    with pytest.raises(ValueError, match="unknown currency"):
        currency_code("dollars")


def test_decimal_point_or_thousands() -> None:
    """A lone separator followed by three digits groups thousands, unless the number is
    below one; otherwise it is the decimal separator."""
    assert parse_number("1,499") == 1499 and parse_number("1.499") == 1499
    assert parse_number("0,499") == pytest.approx(0.499)
    assert parse_number("14,99") == pytest.approx(14.99) and parse_number("1499,9") == 1499.9
