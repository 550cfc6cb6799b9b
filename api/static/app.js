// The search page: reads ?q=&mode=&k= from the URL, calls GET /search, renders a table.
"use strict";

const form = document.getElementById("search-form");
const statusLine = document.getElementById("status");
const table = document.getElementById("results");
const tbody = table.querySelector("tbody");
const correction = document.getElementById("correction");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function numberCell(value, digits) {
  if (value === null || value === undefined) return cell("–", "none");
  return cell(digits === undefined ? String(value) : value.toFixed(digits), "num");
}

function render(data, roundTripMs) {
  tbody.replaceChildren();
  data.hits.forEach((hit, i) => {
    const tr = document.createElement("tr");
    tr.className = "hit";
    tr.dataset.id = hit.id;
    tr.appendChild(cell(String(data.offset + i + 1), "num"));
    const product = cell("");
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = hit.product.title;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = [hit.id, hit.product.brand, hit.product.category].filter(Boolean).join(" · ");
    product.append(title, meta);
    tr.appendChild(product);
    tr.appendChild(hit.product.price === null ? cell("–", "none") : cell("$" + hit.product.price.toFixed(2), "num"));
    tr.appendChild(numberCell(hit.score, 4));
    tr.appendChild(numberCell(hit.bm25 && hit.bm25.rank));
    tr.appendChild(numberCell(hit.bm25 && hit.bm25.score, 3));
    tr.appendChild(numberCell(hit.dense && hit.dense.rank));
    tr.appendChild(numberCell(hit.dense && hit.dense.score, 3));
    tbody.appendChild(tr);
  });
  table.hidden = data.hits.length === 0;
  statusLine.className = "";
  statusLine.id = "status";
  showCorrection(data);
  statusLine.textContent =
    `${data.hits.length} results (${data.mode}) · server ${data.took_ms.toFixed(2)} ms` +
    ` · round trip ${roundTripMs.toFixed(1)} ms · ${data.generation}`;
  statusLine.dataset.serverMs = String(data.took_ms);
}

// "Showing results for <corrected>. Search instead for <original>": the original link
// repeats the search with spelling correction off (spell=false in the URL).
function showCorrection(data) {
  correction.replaceChildren();
  correction.hidden = !data.corrected_query;
  if (!data.corrected_query) return;
  const corrected = document.createElement("strong");
  corrected.textContent = data.corrected_query;
  const original = document.createElement("a");
  const params = new URLSearchParams(location.search);
  params.set("q", data.query);
  params.set("spell", "false");
  original.href = "?" + params.toString();
  original.id = "search-instead";
  original.textContent = data.query;
  correction.append("Showing results for ", corrected, ". Search instead for ", original, ".");
}

function showError(message) {
  tbody.replaceChildren();
  table.hidden = true;
  statusLine.className = "error";
  statusLine.textContent = message;
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  return JSON.stringify(detail);
}

async function search(params) {
  const q = params.get("q");
  if (!q) return;
  statusLine.textContent = "searching…";
  const started = performance.now();
  try {
    const response = await fetch("/search?" + params.toString(), { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) return showError(`${response.status}: ${describe(body.detail)}`);
    render(body, performance.now() - started);
  } catch (err) {
    showError("request failed: " + err);
  }
}

function paramsFromForm() {
  const params = new URLSearchParams();
  params.set("q", document.getElementById("q").value.trim());
  params.set("mode", document.getElementById("mode").value);
  params.set("k", document.getElementById("k").value || "10");
  const spell = new URLSearchParams(location.search).get("spell");
  if (spell === "false") params.set("spell", "false");
  return params;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const params = paramsFromForm();
  params.delete("spell"); // a new search is corrected again
  history.replaceState(null, "", "?" + params.toString());
  search(params);
});

const initial = new URLSearchParams(location.search);
if (initial.get("q")) {
  document.getElementById("q").value = initial.get("q");
  if (initial.get("mode")) document.getElementById("mode").value = initial.get("mode");
  if (initial.get("k")) document.getElementById("k").value = initial.get("k");
  search(paramsFromForm());
}
