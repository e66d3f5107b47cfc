"""`make bench` (predictions): the time-split backtest of the win and lead models on the demo's Fxiaoke data and on
larger generated sets, against the historical rates per stage (channel), and the time to train and score.

    python -m bench.predict [--sizes 5000,30000] [--speed 100000] [--out bench/results]

Prints a Markdown report (the accuracy table of docs/benchmarks.md comes from it) and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from bench.__main__ import RESULTS, machine
from connectors.fakes import fxiaoke
from demo.deals import generated_inputs, inputs_from_dataset
from pipelines.predict import lead_scores, model_rows, opportunity_scores, pipeline_forecast
from predict.inputs import Inputs
from predict.report import backtest_markdown, forecast_markdown
from predict.train import Trained, train

T = TypeVar("T")


def backtests(sets: dict[str, Inputs]) -> tuple[str, list[Trained]]:
    models, labels = [], {}
    for label, inputs in sets.items():
        for kind in ("opportunity", "lead"):
            t = train(kind, inputs)
            models.append(t)
            labels[t.model_id] = label
    frame, cal = model_rows(models, set())
    text = backtest_markdown(frame, cal, labels)
    for t in models:
        if t.kind == "opportunity" and len(t.backtest_forecast):
            text += "\n" + forecast_markdown(t.backtest_forecast, labels[t.model_id])
    return text, models


def speed(n: int) -> str:
    """Train (with the backtest) and score `n` generated opportunities, and forecast their open pipeline with the
    runs' 1,000 simulations, timed: wall seconds and this process's CPU seconds (on a shared machine the wall time
    says more about the other processes)."""
    inputs = generated_inputs(n, seed=23)
    sizes = inputs.sizes()
    clock: dict[str, tuple[float, float]] = {}

    def timed(name: str, work: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        clock[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return out

    def say(name: str) -> str:
        return f"{clock[name][0]:.1f} s ({clock[name][1]:.1f} s CPU)"

    model = timed("train", lambda: train("opportunity", inputs, simulations=200))
    scores = timed("score", lambda: opportunity_scores(inputs, model))
    forecast = timed("forecast", lambda: pipeline_forecast(inputs, model))
    lead_model = timed("lead", lambda: train("lead", inputs, simulations=200))
    leads = timed("lead_score", lambda: lead_scores(inputs, lead_model))
    return (f"{sizes['opportunities']:,} opportunities ({sizes['stages']:,} stage changes, {sizes['leads']:,} leads, "
            f"{sizes['orders']:,} orders): win model trained with its backtest in {say('train')} "
            f"({model.stats.get('train_rows', 0):,} training snapshots, method {model.method}); "
            f"{len(scores):,} open opportunities scored with their factors in {say('score')}; their forecast "
            f"({len(forecast):,} rows, 1,000 simulations) in {say('forecast')}; lead model ({lead_model.method}) in "
            f"{say('lead')}, {len(leads):,} open leads scored in {say('lead_score')}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,30000", help="generated opportunities, comma-separated")
    parser.add_argument("--speed", type=int, default=100_000, help="opportunities for the timing (0: skip)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sets = {"demo (Fxiaoke fake)": inputs_from_dataset(fxiaoke.default_dataset())}
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        sets[f"generated, {n:,} opportunities"] = generated_inputs(n, seed=n)
    sizes = "; ".join(f"{label}: {i.sizes()['opportunities']:,} opportunities, {i.sizes()['leads']:,} leads"
                      for label, i in sets.items())
    table, _ = backtests(sets)
    lines = [f"# Prediction backtest, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", "", f"Machine: {machine()}.", "",
             f"Data: {sizes}.", "", table]
    print("\n".join(lines), flush=True)
    if args.speed:
        lines += ["", "Speed: " + speed(args.speed)]
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"predict-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}.md"
    path.write_text(text, encoding="utf-8")
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
