"""The "account size" scenario: what medtech's reads cost in a crowded account.

Health-tech companies often share one AWS account between many teams, with thousands of IAM
roles and policies. A read that lists a whole kind of the account (IAM's
`GetAccountAuthorizationDetails`, or a tag filter that other teams' resources match too) costs
more there, page after page. This scenario runs the no-op `up`, `plan` and `verify` of one
environment with every AWS call answered after `CALL_LATENCY_S` (the emulator's
`call_latency`), first in an account that holds only the stack, then after
`POST /_medtech/crowd` has added another team's roles, policies, alarms, secrets and log groups,
tagged with the same `Environment`. Then ten `plan`s of ten environments at once against the
crowded account, against a single one.

Targets (from issue 17; reported, never asserted): crowded ÷ empty wall time ≤ 1.15 for each
command; the no-op `up` ≤ 40 reads and ≤ 4 sequential round trips in both accounts; none of the
ten `plan`s fails on throttling.
"""
from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

CALL_LATENCY_S = 0.1
CROWD = {"team": "other-team", "roles": 1500, "policies": 1500, "alarms": 100, "secrets": 100,
         "log_groups": 100}
ENV = "size"
CONCURRENT_ENVS = 10
COMMANDS = (("no-op `up`", "up"), ("`plan`", "plan"), ("`verify`", "verify"))
TARGET_RATIO = 1.15
TARGET_NOOP_READS = 40
TARGET_NOOP_ROUND_TRIPS = 4
# Throttling as each protocol words it (EC2, query services, JSON services).
THROTTLED = ("RequestLimitExceeded", "Throttling", "Rate exceeded", "TooManyRequests")


def round_trips(requests: list[dict]) -> list[str]:
    """The longest chain of calls in which each was sent after the one before it was answered:
    the round trips a run waits for one after another (calls in flight together count once),
    as the operations along it."""
    spans = sorted((r["t"], r.get("done", r["t"]), r["op"]) for r in requests)
    depth: list[int] = []
    before: list[int | None] = []
    for i, (sent, _, _) in enumerate(spans):
        prior = [j for j in range(i) if spans[j][1] <= sent]
        best = max(prior, key=lambda j: depth[j], default=None)
        depth.append(1 + (depth[best] if best is not None else 0))
        before.append(best)
    chain = []
    at = max(range(len(spans)), key=lambda i: depth[i], default=None)
    while at is not None:
        chain.append(spans[at][2])
        at = before[at]
    return chain[::-1]


