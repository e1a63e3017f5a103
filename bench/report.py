"""BENCHMARKS.md from the benchmark's results (and the same command's earlier results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HUBEI = 4.2  # completed surveys per second on 900 lines, early 2020


def table(r: dict[str, Any], before: dict[str, Any] | None) -> str:
    b = before or {}
    return "\n".join([_head(r, before), _headline(r, before), _throughput(r), _parts(r),
                      _ramp(r), _ramp(b, "ramp", b.get("commit")),
                      _ramp(r, "ramp_recorded"), _ramp(b, "ramp_recorded", b.get("commit")),
                      _ramp(r, "ramp_sip"), _ramp(b, "ramp_sip", b.get("commit")),
                      _recording(r), _console(r), *_sections(), _method()]) + "\n"


def _sections() -> list[str]:
    """Sections measured by other scripts (bench/levers.py, the SIP demo), kept as
    written in bench/sections/, in name order."""
    folder = Path(__file__).resolve().parent / "sections"
    return [p.read_text(encoding="utf-8").rstrip() + "\n" for p in sorted(folder.glob("*.md"))]


def _head(r: dict[str, Any], before: dict[str, Any] | None) -> str:
    then = (f"\n\nBefore: the same benchmark at commit {before['commit']}, {before['date']}: "
            f"{before.get('note', '')}." if before else "")
    return (f"# Benchmarks\n\nMade by `{r['command']}` on {r['date']}, {r['machine']}, "
            f"in {r['bench_wall_s'] / 60:.1f} min.{then}\n")


def _largest_held(r: dict[str, Any], key: str = "ramp") -> str:
    held = [s["lines"] for s in r[key] if s["within_300ms"]]
    return str(max(held)) if held else "none"


def _per(d: dict[str, Any], what: str, by: str) -> float | None:
    return d[what] / max(1, d[by]) if what in d and by in d else None


def _headline(r: dict[str, Any], before: dict[str, Any] | None) -> str:
    c, p = r["campaign"], r["per_call"]
    b = before or {}
    bc, bp = b.get("campaign", {}), b.get("per_call", {})
    rows = [
        ("completed surveys/s, fast clock (target >= 20; Hubei 4.2)",
         bc.get("calls_per_s"), c["calls_per_s"], ".2f"),
        ("CPU s per completed call, all processes", bc.get("cpu_s_per_completed_call"),
         c["cpu_s_per_completed_call"], ".3f"),
        ("robot CPU s per call", bp.get("robot_cpu_s_per_call"), p["robot_cpu_s_per_call"],
         ".3f"),
        ("simulated callee CPU s per call", bp.get("callee_cpu_s_per_call"),
         p["callee_cpu_s_per_call"], ".3f"),
        ("decode floor s per call", bp.get("decode_floor_s_per_call"),
         p["decode_floor_s_per_call"], ".3f"),
        ("answers decoded per call", _per(bp, "answers", "calls"), _per(p, "answers", "calls"),
         ".1f"),
        ("turns per question answered (target <= 1.3)", _per(bp, "turns", "answered"),
         _per(p, "turns", "answered"), ".2f"),
        ("decode CPU ms per answer (target <= 25)", bp.get("decode_ms_per_answer"),
         p.get("decode_ms_per_answer"), ".1f"),
    ]
    lines = ["## Headline\n", "| measure | before | now |", "|---|---|---|"]
    for name, old, new, fmt in rows:
        lines.append(f"| {name} | {'-' if old is None else format(old, fmt)} | "
                     f"{'-' if new is None else format(new, fmt)} |")
    for key, what in (("ramp", "with simulated callees"), ("ramp_recorded", "robot alone"),
                      ("ramp_sip", "robot alone over SIP, far ends on the same cores")):
        lines.append(f"| lines held with p99 turn latency <= 300 ms, {what} (target >= 500) | "
                     f"{_largest_held(b, key) if key in b else '-'} | "
                     f"{_largest_held(r, key) if key in r else '-'} |")
    rss = [_rss_at(x, 1000) for x in (b, r)]
    if rss[1] is not None:
        lines.append(f"| RSS of all processes at 1000 lines, MB (target <= 2048) | "
                     f"{'-' if rss[0] is None else format(rss[0], '.0f')} | {rss[1]:.0f} |")
    shares = [_non_decoding(x) if "per_call" in x and "parts_s_per_call" in x["per_call"]
              else None for x in (b, r)]
    lines.append(f"| CPU outside decoding, share (target <= 25%) | "
                 f"{'-' if shares[0] is None else format(shares[0], '.0%')} | {shares[1]:.0%} |")
    lines.append(f"| fast-clock rate / Hubei rate | - | {c['calls_per_s'] / HUBEI:.2f}x |")
    return "\n".join(lines) + "\n"


def _throughput(r: dict[str, Any]) -> str:
    c, p = r["campaign"], r["per_call"]
    floor, naive, robot = (p["decode_floor_s_per_call"], p["naive_decode_s_per_call"],
                           p["robot_cpu_s_per_call"])
    rows = [
        ("campaign", f"{c['contacts']} contacts, {c['attempts']} attempts, "
                     f"{c['completed']} completed in {c['wall_s']:.0f} s"),
        ("calls timed in one process", f"{p['calls']} ({p['completed']} completed), "
                                       f"{p['answers']} answers recognized"),
        ("callees hearing every prompt once per process (before the calls), CPU s",
         f"{p['callee_hears_every_prompt_s']:.1f}"),
        ("CPU s per call, one process (robot + callee)", f"{p['cpu_s_per_call']:.3f}"),
        ("robot CPU / decode floor", f"{robot / floor:.2f}x"),
        (f"naive baseline (open dictation, decoder per call), s per call{_sampled(p)}",
         f"{naive:.3f}"),
        ("naive baseline / robot CPU", f"{naive / robot:.1f}x"),
    ]
    body = "\n".join(f"| {a} | {b} |" for a, b in rows)
    return f"## Fast clock\n\n| measure | value |\n|---|---|\n{body}\n"


def _sampled(p: dict[str, Any]) -> str:
    """Older results decoded every call; newer ones the first few, scaled per answer."""
    n = p.get("naive_calls")
    return f" (first {n} calls' answers, at their cost per answer)" if n else ""


def _rss_at(r: dict[str, Any], lines: int) -> float | None:
    step = next((s for s in r.get("ramp", []) if s["lines"] == lines), None)
    return None if step is None else float(step["rss_mb"])


def _non_decoding(r: dict[str, Any]) -> float:
    shares = _shares(r)
    return 1 - sum(v for k, v in shares.items() if k.endswith("/ decoding"))


def _shares(r: dict[str, Any]) -> dict[str, float]:
    """Shares of the campaign's CPU: the workers' by the one-process split, plus the
    dispatcher's process as measured in the campaign."""
    c, parts = r["campaign"], r["per_call"]["parts_s_per_call"]
    total = c["workers_cpu_s"] + c["dispatcher_cpu_s"] + c["store_cpu_s"]
    per_call = sum(parts.values())
    out = {k: c["workers_cpu_s"] * v / per_call / total for k, v in parts.items()}
    out["dispatcher process / dispatcher"] = c["dispatcher_cpu_s"] / total
    out["dispatcher process / store"] = c["store_cpu_s"] / total
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _parts(r: dict[str, Any]) -> str:
    parts = r["per_call"]["parts_s_per_call"]
    rows = [f"| {k} | {v * 1000:.1f} | {_shares(r)[k]:.1%} |" for k, v in parts.items()]
    rows += [f"| {k} | | {v:.1%} |" for k, v in _shares(r).items()
             if k.startswith("dispatcher process")]
    return ("## Where the time goes\n\nOwner / part: exclusive CPU per call in one process "
            "(ms), and share of the campaign's CPU.\n\n| owner / part | ms per call | share |\n"
            "|---|---|---|\n" + "\n".join(rows) + "\n")


