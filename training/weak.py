"""Weak supervision from the catalog alone: query-like views, labelling functions, a label model.

Nothing here reads evaluation labels. For each product, *view generators* write short
query-like texts (its product type, attribute + type, brand + type, a salient title n-gram,
its category leaf, a description key phrase). Each view is searched with BM25 over the
catalog; every (view, product) pair among the top results plus the view's source product is
a candidate. *Labelling functions* vote POSITIVE / NEGATIVE / ABSTAIN on each candidate, and
Snorkel's LabelModel turns the votes into P(relevant). The result is (query, positive, hard
negative) triples, where the hard negative is the highest BM25-ranked candidate the label
model calls irrelevant, plus graded pairs for tuning hybrid fusion on held-out products.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyseek.search.types import Product

POSITIVE, NEGATIVE, ABSTAIN = 1, 0, -1
HELD_OUT_MODULUS = 10
"""Products whose crc32(id) % HELD_OUT_MODULUS == 0 only give pairs for tuning fusion."""

STOPWORDS = frozenset(
    "a an and as at by for from in into of on or the to with without x w per".split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W_]+")
_TYPE_END = re.compile(r"\s+(?:in|with|for|featuring|includes?)\s+|\s*[(,;]\s*|\s+-\s+", re.I)
_ATTRIBUTE = re.compile(r"\s+in\s+([^(),;]+)", re.I)
_SIZE = re.compile(
    r"(\d+(?:[./-]\d+)*)\s*-?\s*(in|ft|gal|oz|lb|qt|mm|cm|amp|volt|v|watt|w|btu|cu|sq)\b\.?", re.I
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A light plural stem, enough to match 'faucets' with 'faucet'."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


def _alphabetic(word: str) -> bool:
    return word.isalpha() and len(word) > 1


def type_phrase(title: str, max_words: int = 3) -> list[str]:
    """The product type: the last alphabetic words before ' in ', ' with ', '(' or ','."""
    head = _TYPE_END.split(title, maxsplit=1)[0]
    out: list[str] = []
    for word in reversed(head.split()):
        token = word.strip("#\"'").lower()
        if word.endswith(".") or not _alphabetic(token.replace("-", "")) or token in STOPWORDS:
            break  # a unit or abbreviation ('lb.', 'ft.'), a number, a joining word
        out.insert(0, token)
        if len(out) == max_words:
            break
    return out


def type_head(title: str) -> str:
    phrase = type_phrase(title, 1)
    return stem(phrase[0]) if phrase else ""


def attribute(title: str) -> str:
    """The finish / colour after ' in ' (e.g. 'Chrome', 'Stainless Steel'), if any."""
    match = _ATTRIBUTE.search(title)
    if not match:
        return ""
    found: list[str] = []
    for word in match.group(1).lower().split()[:3]:
        if word in STOPWORDS or not _alphabetic(word):
            break
        found.append(word)
    return " ".join(found)


def size(title: str) -> str:
    """The first measurement in the title (e.g. '36 in.', '1/2 in', '5 gal.'), if any."""
    match = _SIZE.search(title)
    return f"{match.group(1)} {match.group(2).lower()}" if match else ""


@dataclass
class CatalogStats:
    """Word document frequencies and likely brands (leading words shared by many titles)."""

    df: Counter[str]
    n: int
    brands: frozenset[str]

    @classmethod
    def of(cls, products: Sequence[Product], min_brand_titles: int = 5) -> CatalogStats:
        df: Counter[str] = Counter()
        first: Counter[str] = Counter()
        for product in products:
            df.update(set(words(product.title)))
            if not product.brand and product.title.split():
                first[product.title.split()[0].lower()] += 1
        brands = frozenset(w for w, c in first.items() if c >= min_brand_titles and w.isalpha())
        return cls(df, len(products), brands)

    def idf(self, word: str) -> float:
        return float(np.log((self.n + 1) / (self.df.get(word, 0) + 1)))

    def brand(self, product: Product) -> str:
        if product.brand:
            return product.brand.lower()
        first = product.title.split()[0].lower() if product.title.split() else ""
        return first if first in self.brands else ""


ViewGenerator = Callable[[Product, CatalogStats, random.Random], str]


def view_type(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    phrase = type_phrase(product.title)
    return " ".join(phrase[-rng.randint(2, 3) :]) if phrase else ""


def view_size_type(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    phrase, measure = type_phrase(product.title, 2), size(product.title)
    return f"{measure} {' '.join(phrase)}" if phrase and measure else ""


def view_attribute_type(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    phrase, attr = type_phrase(product.title, 2), attribute(product.title)
    return f"{attr} {' '.join(phrase)}" if phrase and attr else ""


def view_brand_type(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    phrase, brand = type_phrase(product.title, 2), stats.brand(product)
    return f"{brand} {' '.join(phrase)}" if phrase and brand else ""


def _salient_ngram(text: str, stats: CatalogStats, rng: random.Random) -> str:
    tokens = [w for w in words(text) if w not in STOPWORDS]
    if len(tokens) < 2:
        return ""
    n = min(rng.randint(2, 3), len(tokens))
    grams = [tokens[i : i + n] for i in range(len(tokens) - n + 1)]
    best = max(grams, key=lambda g: (sum(stats.idf(w) for w in g if not w.isdigit()), g))
    return " ".join(best)


def view_salient(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    return _salient_ngram(product.title, stats, rng)


def view_category(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    levels = product.category_levels
    if not levels:
        return ""
    attr = attribute(product.title)
    leaf = levels[-1].lower()
    return f"{attr} {leaf}" if attr and rng.random() < 0.5 else leaf


def view_description(product: Product, stats: CatalogStats, rng: random.Random) -> str:
    if not product.description or product.description.strip() == product.title.strip():
        return ""
    return _salient_ngram(product.description, stats, rng)


VIEW_GENERATORS: dict[str, ViewGenerator] = {
    "type": view_type,
    "attribute_type": view_attribute_type,
    "brand_type": view_brand_type,
    "size_type": view_size_type,
    "salient_ngram": view_salient,
    "category_leaf": view_category,
    "description_phrase": view_description,
}


@dataclass(frozen=True)
class View:
    text: str
    source: int
    """Index of the product the view was written from."""
    generator: str


def make_views(
    products: Sequence[Product], stats: CatalogStats, per_product: int, seed: int
) -> list[View]:
    """Up to `per_product` distinct views per product, in a seeded order."""
    rng = random.Random(seed)
    views: list[View] = []
    for index, product in enumerate(products):
        made: dict[str, str] = {}
        for name, generate in VIEW_GENERATORS.items():
            text = " ".join(generate(product, stats, rng).split())
            if text and text not in made and len(words(text)) <= 8:
                made[text] = name
        chosen = rng.sample(sorted(made), min(per_product, len(made)))
        views.extend(View(text, index, made[text]) for text in chosen)
    return views


@dataclass
class Candidates:
    """Column arrays, one row per (view, product) candidate pair."""

    query: np.ndarray  # index into views
    doc: np.ndarray  # index into products
    bm25_rank: np.ndarray  # 0-based; `depth` when the source is not in BM25's top
    teacher_cos: np.ndarray
    coverage: np.ndarray  # share of the query's word stems found in the product title
    same_type: np.ndarray  # 1 same type head as the source, 0 different, -1 unknown


def query_coverage(query: set[str], title: set[str]) -> float:
    return len(query & title) / len(query) if query else 0.0


def labelling_functions(
    source_cos: np.ndarray,
) -> dict[str, Callable[[Candidates, np.ndarray], np.ndarray]]:
    """The labelling functions; teacher thresholds come from the views' own source pairs."""
    high, low = float(np.percentile(source_cos, 50)), float(np.percentile(source_cos, 10))

    def lf_source(c: Candidates, is_source: np.ndarray) -> np.ndarray:
        return np.where(is_source, POSITIVE, ABSTAIN)

    def lf_covers_query(c: Candidates, is_source: np.ndarray) -> np.ndarray:
        return np.select([c.coverage >= 1.0, c.coverage < 0.5], [POSITIVE, NEGATIVE], ABSTAIN)

    def lf_same_type(c: Candidates, is_source: np.ndarray) -> np.ndarray:
        return np.select([c.same_type == 1, c.same_type == 0], [POSITIVE, NEGATIVE], ABSTAIN)

    def lf_teacher_agrees(c: Candidates, is_source: np.ndarray) -> np.ndarray:
        return np.select(
            [c.teacher_cos >= high, c.teacher_cos < low], [POSITIVE, NEGATIVE], ABSTAIN
        )

    def lf_bm25_deep(c: Candidates, is_source: np.ndarray) -> np.ndarray:
        return np.where((c.bm25_rank >= 10) & ~is_source, NEGATIVE, ABSTAIN)

    return {
        "source_product": lf_source,
        "covers_query": lf_covers_query,
        "same_type": lf_same_type,
        "teacher_agrees": lf_teacher_agrees,
        "bm25_deep": lf_bm25_deep,
    }