class Scenario:
    def __init__(self, medtech: Path, work: Path, emulator, run_process: Callable,
                 is_read: Callable[[str], bool], env_for: Callable[[str], dict], repeats: int,
                 log: Callable[[str], None], timeout: float):
        self.medtech, self.work, self.emulator = medtech, work, emulator
        self.run_process, self.is_read, self.log = run_process, is_read, log
        self.env = env_for(emulator.url)
        self.repeats, self.timeout = repeats, timeout
        self.failures: list[str] = []

    def medtech_argv(self, command: str, env: str) -> list[str]:
        return [str(self.medtech), command, "--env", env]

    def measure(self, label: str, command: str, account: str, n: int) -> dict:
        """One run, with the emulator's per-operation counts and request log of it alone."""
        cwd = self.work / "size"
        name = f"{account}-{command}-{n}"
        self.emulator.reset_observations()
        res = self.run_process(self.medtech_argv(command, ENV), cwd, self.env,
                               cwd / f"{name}.stdout.txt", cwd / f"{name}.stderr.txt", self.timeout)
        stats, requests = self.emulator.observations()
        ops = {op: v["requests"] for op, v in stats["operations"].items()}
        chain = round_trips(requests)
        # verify exits 1 when a check fails: that is its answer, not a failed run.
        ok = res["exit_code"] == 0 or (command == "verify" and res["exit_code"] == 1)
        if not ok:
            tail = (cwd / f"{name}.stderr.txt").read_text(errors="replace")[-1500:]
            self.failures.append(f"account size, {account} {label}: exit {res['exit_code']}\n\n```\n{tail}\n```")
        return {"wall_s": res["wall_s"], "exit_code": res["exit_code"], "ok": ok,
                "calls": sum(ops.values()),
                "reads": sum(n for op, n in ops.items() if self.is_read(op)),
                "iam_calls": sum(n for op, n in ops.items() if op.startswith("iam:")),
                "round_trips": len(chain), "chain": chain, "operations": ops}

    def measure_account(self, account: str) -> dict:
        runs: dict[str, list[dict]] = {command: [] for _, command in COMMANDS}
        for n in range(self.repeats):  # interleaved, so drift in the machine's load spreads out
            for label, command in COMMANDS:
                runs[command].append(self.measure(label, command, account, n))
        out = {}
        for label, command in COMMANDS:
            walls = [r["wall_s"] for r in runs[command]]
            median = statistics.median(walls)
            # Counts do not vary between repeats; the run nearest the median speaks for them.
            typical = min(runs[command], key=lambda r: abs(r["wall_s"] - median))
            out[command] = {**typical, "wall_s": median, "walls_s": walls,
                            "ok": all(r["ok"] for r in runs[command])}
            self.log(f"account size, {account}: {label} {median:.2f} s, {typical['reads']} reads "
                     f"({typical['iam_calls']} IAM), {typical['round_trips']} round trips")
        return out

    def set_latency(self, seconds: float) -> None:
        self.emulator.call("POST", "/_medtech/behaviour", {"call_latency": seconds} if seconds else {})

    def up_plain(self, env: str) -> None:
        """`up` with the latency off: building the environments is not what is measured."""
        cwd = self.work / "size"
        res = self.run_process(self.medtech_argv("up", env), cwd, self.env, cwd / f"up-{env}.stdout.txt",
                               cwd / f"up-{env}.stderr.txt", self.timeout)
        if res["exit_code"] != 0:
            tail = (cwd / f"up-{env}.stderr.txt").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"account size: `up --env {env}` failed (exit {res['exit_code']}): {tail}")

    def concurrent_plans(self, envs: list[str]) -> dict:
        """Every environment's `plan` started at once; wall time until the last one ended."""
        cwd = self.work / "size"
        self.emulator.reset_observations()
        started = time.monotonic()
        procs = []
        for env in envs:
            err = open(cwd / f"plan-{env}.stderr.txt", "wb")
            procs.append((env, err, subprocess.Popen(self.medtech_argv("plan", env), cwd=cwd, env=self.env,
                                                     stdout=subprocess.DEVNULL, stderr=err,
                                                     stdin=subprocess.DEVNULL)))
        results = []
        for env, err, proc in procs:
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            err.close()
            text = (cwd / f"plan-{env}.stderr.txt").read_text(errors="replace")
            results.append({"env": env, "exit_code": code,
                            "throttled": any(word in text for word in THROTTLED)})
            if code != 0:
                self.failures.append(f"account size, concurrent `plan --env {env}`: exit {code}\n\n"
                                     f"```\n{text[-1500:]}\n```")
        wall = time.monotonic() - started
        stats, _ = self.emulator.observations()
        return {"wall_s": wall, "plans": results,
                "failed": sum(r["exit_code"] != 0 for r in results),
                "failed_on_throttling": sum(r["exit_code"] != 0 and r["throttled"] for r in results),
                "calls": stats["totals"]["requests"],
                "iam_calls": sum(v["requests"] for op, v in stats["operations"].items()
                                 if op.startswith("iam:"))}

    def run(self) -> dict:
        (self.work / "size").mkdir(exist_ok=True)
        self.set_latency(0)
        self.up_plain(ENV)  # also the warm-up: every service's backend and model is loaded
        self.set_latency(CALL_LATENCY_S)
        empty = self.measure_account("empty")
        made = self.emulator.call("POST", "/_medtech/crowd", {**CROWD, "environment": ENV})
        self.log(f"account size: crowded the account with {made}")
        crowded = self.measure_account("crowded")

        self.set_latency(0)
        others = [f"{ENV}-{n}" for n in range(1, CONCURRENT_ENVS)]
        for env in others:
            self.up_plain(env)
        self.set_latency(CALL_LATENCY_S)
        single = [self.measure("`plan`", "plan", "crowded-ten-stacks", n)["wall_s"]
                  for n in range(self.repeats)]
        together = self.concurrent_plans([ENV, *others])
        together["single_plan_wall_s"] = statistics.median(single)
        together["ratio"] = together["wall_s"] / together["single_plan_wall_s"]
        self.log(f"account size: {CONCURRENT_ENVS} plans at once {together['wall_s']:.2f} s, "
                 f"{together['ratio']:.2f} × one plan; {together['failed']} failed")
        self.set_latency(0)
        ratios = {command: crowded[command]["wall_s"] / empty[command]["wall_s"] for _, command in COMMANDS}
        return {"call_latency_s": CALL_LATENCY_S, "crowd": {**CROWD, "environment": ENV},
                "repeats": self.repeats, "empty": empty, "crowded": crowded, "ratios": ratios,
                "concurrent": together, "failures": self.failures}


