#!/usr/bin/env python3
"""The cluster benchmark: crosscast against the official Node.js stack, side by side.

One command (from the repository root):

    bench/cluster.py            # full run, both modes, about 9 minutes
    bench/cluster.py --quick    # classic only, shorter runs, about 3 minutes

It builds the release binaries, installs the Node peer app's npm dependencies
when missing, starts ONE private redis-server on a free loopback port, and then
for each mode (classic, sharded) and each configuration starts three servers on
loopback, connects --clients clients per server with crosscast-bench (the Rust
load generator), and measures:

  (a) three crosscast servers (`crosscast serve`, or `rust-peer` when serve
      cannot join a cluster yet)
  (b) three Node.js servers: interop/node/peer-server.js on socket.io +
      @socket.io/redis-adapter
  (c) a mixed cluster: crosscast, Node.js, crosscast
  (d) three Node.js servers on the `crosscast` npm package's adapter
      (bench/node/crosscast-peer.mjs; reported as not runnable when the package
      has no adapter yet)

at a light fixed rate, at the highest rate (b) sustains without loss (searched:
doubling, then bisection), at 2x that rate (overload), and (a) at its own highest
lossless rate. It also measures the same Redis's PUBLISH throughput with
redis-benchmark (plain and pipelined) and how much of it one crosscast node's
publish path reaches (bench publish-path binary).

Outputs, in --out (default bench/results/cluster-<UTC time>): report.md (the
markdown tables with ratios against (b) and the targets of issue 7) and
report.json (every raw crosscast-bench report). Everything it starts is bound to
127.0.0.1 and stopped at the end; every run is bounded in time.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
BENCH = os.path.join(REL, "crosscast-bench")
PUBLISH_PATH = os.path.join(REL, "publish-path")
CROSSCAST = os.path.join(REL, "crosscast")
RUST_PEER = os.path.join(REL, "rust-peer")
NODE_PEER = os.path.join(ROOT, "interop", "node", "peer-server.js")
NODE_CROSSCAST_PEER = os.path.join(ROOT, "bench", "node", "crosscast-peer.mjs")
ADAPTER_MJS = os.path.join(ROOT, "host-wasm", "js", "adapter.mjs")
#: Extra flags for the Node.js servers (b) and (d), space-separated, e.g.
#: `CLUSTER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` for a profile of each
#: (Node refuses --cpu-prof in NODE_OPTIONS).
NODE_FLAGS = os.environ.get("CLUSTER_NODE_FLAGS", "").split()
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def log(*parts):
    print("cluster.py:", *parts, file=sys.stderr, flush=True)


def free_port():
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port != 6379:
            return port


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_pressure():
    try:
        with open("/proc/pressure/cpu") as f:
            return f.readline().strip()
    except OSError:
        return "n/a"


class Redis:
    """A private redis-server on a free loopback port."""

    def __init__(self, logdir):
        self.port = free_port()
        self.log = open(os.path.join(logdir, "redis.log"), "w")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"redis://127.0.0.1:{self.port}"
        for _ in range(100):
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def version(self):
        for line in self.cli("INFO", "server").splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1].strip()
        return "?"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def server_command(kind, redis_url, adapter, key, a_binary):
    if kind == "a":
        if a_binary == "serve":
            # A benchmark sender emits far more than a chat client may (the server's
            # per-socket event limit): lift the client limits.
            return [CROSSCAST, "serve", "--port", "0", "--redis-url", redis_url,
                    "--adapter", adapter, "--key", key,
                    "--max-events-per-second", "1000000", "--events-burst", "1000000",
                    "--max-connections", "1000000"]
        return [RUST_PEER, "--port", "0", "--redis-url", redis_url, "--adapter", adapter,
                "--key", key]
    if kind == "b":
        return ["node", *NODE_FLAGS, NODE_PEER, "--port", "0", "--redis-url", redis_url,
                "--adapter", adapter, "--key", key]
    if kind == "d":
        return ["node", *NODE_FLAGS, NODE_CROSSCAST_PEER, "--port", "0", "--redis-url",
                redis_url, "--adapter", adapter, "--key", key]
    raise ValueError(kind)


class Cluster:
    """Three servers of the given kinds on one Redis, started and stopped together."""

    counter = 0

    def __init__(self, kinds, redis, adapter, logdir, a_binary):
        Cluster.counter += 1
        self.key = f"bench{Cluster.counter}"
        self.kinds = kinds
        self.redis = redis
        self.adapter = adapter
        self.procs, self.urls, self.logs = [], [], []
        try:
            for i, kind in enumerate(kinds):
                path = os.path.join(logdir, f"{self.key}-{adapter}-{i}-{kind}.log")
                out = open(path, "w")
                self.logs.append(path)
                cmd = server_command(kind, redis.url, adapter, self.key, a_binary)
                env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
                self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                   env=env, cwd=ROOT))
            for i, path in enumerate(self.logs):
                self.urls.append(self._wait_listening(i, path))
            self._wait_subscribed()
        except Exception:
            self.stop()
            raise

    def _wait_listening(self, i, path):
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(path) as f:
                m = LISTENING.search(f.read())
            if m:
                return m.group(1)
            if self.procs[i].poll() is not None:
                break
            time.sleep(0.05)
        with open(path) as f:
            text = f.read()
        errors = [line for line in text.splitlines() if "Error" in line][:2]
        raise RuntimeError(f"server {i} ({self.kinds[i]}) did not start: "
                           f"{' | '.join(errors) or text[-300:]}")

    def _wait_subscribed(self):
        if self.adapter == "classic":
            query = ["PUBSUB", "NUMSUB", f"{self.key}-request#/#"]
        else:
            query = ["PUBSUB", "SHARDNUMSUB", f"{self.key}#/#"]
        n = "0"
        for _ in range(200):
            lines = self.redis.cli(*query).splitlines()
            n = lines[1] if len(lines) > 1 else "0"
            if n == str(len(self.procs)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"only {n} of {len(self.procs)} servers subscribed ({query})")

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def alive(self):
        return [p.poll() is None for p in self.procs]

    def metrics(self):
        """The `dropped` counters of crosscast servers' /metrics (serve only)."""
        out = []
        for kind, url in zip(self.kinds, self.urls):
            if kind != "a":
                out.append(None)
                continue
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=2) as r:
                    text = r.read().decode()
                out.append({line.split()[0]: float(line.split()[1])
                            for line in text.splitlines()
                            if line and not line.startswith("#") and "drop" in line
                            and len(line.split()) == 2})
            except Exception:  # noqa: BLE001 - rust-peer has no /metrics
                out.append(None)
        return out

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


