"""Command line: ``python -m connectors.fakes serve <vendor> [--port 0] [...]``.

Prints the base URL as one line (``http://127.0.0.1:PORT``) and serves until killed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from typing import Any

from connectors.fakes.base import VENDORS, Faults, make_server, sample_universe


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connectors.fakes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one vendor's fake API")
    serve.add_argument("vendor", choices=sorted(VENDORS))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=7, help="seed of the universe and the generated data")
    serve.add_argument("--entities", type=int, default=2000, help="size of the demo universe")
    serve.add_argument(
        "--sample",
        action="store_true",
        help="use the small built-in sample universe instead of demo.universe",
    )
    serve.add_argument(
        "--sizes",
        type=json.loads,
        default={},
        help="JSON overrides of the vendor's Sizes, e.g. '{\"leads_per_entity\": 6}'",
    )
    serve.add_argument(
        "--faults",
        type=json.loads,
        default={},
        help='JSON faults, e.g. \'{"error_5xx_rate": 0.1, "seed": 3}\'',
    )
    serve.add_argument("--token-ttl", type=float, default=7200.0, help="token/session TTL in seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    module: Any = importlib.import_module(f"connectors.fakes.{args.vendor}")
    sizes = module.Sizes(**args.sizes)
    if args.sample:
        universe, reps = sample_universe(n_entities=args.entities, seed=args.seed)
        dataset = module.build_dataset(universe, reps, args.seed, sizes)
    else:
        dataset = module.default_dataset(n_entities=args.entities, seed=args.seed, sizes=sizes)
    server = make_server(
        args.vendor, dataset, faults=Faults().updated(args.faults), token_ttl_s=args.token_ttl
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    url = server.start(args.host, args.port)
    print(url, flush=True)
    logging.getLogger(__name__).info("%s fake serving %s", args.vendor, dataset.counts())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
