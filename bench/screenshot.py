"""The console's screenshots for README: a realtime campaign on 100 lines, after a while.

    python bench/screenshot.py [--wait 150]   # writes docs/console.png, docs/results.png
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console import _campaign, _port, _start  # noqa: E402
from tests.test_browser import _browser  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wait", type=float, default=150.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="healthdial-screenshot-"))
    db = _campaign(work, contacts=600)
    from dialer.console.auth import digest
    from dialer.store import Store

    Store(db, create=False).add_token("ana", "official", digest("shot-token"), None)
    port = _port()
    log = work / "log.txt"
    run = _start("run", "bench", "--db", str(db), "--clock", "realtime", "--lines", "100",
                 "--cps", "5", "--no-progress", log=log)
    serve = _start("serve", "--db", str(db), "--port", str(port), log=log)
    browser = _browser()
    try:
        time.sleep(args.wait)
        browser.get(f"http://127.0.0.1:{port}/login")
        browser.find_element("name", "token").send_keys("shot-token")
        browser.find_element("css selector", "form button").click()
        for page, out in (("/campaigns/bench", "console.png"),
                          ("/campaigns/bench/results", "results.png")):
            browser.get(f"http://127.0.0.1:{port}{page}")
            time.sleep(3)
            browser.save_screenshot(str(ROOT / "docs" / out))
    finally:
        browser.quit()
        for p in (run, serve):
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=60)


if __name__ == "__main__":
    main()