class RssSampler(threading.Thread):
    """Samples VmRSS of some pids every 100 ms; keeps the maximum per pid."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {pid: 0 for pid in pids}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_kib(pid))
            self.done.wait(0.1)


class Runner:
    def __init__(self, args, redis, logdir, a_binary):
        self.args = args
        self.redis = redis
        self.logdir = logdir
        self.a_binary = a_binary
        self.reports = []

    def measure(self, cluster, label, rate, duration, drain, shape=None):
        """One crosscast-bench run against `cluster`; returns its report, extended.
        `shape` is (clients per server, senders, window) for a closed-loop run
        (`--max`: as fast as the window allows; `rate` is then ignored); without
        it the run is open-loop at `rate` with the command line's shape."""
        idle_rss = [rss_kib(pid) for pid in cluster.pids]
        cmd = [BENCH]
        for url in cluster.urls:
            cmd += ["--url", url]
        for pid in cluster.pids + [self.redis.proc.pid]:
            cmd += ["--server-pid", str(pid)]
        clients, senders, window = shape or (self.args.clients, self.args.senders, self.args.window)
        pace = ["--max"] if shape else ["--rate", str(rate)]
        cmd += ["--clients", str(clients), "--senders", str(senders), *pace,
                "--duration", str(duration), "--drain", str(drain),
                "--window", str(window), "--label", label]
        sampler = RssSampler(cluster.pids)
        sampler.start()
        load_before = loadavg()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=duration + drain + 90)
        finally:
            sampler.done.set()
            sampler.join()
        if r.returncode != 0:
            report = {"label": label, "error": r.stderr.strip()[-800:], "target_rate_per_s": rate}
        else:
            report = json.loads(r.stdout)
        alive = cluster.alive()
        n = len(cluster.pids)
        report["config_servers"] = cluster.kinds
        report["adapter"] = cluster.adapter
        report["load_before"] = load_before
        report["servers_alive_after"] = alive
        report["servers_idle_rss_kib"] = idle_rss
        report["servers_peak_rss_sampled_kib"] = [sampler.peak[p] for p in cluster.pids]
        report["servers_rss_growth_per_client_kib"] = [
            (sampler.peak[p] - idle) / clients
            for p, idle in zip(cluster.pids, idle_rss)]
        report["crosscast_metrics"] = cluster.metrics()
        if "processes" in report:
            servers = report["processes"][:n]
            cpu = sum(p["cpu_us"] for p in servers)
            report["server_cpu_us_per_delivery"] = (
                cpu / report["delivered"] if report["delivered"] else None)
            report["redis_cpu_us_per_delivery"] = report["processes"][n]["cpu_us_per_delivery"]
        self.reports.append(report)
        log(f"{label}: rate {rate} sent/s {fmt(report.get('sent_per_s'))} "
            f"delivered/s {fmt(report.get('delivered_per_s'))} lost {report.get('lost')} "
            f"p99 {fmt((report.get('latency_us') or {}).get('p99'))} µs "
            f"cpu/del {fmt(report.get('server_cpu_us_per_delivery'), 2)} µs "
            f"gen/del {fmt(report.get('bench_cpu_us_per_delivery'), 2)} µs alive {alive} "
            f"load {load_before}")
        return report


