"""What a valid product is, in one place: ids, field sizes and value ranges.

The catalog readers, the index writers and the HTTP API all apply these rules (the
API's OpenAPI schema is generated from the same constants), so a product one of them
accepts is never refused by another.

Ids: surrounding whitespace is stripped; an id is 1 to `MAX_ID_CHARS` characters, holds
no `/` and no control characters, and is not made of dots and spaces only (`.` and `..`
would be rewritten by HTTP clients). Every valid id can be used as the last segment of
`/documents/{id}` (percent-encoded); an id that could not is refused when written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from tinyseek.search.types import Product

MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 2_000
MAX_DESCRIPTION_CHARS = 100_000
MAX_BRAND_CHARS = 256
MAX_CATEGORY_CHARS = 1_000
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY_CHARS = 256
MAX_ATTRIBUTE_VALUE_CHARS = 2_000
MAX_IMAGE_URL_CHARS = 2_000
MAX_FIELD_CHARS = MAX_DESCRIPTION_CHARS
"""The largest any one source field may be (a catalog cell, a JSON value)."""
RATING_MIN = 0.0
RATING_MAX = 5.0
PRICE_MIN = 0.0

TEXT_LIMITS: dict[str, int] = {
    "title": MAX_TITLE_CHARS,
    "description": MAX_DESCRIPTION_CHARS,
    "brand": MAX_BRAND_CHARS,
    "category": MAX_CATEGORY_CHARS,
    "image_url": MAX_IMAGE_URL_CHARS,
}

_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
WHITESPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
    "\\u205f\\u3000"
)
"""What str.strip() strips, spelled out: regular expression engines disagree about \\s."""
ID_PATTERN = (
    rf"^[{WHITESPACE}]*[^/{_CONTROL}]*[^{WHITESPACE}./{_CONTROL}][^/{_CONTROL}]*[{WHITESPACE}]*$"
)
"""A valid raw id (before stripping), as a regular expression (also in the OpenAPI schema)."""
_ID = re.compile(ID_PATTERN)
_URL_CHAR = f"[^{WHITESPACE}{_CONTROL}<>\"']"
IMAGE_URL_PATTERN = (
    rf"^(?:(?i:https?)://{_URL_CHAR}+|/{_URL_CHAR}*|[^{WHITESPACE}{_CONTROL}<>\"':/?#]"
    rf"[^{WHITESPACE}{_CONTROL}<>\"':?#]*(?:[?#]{_URL_CHAR}*)?"
    r"|data:image/(?:png|jpeg|gif|webp|avif);base64,[A-Za-z0-9+/]+={0,2})?$"
)
"""A valid image_url: empty, an http(s) URL, a path (absolute or relative) without
whitespace, quotes or angle brackets, or a base64 `data:image/...` picture (PNG, JPEG, GIF,
WebP, AVIF); no other scheme (`javascript:`, `file:`, other `data:`)."""
_IMAGE_URL = re.compile(IMAGE_URL_PATTERN)
_CONTROL_CHAR = re.compile(f"[{_CONTROL}]")


def clean_text(text: str) -> str:
    """`text` with lone surrogates (text that is not Unicode, which JSON can carry) replaced
    by U+FFFD, so it can be stored, indexed and searched like any other text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def normalise_id(value: object) -> str:
    """The canonical form of a product id; raises ValueError saying what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"product id must be text, got {type(value).__name__}")
    raw = clean_text(str(value))
    if len(raw) > MAX_ID_CHARS:
        raise ValueError(f"product id is {len(raw)} characters long; the limit is {MAX_ID_CHARS}")
    if _ID.fullmatch(raw):
        return raw.strip()
    text = raw.strip()
    if not text:
        raise ValueError("product id is empty")
    if "/" in text:
        raise ValueError(f"product id {text!r} contains '/', which ids cannot hold")
    if _CONTROL_CHAR.search(text):
        raise ValueError(f"product id {text!r} contains a control character")
    raise ValueError(f"product id {text!r} is made of dots and spaces only")


def check_product(product: Product) -> Product:
    """`product` with a canonical id and clean text, or ValueError naming the first rule it
    breaks."""
    changes: dict[str, object] = {}
    product_id = normalise_id(product.id)
    if product_id != product.id:
        changes["id"] = product_id
    for field, limit in TEXT_LIMITS.items():
        value: str = getattr(product, field)
        if len(value) > limit:
            raise ValueError(f"{field} is {len(value)} characters long; the limit is {limit}")
        if (cleaned := clean_text(value)) != value:
            changes[field] = cleaned
    if not _IMAGE_URL.fullmatch(product.image_url):
        raise ValueError(f"image_url {product.image_url[:80]!r} is not an http(s) URL or a path")
    check_attributes(product.attributes)
    attributes = {clean_text(k): clean_text(v) for k, v in product.attributes.items()}
    if attributes != dict(product.attributes):
        changes["attributes"] = attributes
    check_price(product.price)
    check_rating(product.rating)
    return Product(**{**product.__dict__, **changes}) if changes else product


def check_attributes(attributes: Mapping[str, str]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"{len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}")
    for key, value in attributes.items():
        if len(key) > MAX_ATTRIBUTE_KEY_CHARS:
            raise ValueError(
                f"attribute name is {len(key)} characters long; the limit is "
                f"{MAX_ATTRIBUTE_KEY_CHARS}"
            )
        if len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise ValueError(
                f"attribute {key!r} is {len(value)} characters long; the limit is "
                f"{MAX_ATTRIBUTE_VALUE_CHARS}"
            )


def check_price(price: float | None) -> None:
    if price is not None and not (math.isfinite(price) and price >= PRICE_MIN):
        raise ValueError(f"price must be a finite number >= {PRICE_MIN:g}, got {price}")


def check_rating(rating: float | None) -> None:
    if rating is not None and not (math.isfinite(rating) and RATING_MIN <= rating <= RATING_MAX):
        raise ValueError(f"rating must be within {RATING_MIN:g}-{RATING_MAX:g}, got {rating}")
