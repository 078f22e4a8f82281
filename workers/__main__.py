import argparse
import asyncio

from workers.main import run_all
from workers.rebuild import rebuild

parser = argparse.ArgumentParser(prog="python -m workers")
parser.add_argument(
    "command",
    nargs="?",
    default="run",
    choices=["run", "rebuild"],
    help="run: every background component (default); rebuild: rebuild the read models",
)
args = parser.parse_args()
asyncio.run(rebuild() if args.command == "rebuild" else run_all())
