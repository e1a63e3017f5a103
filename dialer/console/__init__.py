"""The operator's console: an aiohttp application, its own process beside `run`.

    app.py       the application: middlewares (who asks, security headers), routes
    context.py   what the parts share: settings, the store and the one thread it is read on
    auth.py      tokens, sessions, roles, CSRF
    snapshot.py  a campaign as the dashboard shows it, built once a second
    api.py       the JSON API the page uses (documented and stable)
    live.py      the snapshot pushed to the page (Server-Sent Events)
    metrics.py   Prometheus /metrics
    pages.py     the HTML pages; templates/ and static/ ship with the package
    workers.py   RQ workers and queue depth, in RQ mode

It may import the store, the campaign (reports, loading), the recordings, the dispatch
lock (is a campaign being run?), the policy and the shared leaves; only workers.py
imports `workers`. Nothing imports the console but the CLI.
"""
