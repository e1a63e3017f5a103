"""The console in a real browser (Debian's chromium, driven by its chromedriver) while a
realtime campaign runs: log in, watch the figures change, pause, and see no call start."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from tests.conftest import ROOT
from tests.helpers import HEALTHDIAL, load_list, write_csv

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="apt-get install chromium chromium-driver")]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthdial(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen([*HEALTHDIAL, *args], cwd=ROOT, env=env,
                                stdout=out, stderr=out, start_new_session=True)


def _browser(): # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1800"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=opts)


def _wait(what, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll until `what` is true; an element not on the page yet counts as false (a first
    Chromium start on a new machine renders slowly), its absence at the end fails."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + seconds
    missing: NoSuchElementException | StaleElementReferenceException | None = None
    while time.monotonic() < deadline:
        try:
            got = what()
        except (NoSuchElementException, StaleElementReferenceException) as e:
            got, missing = None, e
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"waited {seconds} s in vain" + (f" (last: {missing.msg})"
                                                          if missing else ""))


def test_dashboard_live_pause_in_a_real_browser(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    db, log = tmp_path / "s.db", tmp_path / "log.txt"
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "district"]] + [[f"138{i:08d}", ("Wuchang", "Hanyang")[i % 2]]
                                                  for i in range(60)])
    store = Store(db)
    # calling hours open all day: the test does not depend on the hour it runs at
    load_list(store, listing, "live", settings=CampaignSettings(hours_start=0, hours_end=24))
    from dialer.console.auth import digest

    store.add_token("tess", "operator", digest("browser-secret"), None)
    store.close()
    port = _port()
    run = _healthdial("run", "live", "--db", str(db), "--clock", "realtime", "--lines", "12",
                      "--cps", "4", "--processes", "1", "--no-progress", log=log)
    serve = _healthdial("serve", "--db", str(db), "--port", str(port), log=log)
    browser = _browser()
    try:
        _wait(lambda: _up(port), 30)
        browser.get(f"http://127.0.0.1:{port}/campaigns/live")
        assert browser.current_url.endswith("/login")
        browser.find_element(By.NAME, "token").send_keys("browser-secret")
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        _wait(lambda: not browser.current_url.endswith("/login"), 60)  # the session is set
        browser.get(f"http://127.0.0.1:{port}/campaigns/live")
        figure = lambda key: browser.find_element(By.CSS_SELECTOR, f'[data-key="{key}"]').text  # noqa: E731
        _wait(lambda: figure("state") == "running")
        first = figure("rates.started_per_min")
        _wait(lambda: int(figure("attempts").replace(",", "") or 0) > 0, 90)  # results in
        assert figure("rates.started_per_min") != first or int(first) > 0
        assert figure("lines").split(" / ")[1] == "12"
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        browser.find_element(By.CSS_SELECTOR, '[data-action="pause"]').click()
        paused_at = time.time()
        _wait(lambda: figure("state") == "paused", 10)
        time.sleep(6)  # calls in progress finish; none may start
        started = [r.started for r in Store(db, create=False).attempts_of("live")]
        late = [t for t in started if t > paused_at + 2.0]
        assert late == [], f"{len(late)} calls started after the pause"
        assert "paused" in browser.find_element(By.CSS_SELECTOR, ".reason").text
        browser.save_screenshot(str(tmp_path / "dashboard-paused.png"))
        assert (tmp_path / "dashboard.png").stat().st_size > 20_000
    finally:
        browser.quit()
        stuck = []
        for name, p in (("run", run), ("serve", serve)):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
                try:
                    p.wait(timeout=90)
                except subprocess.TimeoutExpired:  # never leave it to a later test
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    stuck.append(name)
    assert stuck == [], f"Ctrl-C did not stop {stuck} within 90 s"
    assert "Traceback" not in log.read_text()


def _up(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
