"""Command line: ``python -m connectors.fakes serve <vendor> [--port 0] [...]``.

Prints the base URL as one line (``http://127.0.0.1:PORT``) and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from connectors.fakes.serve import VENDOR_NAMES, build_server, stop_signals, wait


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connectors.fakes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one vendor's fake API")
    serve.add_argument("vendor", choices=VENDOR_NAMES)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=7, help="seed of the universe and the generated data")
    serve.add_argument("--entities", type=int, default=2000, help="size of the demo universe")
    serve.add_argument(
        "--sample",
        action="store_true",
        help="use the small built-in sample universe instead of connectors.fakes.universe",
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
    server = build_server(args.vendor, seed=args.seed, entities=args.entities, sample=args.sample,
                          sizes=args.sizes, faults=args.faults, token_ttl_s=args.token_ttl)
    with stop_signals() as stop:
        url = server.start(args.host, args.port)
        print(url, flush=True)
        logging.getLogger(__name__).info("%s fake serving %s", args.vendor, server.dataset.counts())
        try:
            wait(stop)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
