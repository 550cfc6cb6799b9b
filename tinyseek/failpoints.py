"""Test-only fail points: crash or fail a writer at a named step, as tantivy and Lucene do.

`TINYSEEK_FAILPOINT=name` makes the process SIGKILL itself when it reaches
`failpoint("name")`; `name:enospc` raises OSError(ENOSPC) there instead (a full disk),
`name:raise` a RuntimeError (a bug), `name:sleep=SECONDS` a pause (a slow worker, so a
test can interrupt a job in the middle); several points are separated by commas. Unset
(always, outside tests), a fail point is one environment lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time

ENV = "TINYSEEK_FAILPOINT"


def failpoint(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.strip().partition(":")
        if point != name:
            continue
        if action == "enospc":
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (fail point {name})")
        if action == "raise":
            raise RuntimeError(f"fail point {name}")
        if action.startswith("sleep="):
            time.sleep(float(action.partition("=")[2]))
            continue
        os.kill(os.getpid(), signal.SIGKILL)
