// The page footer: the served generation's search quality on the index's reference labels
// (GET /quality; see the README's quality guard). Hidden when no labels are attached.
"use strict";

(async () => {
  const footer = document.getElementById("quality");
  if (!footer) return;
  try {
    const response = await fetch("/quality", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    const report = body.served && body.served.report;
    if (!body.labels || !report) return;
    const config = report.configs.hybrid || Object.values(report.configs)[0];
    const f1 = config["f1@10"].toFixed(3);
    const ndcg = config["ndcg@10"].toFixed(3);
    footer.textContent =
      `Search quality on ${report.queries} labelled queries: F1@10 ${f1} · nDCG@10 ${ndcg} ` +
      `(${report.generation}${body.alarm ? "; quality alarm: see /quality" : ""})`;
    footer.classList.toggle("alarm", Boolean(body.alarm));
    footer.hidden = false;
  } catch (error) {
    // the footer is informative only; the page works without it
  }
})();