def shortfall(report, rate):
    """Why a run at `rate` does not count as lossless, or None when it does.
    The same rules for a probe and for a measured run: every server up, no
    client failure, every message of every sender at every client exactly once
    and in its sender's order (checked per sender and sequence number, not as
    one total), the senders kept at least 95 % of the rate (a sender that falls
    behind, because the servers or the generator lag, has not offered the
    rate), and p99 under 1 s."""
    if "error" in report:
        return "error"
    if not all(report["servers_alive_after"]):
        return "server died"
    missing = report.get("missing", report["lost"])
    duplicated, reordered = report.get("duplicated", 0), report.get("reordered", 0)
    if report["lost"] or missing or duplicated or reordered or report["client_errors"]:
        return (f"lost {report['lost']} (missing {missing}, duplicated {duplicated}, "
                f"reordered {reordered}), client errors {report['client_errors']}")
    if rate and report["sent_per_s"] < 0.95 * rate:
        return f"sent only {report['sent_per_s']:.0f}/s"
    p99 = (report.get("latency_us") or {}).get("p99")
    if p99 is not None and p99 >= 1_000_000:
        return f"p99 {p99 / 1000:.0f} ms (at least 1 s)"
    return None


def sustained(report, rate):
    return shortfall(report, rate) is None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def nice_rate(x):
    """Rounds a rate to two significant digits."""
    if x < 10:
        return max(1, round(x))
    magnitude = 10 ** (len(str(int(x))) - 2)
    return int(round(x / magnitude) * magnitude)


def search_highest(runner, start_cluster, mode, kind, p):
    """The highest rate a configuration sustains: doubling from the light rate,
    then bisection. Restarts the cluster after a probe that killed a server."""
    probes = []
    cluster = start_cluster()
    good, bad = None, None
    rate = p["search_from"]
    try:
        while bad is None and rate <= p["search_cap"]:
            rep = runner.measure(cluster, f"{mode}/{kind}/probe@{rate}", rate, p["probe"], 1)
            ok = sustained(rep, rate)
            probes.append({"rate": rate, "sustained": ok, "why": shortfall(rep, rate)})
            if ok:
                good = rate
                rate *= 2
            else:
                bad = rate
            if not all(cluster.alive()):
                cluster.stop()
                cluster = start_cluster()
        for _ in range(p["bisect"]):
            if good is None or bad is None:
                break
            mid = nice_rate((good + bad) / 2)
            if mid in (good, bad):
                break
            rep = runner.measure(cluster, f"{mode}/{kind}/probe@{mid}", mid, p["probe"], 1)
            ok = sustained(rep, mid)
            probes.append({"rate": mid, "sustained": ok, "why": shortfall(rep, mid)})
            if ok:
                good = mid
            else:
                bad = mid
            if not all(cluster.alive()):
                cluster.stop()
                cluster = start_cluster()
    finally:
        cluster.stop()
    return good, probes


