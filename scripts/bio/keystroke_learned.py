#!/usr/bin/python3
"""Learned keystroke embedding (issue 5): train on the FIT typists, measure on TEST.

Input is what `aalto_eval --dump DIR` writes: DIR/records.tsv (every typist's
keystroke records as the native extractor emits them) and DIR/fused_W.tsv (the
classical fused-z score of every profile-vs-window row), so the windows, the
FIT/TEST split and the classical baseline are exactly the C++ evaluation's.

The model sees only what leaves the native collector: per keystroke the hold
time, press-press and release-press latencies (ms), their presence flags and
the backspace flag. No key identity or bucket. The feature transform is part
of the exported graph, so the daemon feeds the six raw numbers.

  /tmp/bio-build/aalto_eval --data /tmp/biodata/aalto_dev --dump /tmp/ksdump
  /usr/bin/python3 scripts/bio/keystroke_learned.py --dump /tmp/ksdump --out /tmp/ksmodel \
      [--epochs 20] [--seed 1]
  /usr/bin/python3 scripts/bio/install_keystroke_models.py --from /tmp/ksmodel

Training uses three quarters of the FIT typists (a normalised-softmax classifier over them,
additive margin 0.25, scale 24, random 50-keystroke chunks); the fusion weights and the
genuine-score percentiles are fit on the remaining quarter, whose typists the embedder never
saw. Every figure printed is on the TEST typists (aalto_eval's split), per window of
50/100/200 keystrokes: per-user and pooled EER of the daemon's fused score, of the embedding
alone and of their combination, the FAR/FRR at the EER threshold of the held-out FIT quarter,
and the FRR/FAR at the thresholds shipped for 5% and 10% false rejects.
"""
import argparse
import collections
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CHUNK = 50          # keystrokes per embedded chunk
STRIDE = 25         # chunk stride inside a window or an enrollment
N_RAW = 6           # hold_ms, pp_ms, rp_ms, has_hold, has_digraph, backspace
EMBED = 64


def load_records(path):
    users = collections.OrderedDict()
    with open(path) as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            split, user, part = p[0], p[1], p[2]
            bs, hh, hd = int(p[5]), int(p[6]), int(p[7])
            row = (float(p[10]), float(p[11]), float(p[12]), hh, hd, bs)
            u = users.setdefault(user, {"split": split, "e": [], "t": []})
            u[part].append(row)
    for u in users.values():
        u["e"] = np.asarray(u["e"], dtype=np.float32).reshape(-1, N_RAW)
        u["t"] = np.asarray(u["t"], dtype=np.float32).reshape(-1, N_RAW)
    return users


class Transform(nn.Module):
    """Raw record -> model features; part of the exported graph."""

    def forward(self, x):  # x: [B, T, 6]
        hold, pp, rp = x[..., 0], x[..., 1], x[..., 2]
        hh, hd, bs = x[..., 3], x[..., 4], x[..., 5]
        hold_l = torch.log1p(torch.clamp(hold, 0.0, 1500.0)) / 7.0 * hh
        pp_l = torch.log1p(torch.clamp(pp, 0.0, 1500.0)) / 7.0 * hd
        rp_c = torch.clamp(rp, -500.0, 1500.0) / 500.0 * hd
        hold_s = torch.clamp(hold, 0.0, 1500.0) / 250.0 * hh
        pp_s = torch.clamp(pp, 0.0, 1500.0) / 500.0 * hd
        return torch.stack([hold_l, pp_l, rp_c, hold_s, pp_s, hh, hd, bs], dim=-1)


