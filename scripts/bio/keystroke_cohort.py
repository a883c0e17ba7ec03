#!/usr/bin/python3
"""Keystroke scores normalised by a host's other enrolled typists (a cohort), from the matrix of
scripts/bio/keystroke_cohort.mjs (every Aalto TEST window against every TEST profile).

Hosts: the TEST typists shuffled (--seed) and cut into groups of --host typists. For a member u
and a window x, with s_v(x) the score against profile v:
  raw          s_u(x)
  cohort       s_u(x) - max over the host's other members v of s_v(x)
  blend L      s_u(x) + L * (s_u(x) - max_v s_v(x))
Genuine: u's own windows; enrolled impostor: the other members' windows; outsider: the windows
of 10 typists outside the host (drawn per member, deterministic). Reports the mean per-user EER
(each profile's own threshold) and the pooled EER (one threshold), both kinds of impostor, for
the column --score (fused: the classical score; combined: the shipped fused + embedding).

  python3 scripts/bio/keystroke_cohort.py MATRIX.tsv [--score combined] [--host 5] [--seed 1]
      [--at-frr 0.05 [--fusion models/keystroke-fusion/fusion.json]]
--at-frr F also prints, for the combined score, the rates at the shipped global threshold for a
false-reject rate F (the fusion's genuine quantiles, as fusionThreshold interpolates them).
Plain Python, no modules; seconds.
"""
import argparse
import collections
import random
import zlib

ap = argparse.ArgumentParser()
ap.add_argument("matrix")
ap.add_argument("--score", default="combined", choices=["fused", "combined"])
ap.add_argument("--host", type=int, default=5)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--outsiders", type=int, default=10)
ap.add_argument("--at-frr", type=float, default=None)
ap.add_argument("--fusion", default="models/keystroke-fusion/fusion.json")
args = ap.parse_args()
BLENDS = [0.1, 0.2, 0.3, 0.5, 1.0]

S = collections.defaultdict(dict)  # S[(owner, window)][profile] = score
with open(args.matrix) as fh:
    head = fh.readline().rstrip("\n").split("\t")
    cp, co, cw, cs = head.index("profile"), head.index("owner"), head.index("window"), head.index(args.score)
    for line in fh:
        f = line.rstrip("\n").split("\t")
        S[(f[co], int(f[cw]))][f[cp]] = float(f[cs])
windows = collections.defaultdict(list)
for key in S:
    windows[key[0]].append(key)
typists = sorted(windows)
random.Random(args.seed).shuffle(typists)
hosts = [typists[i:i + args.host] for i in range(0, len(typists) - args.host + 1, args.host)]


def eer(g, im):
    """EER of genuine scores g against impostor scores im (higher = genuine), interpolated at the crossing."""
    pts = sorted([(x, 1) for x in g] + [(x, 0) for x in im])
    fr, fa = 0, len(im)
    prev = (0.0, 1.0)
    i = 0
    while i < len(pts):
        j = i
        while j < len(pts) and pts[j][0] == pts[i][0]:
            if pts[j][1]:
                fr += 1
            else:
                fa -= 1
            j += 1
        frr, far = fr / len(g), fa / len(im)
        if frr >= far:
            d0, d1 = prev[1] - prev[0], frr - far
            a = d0 / (d0 + d1) if d0 + d1 > 0 else 0
            return 0.5 * (prev[0] + a * (frr - prev[0]) + prev[1] + a * (far - prev[1]))
        prev = (frr, far)
        i = j
    return 0.5


methods = ["raw", "cohort"] + [f"blend {b}" for b in BLENDS]
acc = {m: {"g": [], "e": [], "o": [], "ue": [], "uo": []} for m in methods}
for host in hosts:
    members = set(host)
    outside = [t for t in typists if t not in members]
    for u in host:
        others = [v for v in host if v != u]

        def scores(x):
            su = S[x][u]
            d = su - max(S[x][v] for v in others)
            return {"raw": su, "cohort": d, **{f"blend {b}": su + b * d for b in BLENDS}}

        draw = random.Random(zlib.crc32(f"{args.seed}:{u}".encode()))
        G = [scores(x) for x in windows[u]]
        E = [scores(x) for v in others for x in windows[v]]
        O = [scores(x) for v in draw.sample(outside, args.outsiders) for x in windows[v]]
        for m in methods:
            g, e, o = [s[m] for s in G], [s[m] for s in E], [s[m] for s in O]
            a = acc[m]
            a["g"] += g
            a["e"] += e
            a["o"] += o
            if g and e:
                a["ue"].append(eer(g, e))
            if g and o:
                a["uo"].append(eer(g, o))
print(f"score {args.score}, hosts of {args.host} ({len(hosts)}), seed {args.seed}; EER % per-user / pooled")
print(f"{'method':12s} {'enrolled impostor':>20s} {'outsider':>20s}")
for m in methods:
    a = acc[m]
    print(f"{m:12s} {100 * sum(a['ue']) / len(a['ue']):9.2f} / {100 * eer(a['g'], a['e']):6.2f}   {100 * sum(a['uo']) / len(a['uo']):9.2f} / {100 * eer(a['g'], a['o']):6.2f}")
if args.at_frr is not None:
    import json

    if args.score != "combined":
        raise SystemExit("--at-frr is for --score combined (the fusion's threshold)")
    q = json.load(open(args.fusion))["windows"]["100"]["genuineQuantiles"]
    x = min(99.0, max(1.0, args.at_frr * 100)) - 1  # fusionThreshold (keystroke-fusion-model.ts)
    lo = int(x)
    hi = min(98, lo + 1)
    t = q[lo] + (q[hi] - q[lo]) * (x - lo)
    print(f"at the shipped threshold for FRR {args.at_frr} ({t:.4f}): % genuine rejected, enrolled / outsider accepted")
    for m in methods:
        a = acc[m]
        rate = lambda v, acc_: 100 * sum((x >= t) == acc_ for x in v) / len(v)
        print(f"{m:12s} {rate(a['g'], False):6.2f}   {rate(a['e'], True):6.2f} / {rate(a['o'], True):6.2f}")
