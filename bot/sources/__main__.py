"""``python -m bot.sources FILE``: print a file's releases as the JSON of ``data/releases.json``.

For checking a file and for regenerating ``data/releases.json`` from the seed listing.
"""

from __future__ import annotations

import json
import sys

from bot.sources import SourceError, load_file


def main(argv: list[str] | None = None) -> int:
    """Print the releases of the one file named in ``argv``; errors go to stderr, exit status 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bot.sources FILE", file=sys.stderr)
        return 2
    try:
        releases = load_file(args[0])
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(
        json.dumps([r.to_dict() for r in releases], indent=2, ensure_ascii=False) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