class Embedder(nn.Module):
    def __init__(self, width=96, embed=EMBED):
        super().__init__()
        self.t = Transform()
        self.inp = nn.Linear(8, width)
        self.convs = nn.ModuleList([nn.Conv1d(width, width, 5, padding=2) for _ in range(3)])
        self.norms = nn.ModuleList([nn.BatchNorm1d(width) for _ in range(3)])
        self.gru = nn.GRU(width, width, batch_first=True, bidirectional=True)
        self.out = nn.Linear(4 * width, embed)

    def forward(self, x):  # [B, T, 6] -> [B, EMBED], unit length
        h = self.inp(self.t(x)).transpose(1, 2)
        for c, n in zip(self.convs, self.norms):
            h = h + F.relu(n(c(h)))
        h, _ = self.gru(h.transpose(1, 2))
        z = torch.cat([h.mean(1), h.std(1)], dim=1)
        return F.normalize(self.out(z), dim=1)


def chunks(a, stride=STRIDE):
    if len(a) < CHUNK:
        return np.zeros((0, CHUNK, N_RAW), np.float32)
    idx = range(0, len(a) - CHUNK + 1, stride)
    return np.stack([a[i:i + CHUNK] for i in idx])


def window_chunks(t, W):
    """Non-overlapping windows of W test records, each cut into chunks."""
    out = []
    for s in range(0, len(t) - W + 1, W):
        out.append(chunks(t[s:s + W]))
    return out


def embed_all(model, arr, bs=512):
    model.eval()
    res = []
    with torch.no_grad():
        for i in range(0, len(arr), bs):
            res.append(model(torch.from_numpy(arr[i:i + bs])).numpy())
    return np.concatenate(res) if res else np.zeros((0, EMBED), np.float32)


