"""Prices as catalogs write them: currency symbols and ISO codes, decimal commas.

`parse_price` reads `12.99`, `$1,499.00`, `€1.499`, `1.499,95 €`, `£249`, `¥12,800`,
`EUR 1 499,00`, `1499 USD`, `CHF 1'499.90` and plain numbers. The number's separators:

- both `.` and `,` present: the last one is the decimal separator (`1.499,95`, `1,499.95`);
- one of them, repeated: thousands separators (`1.234.567`, `1,234,567`);
- one of them, once: a thousands separator when exactly three digits follow and the
  integer part is not 0 (`1,499` and `1.499` are 1499), a decimal separator otherwise
  (`12,99`, `12.5`, `0.125`);
- spaces (also no-break and thin spaces) and `'` between digits group thousands.

A catalog has one currency (`CatalogCurrency`): the one declared (`tinyseek index
--currency EUR`), or else the first that a price names (a symbol, a code, or the row's
`currency` column). A row whose price names another one is rejected with the reason, so
prices stay comparable for sorting, ranges and facets. Ambiguous symbols resolve to the
catalog's currency when it is one of their meanings (`$` is CAD in a catalog declared
CAD), else to the most common one (`$` USD, `¥` JPY, `kr` SEK).
"""

from __future__ import annotations

import math
import re

# ISO 4217 codes of the currencies in use.
_ISO_CODES_TEXT = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL "
    "BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR "
    "IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL "
    "LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD "
    "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX "
    "USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
)
ISO_CODES = frozenset(_ISO_CODES_TEXT.split(" "))
# A symbol's meanings, the most common first.
SYMBOLS: dict[str, tuple[str, ...]] = {
    "$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD"),
    "US$": ("USD",),
    "C$": ("CAD",),
    "CA$": ("CAD",),
    "A$": ("AUD",),
    "AU$": ("AUD",),
    "NZ$": ("NZD",),
    "HK$": ("HKD",),
    "S$": ("SGD",),
    "MX$": ("MXN",),
    "R$": ("BRL",),
    "€": ("EUR",),
    "£": ("GBP",),
    "¥": ("JPY", "CNY"),
    "JP¥": ("JPY",),
    "CN¥": ("CNY",),
    "元": ("CNY",),
    "円": ("JPY",),
    "₹": ("INR",),
    "₩": ("KRW",),
    "₽": ("RUB",),
    "₺": ("TRY",),
    "₪": ("ILS",),
    "₫": ("VND",),
    "₱": ("PHP",),
    "฿": ("THB",),
    "₴": ("UAH",),
    "₦": ("NGN",),
    "zł": ("PLN",),
    "Kč": ("CZK",),
    "kr": ("SEK", "NOK", "DKK", "ISK"),
    "Fr.": ("CHF",),
}
_GROUPING = " \u00a0\u202f\u2009'’"
_PRICE = re.compile(
    r"^(?P<pre>[^\d+\-]*?)\s*(?P<sign>[+-]?)\s*(?P<pre2>[^\d\s+\-]*?)\s*"
    r"(?P<num>\d(?:[\d.,'’ \u00a0\u202f\u2009]*\d)?)\s*(?P<post>\D*?)\s*$"
)


class CatalogCurrency:
    """The one currency of a catalog's prices (see the module doc)."""

    def __init__(self, declared: str | None = None, source: str = "declared") -> None:
        self.declared = None if declared is None else currency_code(declared)
        self.code: str | None = self.declared
        self._source = source

    def resolve(self, meanings: tuple[str, ...]) -> str:
        """The currency a symbol with these meanings stands for in this catalog."""
        if self.code in meanings:
            return self.code
        return meanings[0]

    def agree(self, code: str | None, what: str) -> None:
        """Adopt `code` as the catalog's currency, or raise ValueError if it differs."""
        if code is None:
            return
        if self.code is None:
            self.code = code
        elif code != self.code:
            source = self._source if self.declared else "set by its first priced row"
            raise ValueError(
                f"{what} is in {code}, but the catalog's prices are in {self.code} ({source}; "
                "one currency per catalog)"
            )


def currency_code(text: str) -> str:
    """An ISO 4217 code from a code in any case or an unambiguous symbol; ValueError else."""
    value = text.strip()
    if value.upper() in ISO_CODES:
        return value.upper()
    meanings = SYMBOLS.get(value)
    if meanings is not None and len(meanings) == 1:
        return meanings[0]
    raise ValueError(f"unknown currency {text!r} (an ISO 4217 code such as USD, EUR, GBP, JPY)")


def _symbol(text: str, currency: CatalogCurrency) -> str | None:
    """The currency a symbol or code stands for, None for no text; ValueError if unknown."""
    token = text.strip()
    if not token:
        return None
    if token.upper() in ISO_CODES:
        return token.upper()
    meanings = SYMBOLS.get(token) or SYMBOLS.get(token.capitalize())
    if meanings is None:
        raise ValueError(f"unknown currency {token!r}")
    return currency.resolve(meanings)


def parse_number(text: str) -> float:
    """A number written with thousands separators and a decimal point or comma."""
    digits = text
    for mark in _GROUPING:
        digits = re.sub(rf"(?<=\d){re.escape(mark)}(?=\d)", "", digits)
    if not re.fullmatch(r"\d[\d.,]*", digits) or digits[-1] in ".,":
        raise ValueError(f"not a number: {text!r}")
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        grouping = "," if decimal == "." else "."
        if digits.count(decimal) > 1 or digits.find(grouping) > digits.find(decimal):
            raise ValueError(f"not a number: {text!r}")
        _check_groups(digits.split(decimal)[0], grouping, text)
        return float(digits.replace(grouping, "").replace(decimal, "."))
    mark = "." if dots else "," if commas else ""
    if not mark:
        return float(digits)
    whole, _, rest = digits.partition(mark)
    if digits.count(mark) > 1:
        _check_groups(digits, mark, text)
        return float(digits.replace(mark, ""))
    if len(rest) == 3 and whole.strip("0"):
        return float(whole + rest)  # 1,499 and 1.499 are thousands
    return float(f"{whole}.{rest}")


def _check_groups(whole: str, mark: str, text: str) -> None:
    """Thousands groups after the first hold three digits (Indian 2-digit lakh groups too)."""
    groups = whole.split(mark)
    if not groups[0] or any(len(g) not in (2, 3) for g in groups[1:]) or len(groups[-1]) != 3:
        raise ValueError(f"not a number: {text!r} (unexpected digit grouping)")


def parse_price(value: object, currency: CatalogCurrency, what: str = "price") -> float | None:
    """A price cell as a number; its currency, if it names one, must agree with the
    catalog's (`CatalogCurrency.agree`). None for an empty cell. ValueError with the reason
    (`what` names the column)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = value.strip()
        if not text:
            return None
        match = _PRICE.match(text)
        if match is None:
            raise ValueError(f"{what} must be a number, got {value!r}")
        try:
            found = [
                _symbol(match[part], currency)
                for part in ("pre", "pre2", "post")
                if match[part].strip()
            ]
            number = parse_number(match["num"])
        except ValueError as exc:
            raise ValueError(f"{what} must be a number, got {value!r}: {exc}") from None
        if len(set(found)) > 1:
            raise ValueError(f"{what} names two currencies: {value!r}")
        if match["sign"] == "-":
            number = -number
        currency.agree(found[0] if found else None, f"{what} {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number