def lf_statistics(votes: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Snorkel's LF summary: coverage, overlap and conflict per labelling function."""
    voted = votes != ABSTAIN
    stats: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        others = np.delete(voted, j, axis=1)
        other_votes = np.delete(votes, j, axis=1)
        conflict = voted[:, j] & ((other_votes != votes[:, [j]]) & others).any(axis=1)
        stats[name] = {
            "coverage": round(float(voted[:, j].mean()), 4),
            "overlap": round(float((voted[:, j] & others.any(axis=1)).mean()), 4),
            "conflict": round(float(conflict.mean()), 4),
            "positive_share": round(
                float((votes[:, j] == POSITIVE).sum() / max(1, voted[:, j].sum())), 4
            ),
        }
    return stats


def label_model_probabilities(votes: np.ndarray, seed: int, epochs: int = 200) -> np.ndarray:
    """P(relevant) per candidate from Snorkel's LabelModel (deterministic for a seed)."""
    from snorkel.labeling.model import LabelModel

    model = LabelModel(cardinality=2, verbose=False, device="cpu")
    model.fit(votes, n_epochs=epochs, seed=seed, log_freq=epochs + 1, progress_bar=False)
    return np.asarray(model.predict_proba(votes)[:, POSITIVE], dtype=np.float32)


@dataclass
class WeakSupervision:
    """What the labelling produced: triples to train on, graded pairs to tune fusion on."""

    queries: list[str]
    positives: list[int]
    negatives: list[int]
    """Per training query: its positive and hard-negative product indices."""
    tuning: dict[str, dict[int, int]]
    """Held-out query -> {product index: gain} (2 source, 1 other label-model positives)."""
    statistics: dict[str, Any] = field(default_factory=dict)


def supervise(
    products: Sequence[Product],
    views: Sequence[View],
    search: Callable[[str, int], list[int]],
    teacher_cos: Callable[[np.ndarray, np.ndarray], np.ndarray],
    seed: int,
    depth: int = 20,
    threshold: float = 0.5,
) -> WeakSupervision:
    """Candidates -> votes -> label model -> triples and tuning pairs.

    `search(text, n)` returns BM25's top-n product indices; `teacher_cos(q, d)` the teacher's
    cosine between views `q` and products `d` (index arrays of equal length).
    """
    title_stems = [stems(p.title) for p in products]
    heads = [type_head(p.title) for p in products]
    rows: dict[str, list[Any]] = {"query": [], "doc": [], "rank": []}
    for qi, view in enumerate(views):
        ranked = list(enumerate(search(view.text, depth)))
        if all(hit != view.source for _, hit in ranked):
            ranked.append((depth, view.source))  # the source, outside BM25's top
        for rank, hit in ranked:
            rows["query"].append(qi)
            rows["doc"].append(hit)
            rows["rank"].append(rank)
    query = np.asarray(rows["query"], dtype=np.int64)
    doc = np.asarray(rows["doc"], dtype=np.int64)
    source = np.asarray([v.source for v in views], dtype=np.int64)[query]
    view_stems = [stems(v.text) for v in views]
    candidates = Candidates(
        query=query,
        doc=doc,
        bm25_rank=np.asarray(rows["rank"], dtype=np.int64),
        teacher_cos=teacher_cos(query, doc),
        coverage=np.asarray(
            [query_coverage(view_stems[q], title_stems[d]) for q, d in zip(query, doc)]
        ),
        same_type=np.asarray(
            [
                -1 if not heads[s] or not heads[d] else int(heads[s] == heads[d])
                for s, d in zip(source, doc)
            ]
        ),
    )
    is_source = doc == source
    lfs = labelling_functions(candidates.teacher_cos[is_source])
    votes = np.stack([lf(candidates, is_source) for lf in lfs.values()], axis=1)
    probability = label_model_probabilities(votes, seed)
    result = _assemble(products, views, candidates, is_source, probability, threshold, seed)
    result.statistics |= {
        "candidates": len(query),
        "views": dict(Counter(v.generator for v in views)),
        "labelling_functions": lf_statistics(votes, list(lfs)),
        "label_model": "snorkel LabelModel (cardinality 2, 200 epochs, seeded)",
        "positive_rate": round(float((probability >= threshold).mean()), 4),
    }
    return result


def is_tuning_product(product: Product) -> bool:
    return zlib.crc32(product.id.encode("utf-8")) % HELD_OUT_MODULUS == 0


def _assemble(
    products: Sequence[Product],
    views: Sequence[View],
    c: Candidates,
    is_source: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    seed: int,
) -> WeakSupervision:
    rng = random.Random(seed)
    out = WeakSupervision(queries=[], positives=[], negatives=[], tuning={})
    dropped = random_negatives = 0
    bounds = np.flatnonzero(np.diff(c.query)) + 1
    for rows in np.split(np.arange(len(c.query)), bounds):
        view = views[int(c.query[rows[0]])]
        source_row = rows[is_source[rows]][0]
        if probability[source_row] < threshold:
            dropped += 1
            continue
        if is_tuning_product(products[view.source]):
            qrels = out.tuning.setdefault(view.text, {})
            qrels[view.source] = 2
            for r in rows[(probability[rows] >= 0.9) & ~is_source[rows]]:
                qrels.setdefault(int(c.doc[r]), 1)
            continue
        negatives = rows[(probability[rows] < threshold) & ~is_source[rows]]
        if len(negatives):
            negative = int(c.doc[negatives[np.argmin(c.bm25_rank[negatives])]])
        elif len(products) > 1:  # nothing rejected: any other product
            negative = (view.source + rng.randrange(1, len(products))) % len(products)
            random_negatives += 1
        else:
            continue
        out.queries.append(view.text)
        out.positives.append(view.source)
        out.negatives.append(negative)
    out.statistics = {
        "triples": len(out.queries),
        "tuning_queries": len(out.tuning),
        "views_dropped_by_label_model": dropped,
        "random_negatives": random_negatives,
    }
    return out
