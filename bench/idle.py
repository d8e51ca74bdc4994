#!/usr/bin/env python3
"""Idle connections: memory per connection and idle CPU per server, crosscast
against Node.js, side by side in one run (issue 15 item 5).

    bench/idle.py [--clients 5000] [--seconds 10] [--configs a,b,d] [--no-build]

For each configuration of bench/cluster.py ((a) crosscast serve, (b) Node.js
socket.io + @socket.io/redis-adapter, (d) Node.js on the crosscast npm adapter;
three servers, classic, one private redis-server on a free loopback port) it
connects --clients Socket.IO clients to every server with crosscast-bench (one
sender at 1 message per second, so the connections are all but idle), holds
them for --seconds, and reports per server:

  - RSS before the clients and the highest RSS sampled while they were
    connected, and their difference per connection (KiB);
  - CPU per second of the run (what a server spends on idle connections:
    engine.io pings, the adapter's heartbeats, the one message a second).

Outputs, in --out (default bench/results/idle-<UTC time>): report.md and
report.json. Everything it starts is bound to 127.0.0.1 and stopped at the end;
every run is bounded in time (connect timeout, --seconds, a process timeout).
"""

import argparse
import datetime
import os
import sys
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402  (bench/cluster.py: Redis, Cluster, Runner)


def run_config(runner, kind, seconds):
    """One configuration: three servers, the idle clients, the figures per server."""
    servers = cl.Cluster(cl.CONFIGS[kind], runner.redis, "classic", runner.logdir,
                         runner.a_binary)
    try:
        time.sleep(1)  # let start-up allocations settle before the baseline
        started = time.monotonic()
        rep = runner.measure(servers, f"idle/{kind}@{runner.args.clients}", 1, seconds, 1)
        wall = time.monotonic() - started
    finally:
        servers.stop()
    out = {"kind": kind, "name": cl.NAMES[kind], "report": rep}
    if "error" in rep:
        out["error"] = rep["error"]
        return out
    n = len(rep["servers_idle_rss_kib"])
    procs = rep.get("processes", [])[:n]
    out["servers"] = [
        {
            "rss_before_kib": before,
            "rss_peak_kib": peak,
            "kib_per_connection": (peak - before) / runner.args.clients,
            "cpu_ms_per_s": (p["cpu_us"] / 1000) / wall if p else None,
        }
        for before, peak, p in zip(rep["servers_idle_rss_kib"],
                                   rep["servers_peak_rss_sampled_kib"],
                                   procs + [None] * (n - len(procs)))
    ]
    out["connected"] = rep.get("clients_connected", rep.get("clients"))
    out["client_errors"] = rep.get("client_errors")
    out["servers_alive_after"] = rep.get("servers_alive_after")
    return out


def render(result):
    lines = [
        f"# Idle connections, {result['clients']} per server × 3 servers",
        "",
        f"- machine: {result['machine']}",
        f"- {result['seconds']} s connected, one sender at 1 msg/s; RSS sampled while "
        "connected; CPU over the whole run (connect included)",
        "",
        "| config | server | RSS before MiB | RSS connected MiB | KiB per connection | "
        "CPU ms per s | client errors | up after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in result["configs"]:
        if "error" in c:
            lines.append(f"| {c['name']} | - | - | - | - | - | error: {c['error'][:120]} | - |")
            continue
        for i, s in enumerate(c["servers"]):
            cpu = "-" if s["cpu_ms_per_s"] is None else f"{s['cpu_ms_per_s']:.1f}"
            lines.append(
                f"| {c['name']} | {i + 1} | {s['rss_before_kib'] / 1024:.1f} | "
                f"{s['rss_peak_kib'] / 1024:.1f} | {s['kib_per_connection']:.1f} | {cpu} | "
                f"{c['client_errors']} | {c['servers_alive_after'][i]} |")
    lines += ["", "| config | mean KiB per connection | target |", "|---|---|---|"]
    for c in result["configs"]:
        if "servers" in c:
            mean = sum(s["kib_per_connection"] for s in c["servers"]) / len(c["servers"])
            goal = "≤ 16" if c["kind"] == "a" else ""
            lines.append(f"| {c['name']} | {mean:.1f} | {goal} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=5000, help="clients per server (1..5000)")
    ap.add_argument("--seconds", type=float, default=10, help="seconds connected (1..120)")
    ap.add_argument("--configs", default="a,b,d")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not 1 <= args.clients <= 5000:
        raise SystemExit("idle.py: --clients must be in 1..5000")
    if not 1 <= args.seconds <= 120:
        raise SystemExit("idle.py: --seconds must be in 1..120")
    configs = args.configs.split(",")
    for kind in configs:
        if kind not in ("a", "b", "d"):
            raise SystemExit(f"idle.py: unknown configuration {kind!r} (a, b or d)")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or os.path.join(cl.ROOT, "bench", "results", f"idle-{stamp}")
    logdir = os.path.join(out, "logs")
    os.makedirs(logdir, exist_ok=True)
    cl.prepare(SimpleNamespace(no_build=args.no_build))
    redis = cl.Redis(logdir)
    try:
        runner = cl.Runner(SimpleNamespace(clients=args.clients, senders=1, window=1000),
                           redis, logdir, "serve")
        result = {"clients": args.clients, "seconds": args.seconds,
                  "machine": " ".join(os.uname()), "configs": []}
        for kind in configs:
            result["configs"].append(run_config(runner, kind, args.seconds))
    finally:
        redis.stop()
    cl.write_report(out, result, render(result))
    cl.log(f"wrote {out}/report.md and report.json")


if __name__ == "__main__":
    main()
