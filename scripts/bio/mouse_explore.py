#!/usr/bin/python3
"""Offline cross-checks of the mouse evaluation with scikit-learn (docs/biometrics.md, "Learners").

Reads the per-action CSV that `balabit_eval --dump FILE` writes (one row per action: user,
session, the 44 cadence-invariant features), so segmentation and features are exactly the C++
ones. It never reads raw events and writes nothing.

Protocols (every score of a held-out session; never one session split between training and test):
  closed  per-user binary model, that user's other sessions against the other users' sessions
          except the one of theirs that is scored as impostor (balabit_eval's closed-set).
  multi   one softmax model over all users per fold; a user's score is
          log p(user|x) - log mean_{v != user} p(v|x) (balabit_eval --multiclass 1).
  host    users split in two halves; each TEST user's model learns against a background from the
          FIT half only: real FIT rows (--background real) or samples of a Gaussian mixture
          fitted to them (--background gmm: what a host could ship instead of rows).

Blocks are N consecutive actions of one session; a block's score is the mean per-action logit.
Needs /usr/bin/python3 with python3-sklearn and python3-pandas (scripts/bio/explore.sh installs
them). Usage: mouse_explore.py --csv FILE --protocol closed|multi|host [options]
"""
import argparse
import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score, roc_curve


def eer_auc(genuine, impostor):
    y = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    s = np.r_[genuine, impostor]
    fpr, tpr, _ = roc_curve(y, s)
    k = np.nanargmin(np.abs((1 - tpr) - fpr))
    return (fpr[k] + 1 - tpr[k]) / 2, roc_auc_score(y, s)


def blocks(per_action, n):
    m = len(per_action) // n
    return per_action[: m * n].reshape(m, n).mean(1) if m else np.array([])


def logit(p):
    p = np.clip(p, 0.005, 0.995)
    return np.log(p / (1 - p))