CONFIGS = {
    "a": ["a", "a", "a"],
    "b": ["b", "b", "b"],
    "c": ["a", "b", "a"],
    "d": ["d", "d", "d"],
}
NAMES = {
    "a": "(a) crosscast ×3",
    "b": "(b) Node.js socket.io + redis-adapter ×3",
    "c": "(c) mixed: crosscast, Node.js, crosscast",
    "d": "(d) Node.js + crosscast npm adapter ×3",
}


def run_mode(runner, mode, p, configs):
    out = {"mode": mode, "runs": {}, "highest": {}, "probes": {}, "not_runnable": {}}

    def starter(kind):
        return lambda: Cluster(CONFIGS[kind], runner.redis, mode, runner.logdir, runner.a_binary)

    runnable = []
    for kind in configs:
        if kind == "d" and not os.path.exists(ADAPTER_MJS):
            out["not_runnable"]["d"] = "host-wasm/js/adapter.mjs does not exist yet"
            continue
        try:
            starter(kind)().stop()
            runnable.append(kind)
        except Exception as e:  # noqa: BLE001
            out["not_runnable"][kind] = str(e)[-400:]
            log(f"{mode}/{kind}: not runnable: {e}")

    # The highest lossless rates of (b) and (a).
    for kind in ("b", "a"):
        if kind in runnable:
            good, probes = search_highest(runner, starter(kind), mode, kind, p)
            out["highest"][kind] = good
            out["probes"][kind] = probes
    rb = out["highest"].get("b") or p["light"]
    rates = {"light": p["light"], "b_max": rb, "overload": 2 * rb}
    out["rates"] = rates

    for kind in runnable:
        cluster = starter(kind)()
        try:
            plan = [("light", rates["light"]), ("b_max", rates["b_max"])]
            if kind == "a" and out["highest"].get("a"):
                plan.append(("own_max", out["highest"]["a"]))
            plan.append(("overload", rates["overload"]))
            if kind == "a" and out["highest"].get("a"):
                # 2x (b) may not overload (a): also offer 2x its own highest rate.
                plan.append(("own_overload", 2 * out["highest"]["a"]))
            for name, rate in plan:
                if not all(cluster.alive()):
                    cluster.stop()
                    cluster = starter(kind)()
                rep = runner.measure(cluster, f"{mode}/{kind}/{name}@{rate}", rate,
                                     p["duration"], p["drain"])
                out["runs"].setdefault(kind, {})[name] = rep
        finally:
            cluster.stop()
    # The probes' verdicts must hold in the measured runs too: every configuration
    # at (b)'s highest lossless rate, and (a) at its own.
    out["verdicts"] = {}
    for kind, runs in out["runs"].items():
        for name, rate in (("b_max", rates["b_max"]), ("own_max", out["highest"].get(kind))):
            if name in runs and rate:
                out["verdicts"].setdefault(kind, {})[name] = {
                    "rate": rate, "why": shortfall(runs[name], rate)}
    return out


#: The publish-path configuration of issue 12: 3 servers x 4 clients, 6 senders,
#: window 32, closed loop. Few receivers, so the adapter's cost is not hidden
#: behind socket.io's fan-out to hundreds of sockets.
PUBLISH_CONFIG = (4, 6, 32)


def run_publish_config(runner, mode, p, configs):
    """Each of `configs` (those of b, d, a) in the publish-path configuration,
    one closed-loop run each on a fresh cluster."""
    out = {}
    for kind in [k for k in ("b", "d", "a") if k in configs]:
        if kind == "d" and not os.path.exists(ADAPTER_MJS):
            continue
        cluster = Cluster(CONFIGS[kind], runner.redis, mode, runner.logdir, runner.a_binary)
        try:
            out[kind] = runner.measure(cluster, f"{mode}/{kind}/publish-config", 0,
                                       p["duration"], p["drain"], shape=PUBLISH_CONFIG)
        finally:
            cluster.stop()
    return out


