// The search page. Its state is the URL (?q=&page=&sort=&brand=&category=&price_min=...),
// so a page can be shared and reloaded; every change of a control is a new URL (history
// entries: Back works), then one GET /search with facets and highlights.
"use strict";

const FILTER_KEYS = ["category", "brand", "price_min", "price_max", "rating_min", "in_stock"];
const DEFAULTS = { mode: "hybrid", k: "10", page: "1", sort: "relevance" };
const MAX_OFFSET = 1000; // the service's default limit on offset

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const statusLine = $("status");
const cards = $("cards");
const table = $("results");
const tbody = table.querySelector("tbody");
const correction = $("correction");
const pager = $("pager");
const filtersPanel = $("filters");
const layout = document.querySelector(".layout");

// ------------------------------------------------------------------ URL state
function current() {
  return new URLSearchParams(location.search);
}

function get(params, key) {
  return params.get(key) || DEFAULTS[key] || "";
}

// A new URL from the current one: `changes` maps keys to a value or null (remove). Any
// change but paging goes back to page 1; default values are left out of the URL.
function go(changes, keepPage) {
  const params = current();
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, String(value));
  }
  if (!keepPage) params.delete("page");
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (params.get(key) === value) params.delete(key);
  }
  history.pushState(null, "", "?" + params.toString());
  load();
}

function apiParams(params) {
  const api = new URLSearchParams();
  const k = Number(get(params, "k")) || 10;
  const page = Math.max(1, Number(get(params, "page")) || 1);
  api.set("q", params.get("q"));
  api.set("k", String(k));
  api.set("offset", String((page - 1) * k));
  api.set("mode", get(params, "mode"));
  api.set("sort", get(params, "sort"));
  for (const key of [...FILTER_KEYS, "spell"]) {
    if (params.get(key)) api.set(key, params.get(key));
  }
  api.set("facets", "all");
  api.set("highlight", "true");
  return api;
}

// ------------------------------------------------------------------ formatting
let currency = null;

function money(value) {
  if (value === null || value === undefined) return "";
  if (currency) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency }).format(value);
    } catch (err) {
      // an unknown code: plain number below
    }
  }
  return value.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function bound(value) {
  return currency ? money(value).replace(/\.00$/, "") : String(value);
}

function rangeLabel(range) {
  if (range.min === null && range.max === null) return "Any price";
  if (range.min === null) return `Up to ${bound(range.max)}`;
  if (range.max === null) return `${bound(range.min)} and up`;
  return `${bound(range.min)} – ${bound(range.max)}`;
}

