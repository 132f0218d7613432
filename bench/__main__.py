"""One command for every benchmark: ``python -m bench [name ...]`` (default: all of them).

Each runs with its own defaults; pass ``name:--option=value`` to give one of them options, e.g.
``python -m bench journal:--events=10000000 memory:--seconds=600``. Results and how they were
measured: ``bench/README.md``.
"""

from __future__ import annotations

import importlib
import sys

_ALL = ("gateway", "journal", "delivery", "memory", "validate")
_DEFAULT = _ALL


def main(argv: list[str]) -> int:
    chosen: dict[str, list[str]] = {}
    for arg in argv or list(_DEFAULT):
        name, _, given = arg.partition(":")
        if name not in _ALL:
            print(f"unknown benchmark {name!r}; choose from {', '.join(_ALL)}", file=sys.stderr)
            return 2
        chosen.setdefault(name, []).extend(o for o in given.split(",") if o)
    for name, options in chosen.items():
        print(f"== bench.{name} {' '.join(options)}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        saved = sys.argv
        sys.argv = [f"bench.{name}", *options]
        try:
            module.main()  # each parses sys.argv itself
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
