"""The ``fastnn`` command: ``fastnn info`` prints the build and machine description."""

from __future__ import annotations

import argparse
import json


def _info(args) -> int:
    import fastnn

    print(json.dumps(fastnn.info(), indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="Fast CPU neural networks with a Keras-shaped API.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print the build and machine description (fastnn.info())")
    p_info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)