def verdicts_table(mode_out):
    """Whether each measured run at a highest lossless rate passed the probe's rules."""
    rows = ["The measured runs at the highest lossless rates, under the probes' rules "
            "(per sender and sequence, senders ≥ 95 % of the rate, p99 < 1 s):", "",
            "| config | run | rate msg/s | verdict |", "|---|---|---|---|"]
    for kind, runs in (mode_out.get("verdicts") or {}).items():
        for name, v in runs.items():
            verdict = "holds" if v["why"] is None else f"does not hold: {v['why']}"
            rows.append(f"| {NAMES[kind]} | {name} | {v['rate']} | {verdict} |")
    return "\n".join(rows)


def publish_config_table(runs):
    """The publish-path configuration's runs, with (d) and (a) as ratios to (b)."""
    clients, senders, window = PUBLISH_CONFIG
    lines = [f"{clients} clients per server, {senders} senders, window {window}, closed loop.", "",
             "| config | delivered/s | vs (b) | server CPU µs/delivery | vs (b) | lost | p50 ms "
             "| p99 ms | generator CPU µs/del | servers up after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ref = runs.get("b") or {}
    for kind, rep in runs.items():
        if "error" in rep:
            lines.append(f"| {NAMES[kind]} | error: {rep['error'][:80]} |||||||||")
            continue
        cpu = rep.get("server_cpu_us_per_delivery")
        rd = ratio(rep.get("delivered_per_s"), ref.get("delivered_per_s"))
        rc = ratio(cpu, ref.get("server_cpu_us_per_delivery"))
        lines.append(
            f"| {NAMES[kind]} | {fmt(rep.get('delivered_per_s'))} "
            f"| {fmt(rd, 2) + '×' if rd is not None else '-'} | {fmt(cpu, 2)} "
            f"| {fmt(rc, 2) + '×' if rc is not None else '-'} "
            f"| {rep['lost']} of {rep['expected_deliveries']} "
            f"| {fmt(lat_ms(rep, 'p50'), 1)} | {fmt(lat_ms(rep, 'p99'), 1)} "
            f"| {fmt(rep.get('bench_cpu_us_per_delivery'), 2)} "
            f"| {sum(rep['servers_alive_after'])}/{len(rep['servers_alive_after'])} |")
    d = runs.get("d") or {}
    if ref and d and "error" not in ref and "error" not in d:
        rd = ratio(d.get("delivered_per_s"), ref.get("delivered_per_s"))
        rc = ratio(d.get("server_cpu_us_per_delivery"), ref.get("server_cpu_us_per_delivery"))
        lines += ["", "| target (issue 12) | measured | goal | |", "|---|---|---|---|",
                  f"| (d) delivered/s vs (b) | {fmt(rd, 2)} | ≥ 1.5 "
                  f"| {'met' if rd is not None and rd >= 1.5 else 'MISSED'} |",
                  f"| (d) server CPU per delivery vs (b) | {fmt(rc, 2)} | ≤ 0.7 "
                  f"| {'met' if rc is not None and rc <= 0.7 else 'MISSED'} |",
                  f"| (d) loses nothing | {d['lost']} lost | 0 "
                  f"| {'met' if d['lost'] == 0 else 'MISSED'} |"]
    return "\n".join(lines)


def redis_benchmark(redis, p):
    """PUBLISH throughput of the Redis: plain and pipelined, with redis-benchmark."""
    payload = "x" * 120  # about the size of a classic broadcast envelope
    results = {}
    variants = {
        "plain_c50": ["-c", "50"],
        "pipelined_c50_P32": ["-c", "50", "-P", "32"],
        "pipelined_c1_P32": ["-c", "1", "-P", "32"],
    }
    for name, extra in variants.items():
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port), "-n",
               str(p["redis_n"]), "-q", "--csv", *extra, "PUBLISH", "bench-rb", payload]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        rps = None
        for line in r.stdout.splitlines():
            cells = [c.strip('"') for c in line.split(",")]
            if len(cells) >= 2 and cells[0].startswith("PUBLISH"):
                try:
                    rps = float(cells[1])
                except ValueError:
                    pass
        results[name] = {"command": " ".join(cmd[:-1]) + " <120 bytes>", "requests_per_s": rps}
        log(f"redis-benchmark {name}: {rps}")
    return results