// Text with the [start, end) spans wrapped in <mark>, built as DOM nodes (never as HTML).
function marked(highlight, fallback) {
  const fragment = document.createDocumentFragment();
  if (!highlight) {
    fragment.append(fallback || "");
    return fragment;
  }
  let at = 0;
  for (const [start, end] of highlight.spans) {
    fragment.append(highlight.text.slice(at, start));
    const mark = document.createElement("mark");
    mark.textContent = highlight.text.slice(start, end);
    fragment.append(mark);
    at = end;
  }
  fragment.append(highlight.text.slice(at));
  return fragment;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const MATCH_LABELS = { semantic: "semantic match", some_words: "matches some words" };

// ------------------------------------------------------------------ results
function renderCards(data) {
  cards.replaceChildren();
  data.hits.forEach((hit) => {
    const p = hit.product;
    const card = el("li", "card");
    card.dataset.id = hit.id;
    if (p.image_url) {
      const img = el("img", "thumb");
      img.src = p.image_url;
      img.alt = "";
      img.loading = "lazy";
      card.append(img);
    }
    const info = el("div", "info");
    const title = el("h2", "title");
    title.append(marked(hit.highlights && hit.highlights.title, p.title));
    info.append(title);
    const meta = [p.brand, p.category].filter(Boolean).join(" · ");
    if (meta) info.append(el("p", "meta", meta));
    const facts = el("p", "facts");
    if (p.price !== null) facts.append(el("span", "price", money(p.price)));
    if (p.rating !== null) {
      const rating = el("span", "rating", `★ ${p.rating.toFixed(1)}`);
      rating.setAttribute("aria-label", `rated ${p.rating.toFixed(1)} of 5`);
      facts.append(rating);
    }
    facts.append(el("span", p.in_stock ? "stock in" : "stock out", p.in_stock ? "In stock" : "Out of stock"));
    if (MATCH_LABELS[hit.match]) facts.append(el("span", "reason", MATCH_LABELS[hit.match]));
    info.append(facts);
    const description = hit.highlights && hit.highlights.description;
    if (description) {
      const snippet = el("p", "snippet");
      snippet.append(marked(description));
      info.append(snippet);
    }
    card.append(info);
    cards.append(card);
  });
}

function cell(text, className) {
  const td = el("td", className, text);
  return td;
}

function numberCell(value, digits) {
  if (value === null || value === undefined) return cell("–", "none");
  return cell(digits === undefined ? String(value) : value.toFixed(digits), "num");
}

// The developer view: the rank and score each retriever gave, as before the shop page.
function renderTable(data) {
  tbody.replaceChildren();
  data.hits.forEach((hit, i) => {
    const tr = el("tr", "hit");
    tr.dataset.id = hit.id;
    tr.append(cell(String(data.offset + i + 1), "num"));
    const product = cell("");
    const title = el("div", "title");
    title.append(marked(hit.highlights && hit.highlights.title, hit.product.title));
    const meta = el("div", "meta", [hit.id, hit.product.brand, hit.product.category].filter(Boolean).join(" · "));
    product.append(title, meta);
    tr.append(product);
    tr.append(hit.product.price === null ? cell("–", "none") : cell(money(hit.product.price), "num"));
    tr.append(cell(hit.match || ""));
    tr.append(numberCell(hit.score, 4));
    tr.append(numberCell(hit.bm25 && hit.bm25.rank));
    tr.append(numberCell(hit.bm25 && hit.bm25.score, 3));
    tr.append(numberCell(hit.dense && hit.dense.rank));
    tr.append(numberCell(hit.dense && hit.dense.score, 3));
    tbody.append(tr);
  });
}

function renderStatus(data, params, roundTripMs) {
  statusLine.className = "";
  statusLine.dataset.total = String(data.total);
  statusLine.dataset.serverMs = String(data.took_ms);
  const searched = data.corrected_query || data.query;
  const filtered = FILTER_KEYS.some((key) => params.get(key));
  let text;
  if (data.total === 0) {
    text = `No products match “${searched}”` + (filtered ? " with these filters." : ".");
  } else if (data.hits.length === 0) {
    text = `No more results: ${data.total} products match “${searched}”.`;
  } else {
    const first = data.offset + 1;
    const last = data.offset + data.hits.length;
    text = `${first}–${last} of ${data.total} results for “${searched}”`;
  }
  if (params.get("dev")) {
    text += ` · ${data.mode} · server ${data.took_ms.toFixed(2)} ms · round trip ${roundTripMs.toFixed(1)} ms · ${data.generation}`;
  }
  statusLine.textContent = text;
  if (data.total === 0 && filtered) {
    const unfiltered = current();
    for (const key of [...FILTER_KEYS, "page"]) unfiltered.delete(key);
    const link = el("a", "", "Search without the filters");
    link.href = "?" + unfiltered.toString();
    link.id = "without-filters";
    statusLine.append(" ", link);
  }
}

// "Showing results for <corrected>. Search instead for <original>": the original link
// repeats the search with spelling correction off (spell=false in the URL).
function renderCorrection(data) {
  correction.replaceChildren();
  correction.hidden = !data.corrected_query;
  if (!data.corrected_query) return;
  const corrected = el("strong", "", data.corrected_query);
  const original = el("a", "", data.query);
  const params = current();
  params.set("q", data.query);
  params.set("spell", "false");
  params.delete("page");
  original.href = "?" + params.toString();
  original.id = "search-instead";
  correction.append("Showing results for ", corrected, ". Search instead for ", original, ".");
}

function renderPager(data, params) {
  pager.replaceChildren();
  const k = Number(get(params, "k")) || 10;
  const reachable = Math.min(data.total, MAX_OFFSET + k);
  const pages = Math.ceil(reachable / k);
  const page = Math.floor(data.offset / k) + 1;
  pager.hidden = pages <= 1;
  if (pages <= 1) return;
  const list = el("ul");
  const link = (number, label, rel) => {
    const item = el("li");
    const target = current();
    if (number === 1) target.delete("page");
    else target.set("page", String(number));
    const a = el("a", "", label);
    a.href = "?" + target.toString();
    a.dataset.page = String(number);
    if (rel) a.rel = rel;
    if (number === page && !rel) a.setAttribute("aria-current", "page");
    item.append(a);
    list.append(item);
  };
  if (page > 1) link(page - 1, "‹ Previous", "prev");
  const shown = new Set([1, pages]);
  for (let n = page - 2; n <= page + 2; n++) if (n >= 1 && n <= pages) shown.add(n);
  let previous = 0;
  for (const n of [...shown].sort((a, b) => a - b)) {
    if (n - previous > 1) list.append(el("li", "gap", "…"));
    link(n, String(n));
    previous = n;
  }
  if (page < pages) link(page + 1, "Next ›", "next");
  pager.append(list);
}

// ------------------------------------------------------------------ facets
function option(list, { id, label, count, checked, onChange }) {
  const item = el("li");
  const input = el("input");
  input.type = "checkbox";
  input.id = id;
  input.checked = checked;
  input.addEventListener("change", () => onChange(input.checked));
  const text = el("label");
  text.htmlFor = id;
  text.append(el("span", "value", label));
  if (count !== null && count !== undefined) text.append(el("span", "count", String(count)));
  item.append(input, text);
  list.append(item);
}

function section(name, show) {
  const fieldset = $("facet-" + name);
  fieldset.hidden = !show;
  const list = fieldset.querySelector("ul.values");
  list.replaceChildren();
  return list;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function renderFacets(facets, params, total) {
  const chosenCategory = params.get("category");
  const categories = (facets && facets.category) || [];
  const list = section("category", categories.length > 0 || Boolean(chosenCategory));
  if (chosenCategory) {
    const levels = chosenCategory.split(">").map((s) => s.trim()).filter(Boolean);
    levels.forEach((level, i) => {
      const parent = levels.slice(0, i).join(" > ");
      option(list, {
        id: "category-" + slug(levels.slice(0, i + 1).join(" ")),
        label: level,
        count: i === levels.length - 1 ? total : null,
        checked: true,
        onChange: () => go({ category: parent || null }),
      });
    });
  }
  for (const value of categories) {
    const path = value.value;
    option(list, {
      id: "category-" + slug(path),
      label: path.split(" > ").pop(),
      count: value.count,
      checked: false,
      onChange: () => go({ category: path }),
    });
  }

  const brands = (facets && facets.brand) || [];
  const chosenBrand = params.get("brand");
  const brandList = section("brand", brands.length > 0 || Boolean(chosenBrand));
  const shownBrands = brands.map((b) => b.value.toLowerCase());
  if (chosenBrand && !shownBrands.includes(chosenBrand.toLowerCase())) {
    option(brandList, { id: "brand-" + slug(chosenBrand), label: chosenBrand, count: 0, checked: true, onChange: () => go({ brand: null }) });
  }
  for (const value of brands) {
    const checked = Boolean(chosenBrand) && chosenBrand.toLowerCase() === value.value.toLowerCase();
    option(brandList, {
      id: "brand-" + slug(value.value),
      label: value.value,
      count: value.count,
      checked,
      onChange: (on) => go({ brand: on ? value.value : null }),
    });
  }

  const prices = ((facets && facets.price) || []).filter((r) => r.count > 0);
  const min = params.get("price_min");
  const max = params.get("price_max");
  const priceList = section("price", prices.length > 0 || Boolean(min || max));
  for (const range of prices) {
    const checked = String(range.min ?? "") === (min || "") && String(range.max ?? "") === (max || "");
    option(priceList, {
      id: `price-${range.min ?? "0"}-${range.max ?? "up"}`,
      label: rangeLabel(range),
      count: range.count,
      checked,
      onChange: (on) => go(on ? { price_min: range.min, price_max: range.max } : { price_min: null, price_max: null }),
    });
  }
  $("price-min").value = min || "";
  $("price-max").value = max || "";

  const ratings = ((facets && facets.rating) || []).filter((r) => r.count > 0);
  const chosenRating = params.get("rating_min");
  const ratingList = section("rating", ratings.length > 0 || Boolean(chosenRating));
  for (const range of ratings) {
    option(ratingList, {
      id: `rating-${range.min}`,
      label: `${"★".repeat(range.min)} & up`,
      count: range.count,
      checked: Number(chosenRating) === range.min,
      onChange: (on) => go({ rating_min: on ? range.min : null }),
    });
  }

  const stock = (facets && facets.in_stock) || [];
  const chosenStock = params.get("in_stock");
  const stockList = section("in_stock", stock.length > 0 || Boolean(chosenStock));
  const inStock = stock.find((s) => s.value === "true");
  option(stockList, {
    id: "in-stock",
    label: chosenStock === "false" ? "Out of stock only" : "In stock only",
    count: chosenStock === "false" ? total : inStock ? inStock.count : 0,
    checked: Boolean(chosenStock),
    onChange: (on) => go({ in_stock: on ? "true" : null }),
  });

  const active = FILTER_KEYS.filter((key) => params.get(key)).length;
  $("active-count").textContent = active ? `(${active})` : "";
  $("clear-filters").hidden = active === 0;
}

// ------------------------------------------------------------------ loading
function showError(message) {
  document.body.dataset.rendered = location.search;
  cards.replaceChildren();
  tbody.replaceChildren();
  table.hidden = true;
  pager.hidden = true;
  statusLine.className = "error";
  statusLine.textContent = message;
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  return JSON.stringify(detail);
}

function syncControls(params) {
  $("q").value = params.get("q") || "";
  $("sort").value = get(params, "sort");
  $("mode").value = get(params, "mode");
  $("k").value = get(params, "k");
  const dev = Boolean(params.get("dev"));
  $("dev").checked = dev;
  $("dev-options").hidden = !dev;
  document.body.classList.toggle("dev", dev);
}

let generation = 0;

async function load() {
  const params = current();
  syncControls(params);
  const q = params.get("q");
  layout.classList.toggle("no-filters", !q);
  if (!q) {
    cards.replaceChildren();
    table.hidden = true;
    pager.hidden = true;
    correction.hidden = true;
    statusLine.className = "";
    statusLine.replaceChildren("Search the catalog: try ");
    ["sofa", "lamp for reading"].forEach((example, i) => {
      const link = el("a", "", example);
      link.href = "?" + new URLSearchParams({ q: example }).toString();
      statusLine.append(i ? " or " : "", link);
    });
    statusLine.append(", or a model number.");
    renderFacets(null, params, 0);
    document.body.dataset.rendered = "?" + params.toString();
    return;
  }
  const mine = ++generation;
  const focused = document.activeElement && document.activeElement.id;
  statusLine.textContent = "Searching…";
  const started = performance.now();
  let response;
  let body;
  try {
    response = await fetch("/search?" + apiParams(params).toString(), { headers: { Accept: "application/json" } });
    body = await response.json();
  } catch (err) {
    if (mine === generation) showError("request failed: " + err);
    return;
  }
  if (mine !== generation) return; // a newer search started meanwhile
  if (!response.ok) return showError(`${response.status}: ${describe(body.detail)}`);
  currency = body.currency;
  const dev = Boolean(params.get("dev"));
  cards.hidden = dev;
  table.hidden = !dev || body.hits.length === 0;
  if (dev) renderTable(body);
  else renderCards(body);
  renderStatus(body, params, performance.now() - started);
  renderCorrection(body);
  renderFacets(body.facets, params, body.total);
  renderPager(body, params);
  if (focused && $(focused) && focused !== "q") $(focused).focus();
  document.body.dataset.rendered = "?" + params.toString(); // for tests: this URL is drawn
}

// ------------------------------------------------------------------ controls
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  go({ q, spell: null }); // a new search is corrected again; filters stay
});

$("sort").addEventListener("change", (event) => go({ sort: event.target.value }));
$("mode").addEventListener("change", (event) => go({ mode: event.target.value }));
$("k").addEventListener("change", (event) => go({ k: event.target.value }));
$("dev").addEventListener("change", (event) => go({ dev: event.target.checked ? "1" : null }, true));
$("clear-filters").addEventListener("click", () => go(Object.fromEntries(FILTER_KEYS.map((k) => [k, null]))));
$("filter-form").addEventListener("submit", (event) => {
  event.preventDefault(); // the price range's Apply (or Enter in its fields)
  go({ price_min: $("price-min").value || null, price_max: $("price-max").value || null });
});
pager.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-page]");
  if (!a || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  go({ page: a.dataset.page === "1" ? null : a.dataset.page }, true);
  $("results-heading").focus();
});
correction.addEventListener("click", (event) => {
  const a = event.target.closest("a#search-instead");
  if (!a || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  load();
});
statusLine.addEventListener("click", (event) => {
  const a = event.target.closest("a[href^='?']");
  if (!a || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  load();
});
window.addEventListener("popstate", load);

if (window.matchMedia("(max-width: 720px)").matches) filtersPanel.open = false;
load();
