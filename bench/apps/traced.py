"""Any benchmark app with `tracemalloc` on, for `bench/profile.py --memory`.

`BENCH_APP` names the app module under `bench.apps`; `BENCH_TRACE_OUT` is a
path. A thread watches for two files beside it: when `<out>.mark` appears it
takes the baseline snapshot, when `<out>.dump` appears it writes every
allocation site, largest growth since the baseline first, to `<out>`; it deletes each trigger
file once done, which is how the caller knows.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import tracemalloc
from pathlib import Path

__all__ = ["application"]

# Before the app's imports, so that every allocation site is known.
tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "1")))

application = importlib.import_module(f"bench.apps.{os.environ['BENCH_APP']}").application

_OUT = Path(os.environ["BENCH_TRACE_OUT"])


def _watch() -> None:
    mark = _OUT.with_name(_OUT.name + ".mark")
    dump = _OUT.with_name(_OUT.name + ".dump")
    base: tracemalloc.Snapshot | None = None
    while True:
        if mark.exists():
            base = tracemalloc.take_snapshot()
            mark.unlink()
        if dump.exists():
            snapshot = tracemalloc.take_snapshot()
            stats = (
                snapshot.compare_to(base, "lineno")
                if base is not None
                else snapshot.statistics("lineno")
            )
            with _OUT.open("w") as f:
                for stat in stats:
                    f.write(f"{stat}\n")
            dump.unlink()
        time.sleep(0.05)


threading.Thread(target=_watch, name="bench-tracemalloc", daemon=True).start()