def publish_path(redis, mode, p):
    cmd = [PUBLISH_PATH, "--redis-url", redis.url, "--adapter", mode, "--count",
           str(p["publish_n"]), "--key", f"pp-{mode}", "--timeout", "120"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-400:]}
    rep = json.loads(r.stdout)
    log(f"publish-path {mode}: {rep['published_per_s']:.0f}/s, "
        f"{rep['cpu_us_per_broadcast']:.2f} µs CPU per broadcast")
    return rep


# ---------------------------------------------------------------- the report


def ratio(x, y):
    if x is None or y in (None, 0):
        return None
    return x / y


def lat_ms(rep, key):
    lat = rep.get("latency_us") or {}
    v = lat.get(key)
    return None if v is None else v / 1000


def mib(kib):
    return kib / 1024


def table(mode_out):
    runs = mode_out["runs"]
    lines = [
        "| config | run | rate msg/s | sent/s | delivered/s | lost (missing/dup/reordered) "
        "| p50 ms | p99 ms | max ms "
        "| server CPU µs/delivery | vs (b) | redis CPU µs/del | generator CPU µs/del "
        "| peak RSS/server MiB | RSS growth KiB/client | servers up after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("a", "b", "c", "d"):
        for name in ("light", "b_max", "own_max", "overload", "own_overload"):
            rep = runs.get(kind, {}).get(name)
            if rep is None:
                continue
            ref = runs.get("b", {}).get({"own_max": "b_max", "own_overload": "overload"}
                                        .get(name, name)) or {}
            if "error" in rep:
                lines.append(f"| {NAMES[kind]} | {name} | {rep['target_rate_per_s']} | "
                             f"error: {rep['error'][:80]} |||||||||||||")
                continue
            cpu = rep.get("server_cpu_us_per_delivery")
            peak = max(rep["servers_peak_rss_sampled_kib"] or [0])
            growth = max(rep["servers_rss_growth_per_client_kib"] or [0])
            r = ratio(cpu, ref.get("server_cpu_us_per_delivery"))
            lines.append(
                f"| {NAMES[kind]} | {name} | {fmt(rep['target_rate_per_s'])} "
                f"| {fmt(rep['sent_per_s'])} | {fmt(rep['delivered_per_s'])} "
                f"| {rep['lost']} of {rep['expected_deliveries']} ({rep.get('missing', '-')}/"
                f"{rep.get('duplicated', '-')}/{rep.get('reordered', '-')}) "
                f"| {fmt(lat_ms(rep, 'p50'), 1)} | {fmt(lat_ms(rep, 'p99'), 1)} "
                f"| {fmt(lat_ms(rep, 'max'), 1)} | {fmt(cpu, 2)} "
                f"| {fmt(r, 2) + '×' if r is not None else '-'} "
                f"| {fmt(rep.get('redis_cpu_us_per_delivery'), 2)} "
                f"| {fmt(rep.get('bench_cpu_us_per_delivery'), 2)} "
                f"| {fmt(mib(peak), 0)} | {fmt(growth, 1)} "
                f"| {sum(rep['servers_alive_after'])}/{len(rep['servers_alive_after'])} |")
    lines += ["", "Latency figures cover the deliveries that came: they leave out the missing "
              "ones (the report's `latency_excluded`) and count one later than 60 s as 60 s "
              "(`latency_clamped`)."]
    return "\n".join(lines)


def targets(mode_out, rb_pipelined, pp):
    """The targets of issue 7, evaluated on this run."""
    runs = mode_out["runs"]
    a, b = runs.get("a", {}), runs.get("b", {})
    res = []

    def add(name, value, goal, met):
        res.append((name, value, goal, "met" if met else "MISSED" if met is not None else "n/a"))

    def get(d, run, key):
        rep = d.get(run) or {}
        return rep.get(key)

    cpu_a = get(a, "b_max", "server_cpu_us_per_delivery")
    cpu_b = get(b, "b_max", "server_cpu_us_per_delivery")
    r = ratio(cpu_a, cpu_b)
    add("server CPU per delivered message, (a)/(b) at (b)'s highest rate",
        fmt(r, 3), "≤ 0.2", None if r is None else r <= 0.2)
    ha, hb = mode_out["highest"].get("a"), mode_out["highest"].get("b")
    r = ratio(ha, hb)
    add("highest lossless rate, (a)/(b)", f"{ha} / {hb} = {fmt(r, 2)}", "≥ 3",
        None if r is None else r >= 3)
    pa = lat_ms(a.get("own_max") or {}, "p99")
    pb = lat_ms(b.get("b_max") or {}, "p99")
    add("p99 of (a) at its highest rate vs (b) at its own", f"{fmt(pa, 1)} ms vs {fmt(pb, 1)} ms",
        "(a) ≤ (b)", None if pa is None or pb is None else pa <= pb)
    la, lb = lat_ms(a.get("light") or {}, "p99"), lat_ms(b.get("light") or {}, "p99")
    r = ratio(la, lb)
    add("p99 at the light rate, (a)/(b)", f"{fmt(la, 1)} ms / {fmt(lb, 1)} ms = {fmt(r, 2)}",
        "≤ 0.5", None if r is None else r <= 0.5)
    for ov in (a.get("overload"), a.get("own_overload")):
        if not ov or "error" in ov:
            continue
        up = all(ov["servers_alive_after"])
        peak = max(ov["servers_peak_rss_sampled_kib"])
        add(f"(a) offered {ov['target_rate_per_s']:.0f} msg/s: stays up, memory, drops",
            f"up={up}, peak RSS {mib(peak):.0f} MiB, lost {ov['lost']} "
            f"({100 * ov['loss_ratio']:.2f} %), p99 {lat_ms(ov, 'p99'):.0f} ms",
            "up, bounded, drops reported", up)
    if rb_pipelined and pp and "published_per_s" in pp:
        r = pp["published_per_s"] / rb_pipelined
        add("publish path vs pipelined redis-benchmark PUBLISH",
            f"{pp['published_per_s']:.0f} / {rb_pipelined:.0f} = {r:.2f}", "≥ 0.7", r >= 0.7)
    lines = ["| target | measured | goal | |", "|---|---|---|---|"]
    lines += [f"| {n} | {v} | {g} | {m} |" for n, v, g, m in res]
    return "\n".join(lines)


def params(args):
    if args.quick:
        p = dict(light=50, duration=5, drain=3, probe=3, search_from=100, search_cap=12800,
                 bisect=1, redis_n=100000, publish_n=100000)
    else:
        p = dict(light=50, duration=10, drain=5, probe=5, search_from=100, search_cap=25600,
                 bisect=2, redis_n=300000, publish_n=300000)
    if args.duration:
        p["duration"] = args.duration
    return p


def machine():
    info = {"uname": " ".join(os.uname()), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["node"] = subprocess.run(["node", "--version"], capture_output=True,
                                  text=True).stdout.strip()
    info["load_at_start"] = loadavg()
    info["cpu_pressure_at_start"] = cpu_pressure()
    return info


def prepare(args):
    if not args.no_build:
        log("building release binaries")
        # --bin names every binary: cargo applies each --bin to all the packages named.
        subprocess.run(["cargo", "build", "--release",
                        "-p", "crosscast-bench", "--bin", "crosscast-bench", "--bin", "publish-path",
                        "-p", "crosscast", "--bin", "crosscast",
                        "-p", "crosscast-tests", "--bin", "rust-peer"], cwd=ROOT, check=True)
    # npm ci unless node_modules was installed from the current lockfile.
    subprocess.run(["bash", "scripts/npm-deps.sh", "interop/node"], cwd=ROOT, check=True)
    for tool in ("redis-server", "redis-cli", "redis-benchmark", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"cluster.py: {tool} is required")


def pick_a_binary(args, redis, logdir):
    if args.a_binary != "auto":
        return args.a_binary
    try:
        Cluster(["a", "a"], redis, "classic", logdir, "serve").stop()
        return "serve"
    except Exception as e:  # noqa: BLE001
        log(f"crosscast serve cannot form a cluster yet ({str(e)[-200:]}); using rust-peer")
        return "rust-peer"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="classic only, shorter runs")
    ap.add_argument("--modes", default=None, help="classic,sharded (default both; quick: classic)")
    ap.add_argument("--configs", default="a,b,c,d")
    ap.add_argument("--clients", type=int, default=100, help="clients per server")
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=None, help="seconds per measured run")
    ap.add_argument("--a-binary", choices=["auto", "serve", "rust-peer"], default="auto")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-publish-config", action="store_true",
                    help="skip the publish-path configuration (3 x 4 clients, 6 senders, window 32)")
    ap.add_argument("--only-publish-config", action="store_true",
                    help="run only the publish-path configuration (no rate search)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not (1 <= args.clients <= 2000 and 1 <= args.senders <= 3 * args.clients):
        raise SystemExit("cluster.py: --clients in 1..=2000, --senders in 1..=3×clients")
    modes = (args.modes or ("classic" if args.quick else "classic,sharded")).split(",")
    configs = args.configs.split(",")
    p = params(args)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = args.out or os.path.join(ROOT, "bench", "results", f"cluster-{stamp}")
    os.makedirs(outdir, exist_ok=True)
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    prepare(args)

    started = time.time()
    redis = Redis(logdir)
    try:
        a_binary = pick_a_binary(args, redis, logdir)
        result = {"machine": machine(), "redis_version": redis.version(), "params": p,
                  "clients_per_server": args.clients, "senders": args.senders,
                  "a_binary": a_binary, "modes": {}}
        log(f"(a) runs {a_binary}; load {loadavg()}")
        result["redis_benchmark"] = redis_benchmark(redis, p)
        runner = Runner(args, redis, logdir, a_binary)
        for mode in modes:
            result["publish_path_" + mode] = publish_path(redis, mode, p)
            if args.only_publish_config:
                result["modes"][mode] = {"mode": mode, "runs": {}, "highest": {}, "probes": {},
                                         "not_runnable": {}}
            else:
                result["modes"][mode] = run_mode(runner, mode, p, configs)
            if not args.no_publish_config:
                result["modes"][mode]["publish_config"] = run_publish_config(
                    runner, mode, p, configs)
        result["machine"]["load_at_end"] = loadavg()
        result["machine"]["cpu_pressure_at_end"] = cpu_pressure()
        result["elapsed_s"] = time.time() - started
    finally:
        redis.stop()

    write_report(outdir, result, render(result))
    log(f"wrote {outdir}/report.md and report.json in {result['elapsed_s']:.0f} s")


def write_report(outdir, result, md):
    """report.json (every figure) and report.md (the tables) into `outdir`; prints the tables."""
    with open(os.path.join(outdir, "report.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write(md)
    print(md)


def render(result):
    m = result["machine"]
    rb = result["redis_benchmark"]
    lines = [
        f"# Cluster benchmark {m.get('cpu', '')}",
        "",
        f"- machine: {m['cpus']} CPUs, {m['uname']}, Node {m['node']}, "
        f"redis {result['redis_version']}",
        f"- load average at start {m['load_at_start']}, at end {m.get('load_at_end')}; "
        f"CPU pressure at start `{m['cpu_pressure_at_start']}`",
        f"- {result['clients_per_server']} clients per server, {result['senders']} senders, "
        f"params {result['params']}; (a) is `{result['a_binary']}`",
        "",
        "## Redis PUBLISH limit",
        "",
        "| measure | PUBLISH/s |",
        "|---|---|",
    ]
    for name, r in rb.items():
        lines.append(f"| redis-benchmark {name} | {fmt(r['requests_per_s'])} |")
    for mode in result["modes"]:
        pp = result.get("publish_path_" + mode) or {}
        if "published_per_s" in pp:
            lines.append(f"| crosscast publish path, {mode} (one node, io.emit loop) "
                         f"| {pp['published_per_s']:.0f} ({pp['cpu_us_per_broadcast']:.2f} µs "
                         f"CPU per broadcast) |")
    best = max([r["requests_per_s"] or 0 for r in rb.values()] or [0])
    for mode, mo in result["modes"].items():
        lines += ["", f"## {mode}", ""]
        if mo.get("runs"):
            lines += [f"Rates: {mo.get('rates')}; highest lossless rate found: {mo['highest']} "
                      f"(probes: {mo['probes']})", ""]
        for k, why in mo["not_runnable"].items():
            lines.append(f"- {NAMES[k]}: not runnable: {why}")
        if mo.get("runs"):
            lines += ["", table(mo), "", verdicts_table(mo), "", "### Targets", "",
                      targets(mo, best, result.get("publish_path_" + mode)), ""]
        if mo.get("publish_config"):
            lines += ["", f"### The publish-path configuration ({mode})", "",
                      publish_config_table(mo["publish_config"]), ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
