"""The quality guard on Home Depot dev: what the publish-time check costs, and that it
refuses a degraded build and lets the intact one through.

    flock /tmp/tinyseek-bench.lock python benchmarks/bench_quality.py \\
        [--data ../shared/data/homedepot] [--work DIR] [--index DIR]

Everything runs through the `tinyseek` command, as an operator runs it:

1. `tinyseek index` of the corpus (skipped with --index DIR, an index of it);
2. the dev qrels written as one `query, product_id, grade` CSV in the work directory
   (derived data: never inside the repository) and `tinyseek labels attach` (grades 1-3,
   `--grade-min 1 --relevant-at 1.5`: Home Depot's convention, relevant = score >= 2.5);
3. a catalog with 20% of the labels' relevant products removed, indexed into the same
   directory: must be refused (exit 9);
4. the intact catalog again: must publish (exit 0);
5. `tinyseek update` with 5 new products nobody judged (not re-scored), then with 5
   judged products changed (re-scored);
6. `tinyseek serve`'s /metrics against `tinyseek eval INDEX_DIR`: equal;
7. the cost of one evaluation against the sample size;
8. with --rollback: the degraded catalog published with --force under a running service
   (quality interval 10 s, API writes, a reader loop): whether the forced build answered
   any search, how long CURRENT named it (the check, then the rollback), every write
   present, no failed read.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared/data/homedepot"


def tinyseek(*args: str, check: bool = True) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tinyseek.cli", *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if check and result.returncode not in (0, 1):
        raise SystemExit(f"tinyseek {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result.returncode, result.stdout, result.stderr, seconds


def write_labels(data: Path, out: Path) -> int:
    texts = {}
    with (data / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts[row["_id"]] = row["text"]
    rows = 0
    with (data / "qrels" / "dev.tsv").open(encoding="utf-8") as qrels, out.open("w") as fh:
        writer = csv.writer(fh)
        writer.writerow(["query_id", "query", "product_id", "grade"])
        for row in csv.reader(qrels, delimiter="\t"):
            if row[0] == "query-id":
                continue
            writer.writerow([row[0], texts[row[0]], row[1], row[2]])
            rows += 1
    return rows


def degraded_catalog(corpus: Path, index: Path, out: Path, share: float = 0.2) -> int:
    from tinyseek.indexer.quality import load_labels

    labels = load_labels(index)
    assert labels is not None
    relevant = sorted({pid for q in labels.queries for pid in labels.relevant(q)})
    gone = set(random.Random(1).sample(relevant, int(len(relevant) * share)))
    with corpus.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            if json.loads(line)["_id"] not in gone:
                dst.write(line)
    return len(gone)


def check_seconds(stderr: str) -> str:
    found = re.findall(r"\(check ([\d.]+) s;[^)]*\)$", stderr, flags=re.M)
    return found[-1] if found else "?"


def start_server(index: Path, env: dict[str, str] | None = None) -> tuple[Any, str]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyseek.cli", "serve", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("server not ready")
        time.sleep(0.5)


def served_gauges(index: Path) -> dict[str, float]:
    import httpx

    proc, base = start_server(index)
    try:
        text = httpx.get(f"{base}/metrics").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    gauges = {}
    for line in text.splitlines():
        match = re.match(
            r'^tinyseek_quality_(\w+)\{config="(\w+)",generation="[^"]+"\} (\S+)', line
        )
        if match:
            gauges[f"{match.group(2)} {match.group(1)}"] = float(match.group(3))
    return gauges


def rollback_under_service(index: Path, worse: Path, figures: dict[str, Any]) -> None:
    import threading

    import httpx

    key = {"X-API-Key": "bench"}
    env = {"TINYSEEK_API_KEY": "bench", "TINYSEEK_QUALITY_INTERVAL": "10"}
    proc, base = start_server(index, env)
    stop, reads, failed = threading.Event(), [0], [0]
    seen: list[tuple[float, str]] = []  # (time, generation) of every answer
    current: list[tuple[float, str]] = []  # (time, name) of every change of CURRENT

    def read() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                try:
                    response = client.get("/search", params={"q": "cordless drill"})
                    ok = response.status_code == 200
                    if ok:
                        seen.append((time.monotonic(), response.json()["generation"]))
                except httpx.TransportError:
                    ok = False
                reads[0] += 1
                failed[0] += not ok
                time.sleep(0.02)

    def watch_current() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                name = (index / "CURRENT").read_text().strip()
                if not current or current[-1][1] != name:
                    current.append((time.monotonic(), name))
            time.sleep(0.02)

    threads = [threading.Thread(target=read), threading.Thread(target=watch_current)]
    for thread in threads:
        thread.start()
    client = httpx.Client(base_url=base, timeout=60)
    try:
        start = client.get("/quality").json()
        served = start["served"]["generation"]
        rescores = sum(h["verdict"] == "rollback" for h in start["history"])
        written = {}
        for i in range(6):
            if i == 3:
                _, _, _, seconds = tinyseek(
                    "index", str(worse), "--out", str(index), "--force", "--no-progress"
                )
                figures["forced degraded build under the service (s, wall)"] = round(seconds, 1)
                published = time.monotonic()
            pid, title = f"BENCH-{i}", f"Bench guard lamp {i}"
            r = client.post("/documents", json={"products": [{"id": pid, "title": title}]},
                            headers=key)  # fmt: skip
            r.raise_for_status()
            written[pid] = title
        while True:
            body = client.get("/quality").json()
            if body["rollbacks"] and body["served"]["generation"] == served:
                break
            if time.monotonic() - published > 300:
                raise SystemExit("no rollback within 300 s")
            time.sleep(0.1)
        done = time.monotonic()

        def all_present() -> int:
            return sum(
                client.get(f"/documents/{pid}").json().get("title") == title
                for pid, title in written.items()
            )

        while all_present() < len(written) and time.monotonic() - published < 300:
            time.sleep(0.1)
        searchable = time.monotonic()
        while sum(h["verdict"] == "rollback" for h in body["history"]) == rescores:
            if time.monotonic() - published > 300:
                raise SystemExit("the build rolled back to was not scored within 300 s")
            time.sleep(0.2)
            body = client.get("/quality").json()
        scored = time.monotonic()
        bad = [t for t, gen in seen if gen != served]
        figures["rollback: searches the forced build answered"] = len(bad)
        if bad:
            figures["rollback: the forced build answered searches for (s)"] = round(
                max(bad) - min(bad), 1
            )
        forced = [t for t, name in current if name != served]
        back = [t for t, name in current if name == served and forced and t > forced[0]]
        if forced and back:
            figures["rollback: CURRENT named the forced build for (s)"] = round(
                back[0] - forced[0], 1
            )
        for what, when in (
            ("rollback done (counted, recorded)", done),
            ("every acknowledged write searchable", searchable),
            ("the build rolled back to scored and recorded", scored),
        ):
            since = f"{when - published:.1f} s after the forced build's CLI exited"
            if forced:
                since += f", {when - forced[0]:.1f} s after CURRENT named it"
            figures[f"rollback: {what}"] = since
        action = [a for a in body["actions"] if a["kind"] == "rollback"][-1]
        history = body["history"]
        replaced = [h for h in history if h["verdict"] == "replaced"][-1]
        rescored = [h for h in history if h["verdict"] == "rollback"][-1]
        figures["rollback: the forced build answered searches here (service's view)"] = action[
            "served"
        ]
        figures["rollback: check of the forced build (s; configurations scored)"] = (
            f"{replaced['seconds']} ({', '.join(replaced['configs'])})"
        )
        figures["rollback: the rollback itself: replay + publish (s)"] = action["seconds"]
        figures["rollback: then scoring the build rolled back to (s)"] = rescored["seconds"]
        figures["rollback: why"] = action["why"][:160]
        figures["rollback: acknowledged writes present"] = f"{all_present()} of {len(written)}"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        client.close()
        proc.terminate()
        proc.wait(timeout=30)
    figures["rollback: reads, failed"] = f"{reads[0]}, {failed[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--index", type=Path, default=None, help="reuse an index of the corpus")
    parser.add_argument("--rollback", action="store_true", help="also step 8 (one more build)")
    parser.add_argument("--only-rollback", action="store_true", help="step 8 on --work's index")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").is_file():
        raise SystemExit(f"Home Depot data not found at {args.data} (pass --data)")
    work = args.work or Path(tempfile.mkdtemp(prefix="tinyseek-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    if args.only_rollback:
        rollback_under_service(work / "index", work / "degraded.jsonl", figures)
        print_figures(figures, work)
        return
    corpus = args.data / "corpus.jsonl"
    old = time.time() - 86400  # a snapshot older than any write made below
    catalog = work / "catalog.jsonl"
    shutil.copyfile(corpus, catalog)
    os.utime(catalog, (old, old))

    index = work / "index"
    if args.index:
        if index.exists():
            shutil.rmtree(index)
        shutil.copytree(args.index, index, symlinks=True)
    else:
        _, out, _, seconds = tinyseek("index", str(catalog), "--out", str(index), "--no-progress")
        figures["index build (s)"] = round(seconds, 1)
        print(out.strip())

    labels = work / "dev-labels.csv"
    figures["label rows"] = write_labels(args.data, labels)
    code, out, err, seconds = tinyseek(
        "labels", "attach", str(index), str(labels), "--grade-min", "1", "--relevant-at", "1.5"
    )
    print(out.strip())
    figures["labels attach (s, wall)"] = round(seconds, 1)

    worse = work / "degraded.jsonl"
    figures["relevant products removed"] = degraded_catalog(catalog, index, worse)
    os.utime(worse, (old, old))
    code, out, err, seconds = tinyseek(
        "index", str(worse), "--out", str(index), "--no-progress", check=False
    )
    figures["degraded build: exit code"] = code
    figures["degraded build (s, wall)"] = round(seconds, 1)
    print(err.strip().splitlines()[-1])

    code, out, err, seconds = tinyseek("index", str(catalog), "--out", str(index), "--no-progress")
    figures["intact rebuild: exit code"] = code
    figures["intact rebuild (s, wall)"] = round(seconds, 1)
    figures["publish check on the rebuild (s)"] = check_seconds(err)
    print(out.strip())

    delta = work / "delta.jsonl"
    delta.write_text(
        "".join(
            json.dumps({"id": f"NEW-{i}", "title": f"Cedar planter box {i}"}) + "\n"
            for i in range(5)
        )
    )
    code, out, err, seconds = tinyseek("update", str(index), "--upsert", str(delta))
    figures["update, 5 unjudged products (s, wall)"] = round(seconds, 2)
    print(out.strip())
    from tinyseek.indexer.quality import load_labels

    reference = load_labels(index)
    assert reference is not None
    judged = sorted(reference.judged_ids())[:5]
    products = {}
    with catalog.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in judged:
                products[row["_id"]] = {**row, "title": row["title"] + " (new packaging)"}
    delta.write_text("".join(json.dumps(p) + "\n" for p in products.values()))
    code, out, err, seconds = tinyseek("update", str(index), "--upsert", str(delta))
    figures["update, 5 judged products, re-scored (s, wall)"] = round(seconds, 2)
    print(out.strip())

    code, out, err, seconds = tinyseek(
        "eval", str(index), "--no-plots", "--quiet", "--out", str(work / "eval")
    )
    report = json.loads((work / "eval" / "report.json").read_text())
    gauges = served_gauges(index)
    worst = 0.0
    for mode, config in report["configs"].items():
        for metric, name in (("ndcg@10", "ndcg_at_10"), ("f1@10", "f1_at_10")):
            served = gauges[f"{mode} {name}"]
            worst = max(worst, abs(served - config["metrics"][metric]))
            figures[f"{mode} {metric}: /metrics vs eval"] = (
                f"{served:.4f} vs {config['metrics'][metric]:.4f}"
            )
    figures["largest /metrics - eval difference"] = round(worst, 6)

    from tinyseek.indexer.quality import score_generation
    from tinyseek.search.layout import current_generation

    gen = current_generation(index)
    for sample in (100, 500, 2000, 0):
        report_ = score_generation(index, gen, replace(reference, sample=sample))
        key = f"one evaluation, {report_.queries} queries x 3 modes (s)"
        figures[key] = report_.seconds
        figures[f"  hybrid nDCG@10 / F1@10 on {report_.queries}"] = (
            f"{report_.metric('ndcg@10'):.4f} / {report_.metric('f1@10'):.4f}"
        )
    if args.rollback:
        rollback_under_service(index, worse, figures)
    print_figures(figures, work)


def print_figures(figures: dict[str, Any], work: Path) -> None:
    print()
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(f"work directory: {work}")


if __name__ == "__main__":
    main()