def report(genuine, impostor, sizes, label):
    for n in sizes:
        aucs, eers, all_g, all_i = [], [], [], []
        for u in genuine:
            g, i = np.concatenate(genuine[u][n]), np.concatenate(impostor[u][n])
            e, a = eer_auc(g, i)
            aucs.append(a)
            eers.append(e)
            all_g.append(g)
            all_i.append(i)
        e, a = eer_auc(np.concatenate(all_g), np.concatenate(all_i))
        print(f"{label} N={n}: userAUC {np.mean(aucs):.4f} userEER {100 * np.mean(eers):.2f}% "
              f"pooledAUC {a:.4f} pooledEER {100 * e:.2f}% | per-user " + " ".join(f"{x:.3f}" for x in aucs),
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--protocol", choices=["closed", "multi", "host"], default="closed")
    ap.add_argument("--model", choices=["rf", "hgb"], default="hgb")
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--max-pos", type=int, default=4000)
    ap.add_argument("--neg-ratio", type=float, default=1.0, help="closed: negatives per positive")
    ap.add_argument("--lr", type=float, default=0.1, help="hgb learning rate")
    ap.add_argument("--leaves", type=int, default=31, help="hgb leaves per tree")
    ap.add_argument("--actions", default="1,20")
    ap.add_argument("--exclude-session", action="append", default=[])
    ap.add_argument("--background", choices=["real", "gmm"], default="real")
    ap.add_argument("--gmm-components", type=int, default=100)
    a = ap.parse_args()

    d = pd.read_csv(a.csv)
    d = d[~d.session.isin(a.exclude_session)].reset_index(drop=True)
    feats = [c for c in d.columns[6:] if not c.startswith("cad_")]
    X = d[feats].values.astype(np.float32)
    user_of_row = d.user.values
    users = sorted(d.user.unique())
    sess_of = {u: sorted(d.session[d.user == u].unique()) for u in users}
    rows_of = {s: np.where(d.session.values == s)[0] for s in d.session.unique()}
    sizes = [int(x) for x in a.actions.split(",")]
    rng = np.random.default_rng(7)

    def make():
        if a.model == "rf":
            return RandomForestClassifier(a.trees, max_depth=20, min_samples_leaf=2, n_jobs=2, random_state=1)
        return HistGradientBoostingClassifier(max_iter=a.trees, learning_rate=a.lr, max_leaf_nodes=a.leaves,
                                              l2_regularization=1.0, min_samples_leaf=20, random_state=1)

    def rows(sessions, cap):
        r = np.concatenate([rows_of[s] for s in sessions])
        rng.shuffle(r)
        return r[:cap]

    genuine = {u: {n: [] for n in sizes} for u in users}
    impostor = {u: {n: [] for n in sizes} for u in users}

    def add(dst, u, per_action):
        for n in sizes:
            dst[u][n].append(blocks(per_action, n))

    if a.protocol == "multi":
        for k in range(max(len(v) for v in sess_of.values())):
            held = {v: sess_of[v][k % len(sess_of[v])] for v in users}
            tr = [rows([s for s in sess_of[v] if s != held[v]], a.max_pos) for v in users]
            y = np.concatenate([np.full(len(r), i) for i, r in enumerate(tr)])
            m = make().fit(X[np.concatenate(tr)], y)
            logp = {v: np.log(np.clip(m.predict_proba(X[rows_of[held[v]]]), 1e-4, 1)) for v in users}
            for i, u in enumerate(users):
                if k >= len(sess_of[u]):
                    continue
                for v in users:
                    lp = logp[v]
                    others = np.log(np.exp(np.delete(lp, i, axis=1)).mean(1))
                    add(genuine if v == u else impostor, u, np.clip(lp[:, i] - others, -6, 6))
            print(f"fold {k} done", file=sys.stderr, flush=True)
        report(genuine, impostor, sizes, f"multi {a.model}")
        return

    halves = [users[0::2], users[1::2]] if a.protocol == "host" else [users]
    for h, targets in enumerate(halves):
        background = halves[1 - h] if a.protocol == "host" else None
        synthetic = None
        if background is not None and a.background == "gmm":
            from sklearn.mixture import GaussianMixture
            from sklearn.preprocessing import QuantileTransformer
            fit_rows = np.concatenate([np.where(user_of_row == v)[0] for v in background])
            qt = QuantileTransformer(n_quantiles=200, output_distribution="normal", random_state=0)
            z = qt.fit_transform(X[fit_rows])
            z += 1e-3 * rng.standard_normal(z.shape)
            gm = GaussianMixture(a.gmm_components, covariance_type="diag", reg_covar=1e-2, random_state=0)
            synthetic = qt.inverse_transform(gm.fit(z).sample(20000)[0]).astype(np.float32)
        for u in targets:
            mine = sess_of[u]
            for k, held in enumerate(mine):
                pos = rows([s for s in mine if s != held], a.max_pos)
                scored = []  # impostor sessions for this model
                if background is None:
                    others = [v for v in users if v != u]
                    neg = []
                    for v in others:
                        th = sess_of[v]
                        scored.append(th[k % len(th)])
                        neg.append(rows([s for s in th if s != scored[-1]], int(a.neg_ratio * len(pos)) // len(others) + 1))
                    neg_x = X[np.concatenate(neg)]
                else:
                    scored = [sess_of[v][k % len(sess_of[v])] for v in targets if v != u]
                    if synthetic is None:
                        neg_x = X[np.concatenate([rows(sess_of[v], len(pos) // len(background) + 1)
                                                  for v in background])]
                    else:
                        neg_x = synthetic[rng.choice(len(synthetic), len(pos), replace=False)]
                m = make().fit(np.vstack([X[pos], neg_x]), np.r_[np.ones(len(pos)), np.zeros(len(neg_x))])
                add(genuine, u, logit(m.predict_proba(X[rows_of[held]])[:, 1]))
                for s in scored:
                    add(impostor, u, logit(m.predict_proba(X[rows_of[s]])[:, 1]))
            print(f"{u} done", file=sys.stderr, flush=True)
    label = a.protocol + (f" background={a.background}" if a.protocol == "host" else "")
    report(genuine, impostor, sizes, f"{label} {a.model}")


if __name__ == "__main__":
    main()