def _or_dash(x: object) -> str:
    """A figure a ramp did not take (the SIP line keeps no lag meter) as a dash."""
    return "-" if x is None else str(x)


_TITLES = {
    "ramp": "Realtime clock: lines held, simulated callees on the same cores",
    "ramp_recorded": "Realtime clock: lines held by the robot alone (callees replay recorded "
                     "calls)",
    "ramp_sip": "Realtime clock: lines held by the robot alone over SIP and RTP (far ends on "
                "the same cores replay recorded calls; CPU counts them)",
}


def _ramp(r: dict[str, Any], key: str = "ramp", before: str | None = None) -> str:
    if key not in r:
        return ""
    rows = []
    for s in r[key]:
        t = s["turn_latency"]
        rows.append(f"| {s['lines']} | {t['n']} | {t['p50_ms']} | {t['p95_ms']} | "
                    f"{t['p99_ms']} | {_or_dash(s['lag_p99_ms'])} | {_or_dash(s['lag_max_ms'])} | "
                    f"{s['cpu_use']:.0%} | {s['rss_mb']:.0f} | "
                    f"{'yes' if s['within_300ms'] else 'no'} |")
    title = _TITLES[key]
    if before:
        title = f"Before (commit {before}): {title[0].lower()}{title[1:]}"
    return (f"## {title}\n\n| lines | turns | p50 ms | p95 ms | p99 ms | "
            "lag p99 ms | lag max ms | CPU | RSS MB | p99 <= 300 ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def _recording(r: dict[str, Any]) -> str:
    c = r.get("recording")
    if not c:
        return ""
    return ("## Recording a call\n\n| measure | value |\n|---|---|\n"
            f"| calls recorded and not, back to back | {c['calls']} |\n"
            f"| CPU s per call, not recorded | {c['cpu_s_per_call']:.3f} |\n"
            f"| the recording line's tap, CPU s per call | {c['tap_cpu_s_per_call']:.4f} |\n"
            f"| FLAC and turn log, CPU s per call | {c['encode_cpu_s_per_call']:.4f} |\n"
            f"| recording's share of a call's CPU | {c['recording_share_of_call_cpu']:.1%} |\n"
            f"| disk per call-minute, KB (stereo FLAC + JSON) | {c['kb_per_call_minute']:.0f} |\n")


def _console(r: dict[str, Any]) -> str:
    c = r.get("console")
    if not c:
        return ""
    a = c["api"]
    return ("## The console\n\n| measure | value |\n|---|---|\n"
            f"| realtime campaign | {c['lines']} lines ({c['lines_busy_at_end']} busy at the end) |"
            f"\n| live dashboards (event streams) | {c['clients']}, "
            f"{min(c['events_per_client'])}-{max(c['events_per_client'])} events each in "
            f"{c['window_s']:.0f} s |\n"
            f"| `serve` CPU, share of the machine (goal < 3%) | {c['serve_cpu_share']:.2%} |\n"
            f"| API p50 / p99 latency under that load, ms (goal p99 < 100) | {a['p50_ms']} / "
            f"{a['p99_ms']} |\n")


def _method() -> str:
    return """## How to read it

- Turn latency: from the moment the frame that ends the callee's turn arrives
  (0.7 s of silence after the answer, the turn-taking rule) to the next prompt
  starting. It holds the wait for the speech thread and the recognition.
- Lag: how late a line woke for audio it was due to receive or play.
- Each ramp step starts its lines over 10 s, lets them run 25 s, then measures
  a window; lines dial again as soon as a call ends, busy and unanswered
  numbers included. A survey call lasts about a minute, so few end inside a
  window: the ramp measures latency under load, the fast clock throughput.
  The dispatcher and the store are not in the ramp; the fast clock shows
  their share.
- The one-process split wraps the functions named; "robot / robot" is the
  listener's own work, "simulated callee / simulated callee" the callee's.
"""
