import argparse
import asyncio

from workers.main import run_all

parser = argparse.ArgumentParser(prog="python -m workers")
parser.add_argument("command", nargs="?", default="run", choices=["run"])
args = parser.parse_args()
asyncio.run(run_all())
