"""Do steward decisions improve matching? Simulated stewards on b2b_dev, before vs after.

    python -m bench.steward_feedback [--labels 200] [--data ../shared/data/b2b_dev]

1. `hub run` on b2b_dev into a fresh DuckDB file: the baseline pairwise F1.
2. A simulated steward decides the K highest-priority review items from the truth (same entity →
   `same`, else `different`) through `pipelines.steward.actions.decide_pair`, the function the CLI and
   the console call.
3. A full rebuild with the model refitted *without* the labels: what the decisions alone do.
4. A full rebuild with the model refitted *with* the labels (`mdm.feedback`): what the labels add
   by generalizing to the pairs nobody decided.

`measure()` returns a dict; `markdown()` renders it for the bench table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
B2B = REPO.parent / "shared" / "data" / "b2b_dev"


def _score(wh: Any, truth: pd.DataFrame) -> dict[str, float]:
    from mdm.evaluate import pairwise_scores

    x = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    both = truth.merge(x, on=["source_name", "stream", "source_key"])
    s = pairwise_scores(both["golden_id"], both["entity_id"])
    return {"f1": s.f1, "precision": s.precision, "recall": s.recall,
            "queue": int(wh.scalar("SELECT count(*) FROM mdm.review_queue WHERE status = 'open'"))}


def measure(data: Path = B2B, labels: int = 200, workdir: Path | None = None) -> dict[str, Any]:
    """Baseline, decisions only, decisions + refitted model: F1, precision, recall, open queue."""
    from core.config_file import load_config
    from pipelines.match import run_match
    from pipelines.run import run_all
    from pipelines.steward.actions import decide_pair
    from pipelines.steward.review_queue import list_queue
    from warehouse.engine import Warehouse

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        url = f"duckdb:///{Path(tmp) / 'feedback.duckdb'}"
        cfg = load_config(data / "hub.yaml", warehouse_url=url)
        wh = Warehouse(url)
        truth = pd.read_csv(data / "truth.csv", dtype=str)
        entity = dict(zip(truth["source_name"] + ":" + truth["stream"] + ":" + truth["source_key"],
                          truth["entity_id"], strict=True))
        run_all(cfg, wh)
        out: dict[str, Any] = {"records": len(truth), "baseline": _score(wh, truth)}
        items = list_queue(cfg, wh, limit=labels)["items"]
        start = time.perf_counter()
        same = 0
        for it in items:
            left, right = it["left"]["record_id"], it["right"]["record_id"]
            verdict = "same" if entity.get(left) == entity.get(right) else "different"
            same += verdict == "same"
            decide_pair(cfg, wh, left, right, verdict, by="bench")
        out["labels"] = {"decided": len(items), "same": same, "different": len(items) - same,
                         "seconds_per_decision": (time.perf_counter() - start) / max(len(items), 1)}
        out["after_decisions"] = _score(wh, truth)
        cfg.mdm.customer.feedback.enabled = False
        run_match(cfg, wh, rebuild=True)
        out["rebuild_without_feedback"] = _score(wh, truth)
        cfg.mdm.customer.feedback.enabled = True
        cfg.mdm.customer.feedback.min_labels = min(cfg.mdm.customer.feedback.min_labels, max(len(items), 1))
        res = run_match(cfg, wh, rebuild=True)
        out["rebuild_with_feedback"] = _score(wh, truth)
        out["model_feedback"] = res.stats.get("feedback")
        wh.dispose()
    return out


def markdown(r: dict[str, Any]) -> str:
    lab = r["labels"]
    lines = [f"## Steward feedback on b2b_dev ({lab['decided']} review items decided from the truth: "
             f"{lab['same']} same, {lab['different']} different; {lab['seconds_per_decision'] * 1000:.0f} ms each)",
             "", "| state | F1 | precision | recall | open review items |", "|---|---:|---:|---:|---:|"]
    for key, label in (("baseline", "`hub run`, no decisions"), ("after_decisions", "decisions applied (immediate)"),
                       ("rebuild_without_feedback", "rebuild, decisions as constraints only"),
                       ("rebuild_with_feedback", "rebuild, decisions + model refitted from them")):
        s = r[key]
        lines.append(f"| {label} | {s['f1']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} | {s['queue']:,} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--data", type=Path, default=B2B)
    args = ap.parse_args()
    r = measure(args.data, args.labels)
    print(markdown(r))
    print(json.dumps(r, indent=2, default=str))


if __name__ == "__main__":
    main()
