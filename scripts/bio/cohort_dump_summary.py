#!/usr/bin/env python3
"""The several-users mouse model's blocks in a replay dump, summed up per file.

Input: CSVs of `balabit_eval --oneclass 1 --oc-methods hist-w --dump-blocks FILE --dump-cohort 1`
(one row per 20-action block every 5 actions; the cohort columns are empty where the user is
not a member). For each file it prints one line:
  * per-user EER of the cohort score, closed (the impostor enrolled: cohort_score) and open (an
    outsider: cohort_open_score), the mean of each user's own equal-error rate;
  * at each block's own calibrated threshold (cohort_threshold / cohort_open_threshold, the
    model's cross-fitted 5% target unless --cohort-frr changed it): the share of genuine blocks
    rejected and of the enrolled / outside impostor's blocks accepted.
No third-party modules. Usage: scripts/bio/cohort_dump_summary.py FILE.csv ...
"""
import csv
import sys


def eer(genuine, impostor):
    """Equal-error rate: the threshold sweep over every score, FRR = genuine < t, FAR = impostor >= t."""
    events = sorted([(s, 0) for s in genuine] + [(s, 1) for s in impostor])
    ng, ni = len(genuine), len(impostor)
    below_g, below_i = 0, 0  # scores below the current threshold
    best = (2.0, 0.5)
    i = 0
    while i <= len(events):
        frr, far = below_g / ng, (ni - below_i) / ni
        best = min(best, (abs(frr - far), (frr + far) / 2))
        if i == len(events):
            break
        t = events[i][0]
        while i < len(events) and events[i][0] == t:  # ties move together
            below_g += events[i][1] == 0
            below_i += events[i][1] == 1
            i += 1
    return best[1]


def summary(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["cohort_score"] != ""]
    if not rows:
        return f"{path}: no cohort columns (dump without --dump-cohort 1, or no member)"
    gen = [r for r in rows if r["genuine"] == "1"]
    imp = [r for r in rows if r["genuine"] == "0"]
    if not gen or not imp:
        return f"{path}: needs both genuine and impostor blocks"
    users = sorted({r["user"] for r in rows})
    per = {"closed": [], "open": []}
    for u in users:
        g = [float(r["cohort_score"]) for r in gen if r["user"] == u]
        for key, col in (("closed", "cohort_score"), ("open", "cohort_open_score")):
            i = [float(r[col]) for r in imp if r["user"] == u]
            if g and i:
                per[key].append(eer(g, i))
    rejected = sum(float(r["cohort_score"]) < float(r["cohort_threshold"]) for r in gen) / len(gen)
    closed = sum(float(r["cohort_score"]) >= float(r["cohort_threshold"]) for r in imp) / len(imp)
    outsider = sum(float(r["cohort_open_score"]) >= float(r["cohort_open_threshold"]) for r in imp) / len(imp)
    mean = lambda v: 100 * sum(v) / max(len(v), 1)
    return (f"{path}: per-user EER closed {mean(per['closed']):.2f}% open {mean(per['open']):.2f}% ({len(users)} users); "
            f"at the calibrated thresholds genuine rejected {100 * rejected:.1f}%, enrolled impostor accepted "
            f"{100 * closed:.1f}%, outsider accepted {100 * outsider:.1f}% ({len(gen)} genuine, {len(imp)} impostor blocks)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: cohort_dump_summary.py FILE.csv ...")
    for p in sys.argv[1:]:
        print(summary(p))