def train(users, epochs, seed, log):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    fit = [u for u in users.values() if u["split"] == "fit" and not u.get("calib")]
    seqs = [np.concatenate([u["e"], u["t"]]) for u in fit]
    model = Embedder()
    cls = nn.Parameter(torch.randn(len(fit), EMBED) * 0.1)
    opt = torch.optim.AdamW(list(model.parameters()) + [cls], lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = 60
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    scale, margin = 24.0, 0.25
    for ep in range(epochs):
        model.train()
        tot = 0.0
        t0 = time.time()
        for _ in range(steps_per_epoch):
            ui = rng.integers(0, len(fit), 256)
            batch = np.empty((256, CHUNK, N_RAW), np.float32)
            for j, u in enumerate(ui):
                s = seqs[u]
                o = rng.integers(0, len(s) - CHUNK + 1)
                batch[j] = s[o:o + CHUNK]
            e = model(torch.from_numpy(batch))
            logits = e @ F.normalize(cls, dim=1).T
            y = torch.from_numpy(ui)
            logits = logits - margin * F.one_hot(y, len(fit))
            loss = F.cross_entropy(scale * logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        log(f"epoch {ep + 1}/{epochs} loss {tot / steps_per_epoch:.3f} ({time.time() - t0:.1f} s)")
    model.eval()
    return model


def roc(g, im):
    """AUC, EER and EER threshold (higher score = genuine), computed exactly as
    native/biometrics/metrics.cpp roc_summary() does, so figures compare."""
    g = np.sort(np.asarray(g, np.float64)); im = np.sort(np.asarray(im, np.float64))
    lo = np.searchsorted(im, g, side="left"); hi = np.searchsorted(im, g, side="right")
    auc = float((lo + 0.5 * (hi - lo)).sum()) / (len(g) * len(im))
    th = np.unique(np.concatenate([g, im]))
    th = np.append(th, th[-1] + 1.0)
    frr = np.searchsorted(g, th, side="left") / len(g)
    far = (len(im) - np.searchsorted(im, th, side="left")) / len(im)
    k = int(np.argmax(frr >= far))
    if not (frr[k] >= far[k]):
        return auc, 0.5, th[-1]
    if k == 0:
        pf, pr, pt = 1.0, 0.0, th[0]
    else:
        pf, pr, pt = far[k - 1], frr[k - 1], th[k - 1]
    d0, d1 = pf - pr, frr[k] - far[k]
    a = d0 / (d0 + d1) if d0 + d1 > 0 else 0.0
    eer = 0.5 * ((pf + a * (far[k] - pf)) + (pr + a * (frr[k] - pr)))
    return auc, eer, pt + a * (th[k] - pt)


def evaluate(name, rows, score, log):
    """rows: dict split -> (profile idx, genuine flag, extra); score: split -> array."""
    out = {}
    s_fit, g_fit = score["fit"], rows["fit"]["genuine"]
    _, _, thr = roc(s_fit[g_fit], s_fit[~g_fit])
    s, g, prof = score["test"], rows["test"]["genuine"], rows["test"]["profile"]
    auc, eer, _ = roc(s[g], s[~g])
    per = []
    for p in np.unique(prof):
        m = prof == p
        if g[m].any() and (~g[m]).any():
            per.append(roc(s[m & g], s[m & ~g])[1])
    far = float(np.mean(s[~g] >= thr)); frr = float(np.mean(s[g] < thr))
    log(f"  {name:<34} {100 * np.mean(per):8.2f} {100 * eer:10.2f} {auc:10.4f} {100 * far:7.2f}/{100 * frr:.2f}")
    return dict(user_eer=float(np.mean(per)), pooled_eer=float(eer), auc=float(auc), far=far, frr=frr)


def fit_logistic(X, y, iters=300):
    """Class-balanced logistic regression (y = 1 genuine); returns (w, b): score = X @ w + b."""
    Xt = torch.from_numpy(X.astype(np.float64)); yt = torch.from_numpy(y.astype(np.float64))
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    cw = torch.where(yt > 0, 0.5 / yt.sum(), 0.5 / (1 - yt).sum())
    opt = torch.optim.LBFGS([w, b], max_iter=iters)

    def closure():
        opt.zero_grad()
        l = (cw * F.binary_cross_entropy_with_logits(Xt @ w + b, yt, reduction="none")).sum()
        l.backward()
        return l

    opt.step(closure)
    return w.detach().numpy(), float(b.detach().numpy()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--out", default="")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--windows", default="50,100,200")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--load", default="",
                    help="keystroke_embed.pt of an earlier run (same --dump, --seed split): skip training")
    ap.add_argument("--bootstrap", type=int, default=0,
                    help="resample the held-out FIT typists this many times: the spread of TEST FRR at their thresholds")
    ap.add_argument("--no-hold", action="store_true",
                    help="ablation: hide hold times (and their flag) from the model, in training and scoring")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log = lambda m: (print(m), sys.stdout.flush())
    users = load_records(os.path.join(args.dump, "records.tsv"))
    if args.no_hold:
        for u in users.values():
            for part in ("e", "t"):
                u[part][:, 0] = 0
                u[part][:, 3] = 0
    ids = list(users)
    # A quarter of the FIT typists is held out of training: the fusion weights
    # and the FIT thresholds are fit on their rows, where the embedding is as
    # unseen as on TEST.
    for i, uid in enumerate([u for u in ids if users[u]["split"] == "fit"]):
        users[uid]["calib"] = i % 4 == 3
    log(f"typists: {sum(u['split'] == 'fit' for u in users.values())} fit, "
        f"{sum(u['split'] == 'test' for u in users.values())} test")
    if args.load:
        model = Embedder()
        model.load_state_dict(torch.load(args.load))
        model.eval()
        log(f"embedder loaded from {args.load} (not trained)")
    else:
        model = train(users, args.epochs, args.seed, log)

    # Enrollment embeddings: chunks of the first 10 sentences, stride 25.
    prof = {}
    enr_self = {}
    enr_chunks = {uid: chunks(u["e"]) for uid, u in users.items()}
    flat = embed_all(model, np.concatenate(list(enr_chunks.values())), bs=2048)
    at = 0
    for uid, c in enr_chunks.items():
        e = flat[at:at + len(c)]
        at += len(c)
        prof[uid] = F.normalize(torch.from_numpy(e.mean(0, keepdims=True)), dim=1).numpy()[0] if len(e) else None
        enr_self[uid] = e
    summary = {}
    for W in [int(x) for x in args.windows.split(",")]:
        log(f"\n== window {W} keystrokes ==")
        # Embed every window of every typist (mean of its chunks' embeddings).
        wemb = {}
        allc, owner = [], []
        for uid, u in users.items():
            for wi, c in enumerate(window_chunks(u["t"], W)):
                allc.append(c)
                owner.append((uid, wi, len(c)))
        flat = embed_all(model, np.concatenate(allc), bs=2048)
        at = 0
        for uid, wi, n in owner:
            wemb.setdefault(uid, []).append(flat[at:at + n].mean(0))
            at += n
        fused = {"fit": [], "test": []}
        with open(os.path.join(args.dump, f"fused_{W}.tsv")) as f:
            next(f)
            for line in f:
                sp, p, o, wi, fz = line.rstrip("\n").split("\t")
                fused[sp].append((p, o, int(wi), float(fz)))
        rows, sc = {}, {}
        for sp in ("fit", "test"):
            if sp == "fit":
                fused[sp] = [r for r in fused[sp] if users[r[0]]["calib"] and users[r[1]]["calib"]]
            pidx = {p: i for i, p in enumerate(ids)}
            P = np.array([pidx[r[0]] for r in fused[sp]])
            G = np.array([r[0] == r[1] for r in fused[sp]])
            FZ = np.array([r[3] for r in fused[sp]])
            EMB = np.array([float(wemb[r[1]][r[2]] @ prof[r[0]]) for r in fused[sp]])
            # z-normalise the embedding similarity by the profile's own enrollment
            # chunks (leave-none-out: cheap, like the per-user normalisation of fused z)
            mu = np.array([float((enr_self[p] @ prof[p]).mean()) for p in ids])
            sd = np.array([max(float((enr_self[p] @ prof[p]).std()), 0.02) for p in ids])
            EMBZ = (EMB - mu[P]) / sd[P]
            rows[sp] = {"genuine": G, "profile": P}
            sc[sp] = {"fused z": FZ, "embedding cosine": EMB, "embedding z": EMBZ}
        for name in ("fused z", "embedding cosine"):
            q = {sp: np.quantile(sc[sp][name][rows[sp]["genuine"]], [0.05, 0.10]) for sp in sc}
            log(f"  genuine 5%/10% quantiles of {name}: held-out FIT {q['fit'][0]:.3f}/{q['fit'][1]:.3f}, "
                f"TEST {q['test'][0]:.3f}/{q['test'][1]:.3f}")
        log(f"  {'method':<34} {'userEER%':>8} {'pooledEER%':>10} {'pooledAUC':>10} FAR/FRR@FITthr%")
        res = {}
        for name in ("fused z", "embedding cosine", "embedding z"):
            res[name] = evaluate(name, rows, {sp: sc[sp][name] for sp in sc}, log)
        fusion = None
        for combo in (("fused z", "embedding cosine"), ("fused z", "embedding z")):
            X = {sp: np.stack([np.clip(sc[sp][c], -30, 30) for c in combo], 1) for sp in sc}
            w, b = fit_logistic(X["fit"], rows["fit"]["genuine"].astype(float))
            name = " + ".join(combo) + f" ({w[0]:.3f},{w[1]:.3f})"
            comb = {sp: X[sp] @ w + b for sp in sc}
            res[" + ".join(combo)] = evaluate(name, rows, comb, log)
            if fusion is None:  # the shipped combination: fused z + cosine
                gfit = np.sort(comb["fit"][rows["fit"]["genuine"]])
                fusion = {"fusedWeight": float(w[0]), "similarityWeight": float(w[1]), "bias": b,
                          "genuineQuantiles": [float(np.quantile(gfit, k / 100)) for k in range(1, 100)],
                          "genuineSd": float(gfit.std())}
                g, s_ = rows["test"]["genuine"], comb["test"]
                for frr in (0.05, 0.10):
                    thr = fusion["genuineQuantiles"][int(round(frr * 100)) - 1]
                    log(f"  threshold for a {100 * frr:.0f}% false-reject rate on held-out FIT typists: "
                        f"TEST FRR {100 * np.mean(s_[g] < thr):.2f}%, FAR {100 * np.mean(s_[~g] >= thr):.2f}%")
                if args.bootstrap:
                    # How much of the gap between target and TEST FRR the calibration typists'
                    # sampling explains: resample them (whole typists, with replacement), refit
                    # nothing, take the quantile again.
                    gp = rows["fit"]["profile"][rows["fit"]["genuine"]]
                    gs = comb["fit"][rows["fit"]["genuine"]]
                    by = [gs[gp == p] for p in np.unique(gp)]
                    br = np.random.default_rng(args.seed)
                    for frr in (0.05, 0.10):
                        got = []
                        for _ in range(args.bootstrap):
                            pick = np.concatenate([by[i] for i in br.integers(0, len(by), len(by))])
                            got.append(np.mean(s_[g] < np.quantile(pick, frr)))
                        lo, mid, hi = np.quantile(got, [0.05, 0.5, 0.95])
                        log(f"  bootstrap over the {len(by)} held-out FIT typists ({args.bootstrap}x), {100 * frr:.0f}% target: "
                            f"TEST FRR median {100 * mid:.2f}%, 90% interval {100 * lo:.2f}-{100 * hi:.2f}%")
        summary[W] = {"results": res, "fusion": fusion,
                      "rows": {sp: {"genuine": int(rows[sp]["genuine"].sum()),
                                    "impostor": int((~rows[sp]["genuine"]).sum())} for sp in rows}}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(args.out, "keystroke_embed.pt"))
        json.dump(summary, open(os.path.join(args.out, "eval.json"), "w"), indent=1)
        onnx_path = os.path.join(args.out, "keystroke_embed.onnx")
        export_onnx(model, onnx_path)
        import hashlib
        sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
        fusion = {"embedderSha256": sha,
                  "windows": {str(W): summary[W]["fusion"] for W in summary}}
        json.dump(fusion, open(os.path.join(args.out, "fusion.json"), "w"), indent=1)
        # Reference check for the daemon's tests: embeddings of two synthetic chunks (no data
        # set rows), which ONNX Runtime must reproduce.
        r = np.random.default_rng(7)
        syn = np.zeros((2, CHUNK, N_RAW), np.float32)
        syn[..., 0] = r.uniform(40, 200, (2, CHUNK)); syn[..., 1] = r.uniform(60, 600, (2, CHUNK))
        syn[..., 2] = syn[..., 1] - r.uniform(20, 150, (2, CHUNK))
        syn[..., 3] = 1; syn[..., 4] = r.uniform(0, 1, (2, CHUNK)) > 0.05; syn[..., 5] = r.uniform(0, 1, (2, CHUNK)) < 0.04
        x = torch.from_numpy(syn)
        with torch.no_grad():
            ref = model(x).numpy()
        json.dump({"records": x.numpy().ravel().tolist(), "embedding": ref.ravel().tolist()},
                  open(os.path.join(args.out, "reference.json"), "w"))
        log(f"wrote {onnx_path} (sha256 {sha}), fusion.json, reference.json")


def export_onnx(model, path):
    """records float32 [N, 50, 6] -> embedding float32 [N, 64] (unit length)."""
    model.eval()
    x = torch.zeros(2, CHUNK, N_RAW)
    torch.onnx.export(model, x, path, input_names=["records"], output_names=["embedding"],
                      dynamic_axes={"records": {0: "n"}, "embedding": {0: "n"}}, opset_version=14)


if __name__ == "__main__":
    main()