def summary_rows(r: dict) -> list[dict]:
    rows = []
    for label, command in COMMANDS:
        e, c, ratio = r["empty"][command], r["crowded"][command], r["ratios"][command]
        rows.append({"figure": f"account size: {label} crowded ÷ empty", "key": f"size_{command}_ratio",
                     "value": ratio,
                     "measured": f"{ratio:.2f}× ({c['wall_s']:.2f} s ÷ {e['wall_s']:.2f} s)",
                     "target": f"≤ {TARGET_RATIO:.2f}×",
                     "ok": None if not (e["ok"] and c["ok"]) else ratio <= TARGET_RATIO})
    for account in ("empty", "crowded"):
        up = r[account]["up"]
        rows.append({"figure": f"account size: no-op `up` reads, {account} account", "key": f"size_{account}_reads",
                     "value": up["reads"], "measured": f"{up['reads']} ({up['iam_calls']} IAM)",
                     "target": f"≤ {TARGET_NOOP_READS}", "ok": up["reads"] <= TARGET_NOOP_READS})
        rows.append({"figure": f"account size: no-op `up` sequential round trips, {account} account",
                     "key": f"size_{account}_round_trips", "value": up["round_trips"],
                     "measured": str(up["round_trips"]), "target": f"≤ {TARGET_NOOP_ROUND_TRIPS}",
                     "ok": up["round_trips"] <= TARGET_NOOP_ROUND_TRIPS})
    t = r["concurrent"]
    rows.append({"figure": f"account size: {CONCURRENT_ENVS} `plan`s of {CONCURRENT_ENVS} environments at once, "
                           "failed on throttling", "key": "size_concurrent_throttled",
                 "value": t["failed_on_throttling"],
                 "measured": f"{t['failed_on_throttling']} (of {t['failed']} failed)", "target": "0",
                 "ok": t["failed_on_throttling"] == 0})
    rows.append({"figure": f"account size: {CONCURRENT_ENVS} `plan`s at once ÷ one `plan`", "key": "size_concurrent_ratio",
                 "value": t["ratio"],
                 "measured": f"{t['ratio']:.2f}× ({t['wall_s']:.2f} s ÷ {t['single_plan_wall_s']:.2f} s)",
                 "target": "—", "ok": None})
    return rows


def markdown(r: dict, verdict: Callable) -> list[str]:
    crowd = r["crowd"]
    out = ["", "## Account size", "",
           f"Every AWS call answered after {r['call_latency_s'] * 1000:g} ms (the emulator's `call_latency`; "
           "no modeled waits: nothing changes). *Empty*: the account holds only the stack. *Crowded*: "
           f"`POST /_medtech/crowd` added {crowd['roles']:,} IAM roles and {crowd['policies']:,} "
           f"customer-managed policies, {crowd['alarms']} alarms, {crowd['secrets']} secrets and "
           f"{crowd['log_groups']} log groups of team `{crowd['team']}`, all tagged "
           f"`Environment={crowd['environment']}` like the stack. IAM pages as AWS does (100 a page). "
           f"Wall time: the median of {r['repeats']} runs, interleaved. Reads and calls: as the emulator "
           "counted them. Round trips: the longest chain of calls each sent after the one before it was "
           "answered (from the emulator's request log).", "",
           "| command | empty s | crowded s | crowded ÷ empty | target | result | reads (IAM) empty | "
           "reads (IAM) crowded | round trips empty | round trips crowded |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for label, command in COMMANDS:
        e, c, ratio = r["empty"][command], r["crowded"][command], r["ratios"][command]
        out.append(f"| {label} | {e['wall_s']:.2f} | {c['wall_s']:.2f} | {ratio:.2f} | ≤ {TARGET_RATIO:.2f} "
                   f"| {verdict(ratio <= TARGET_RATIO)} | {e['reads']} ({e['iam_calls']}) "
                   f"| {c['reads']} ({c['iam_calls']}) | {e['round_trips']} | {c['round_trips']} |")
    t = r["concurrent"]
    out += ["", f"{CONCURRENT_ENVS} environments up in the crowded account; their `plan`s started at once: "
            f"{t['wall_s']:.2f} s until the last ended, {t['ratio']:.2f}× one `plan` alone "
            f"({t['single_plan_wall_s']:.2f} s, median of {r['repeats']}). {t['failed']} failed, "
            f"{t['failed_on_throttling']} of them on throttling; {t['calls']} calls in all, {t['iam_calls']} to IAM. "
            "The emulator answers each call after the latency however many arrive at once, and throttles "
            "only through its fault layer (off here): the concurrent figure shows the cost of ten runs "
            "sharing the machine's cores and the emulator, not IAM's rate limits.", "",
            "IAM calls per operation, no-op `up`: "
            + ", ".join(f"`{op}` {n}" for op, n in sorted(r["crowded"]["up"]["operations"].items())
                        if op.startswith("iam:")) + "."]
    return out
