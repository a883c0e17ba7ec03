#!/usr/bin/python3
"""Cross-check of the mouse pair terms in Python (docs/biometrics.md, "Mouse: pair terms").

A re-implementation of the one-class histogram density ratio (`hist-w`: per action type, 32
quantile bins per feature from the FIT users, per-user histograms smoothed towards the
population with alpha 1, logistic-regression weights learned on FIT users' by-session
cross-validated terms) with and without pairwise terms: for the NPAIRS feature pairs of highest
mutual information (NC coarse quantile bins per feature), the joint log ratio minus the two
marginal log ratios, weighted by the same regression. Scored on random 5/5 user splits (TEST
users enrolled on their other sessions, impostors the other TEST users' sessions), blocks of 20.

Reads the per-action CSV of `balabit_eval --dump FILE` (the C++ segmentation and features);
never reads raw events, writes nothing. Needs python3-sklearn and python3-pandas.
Usage: mouse_pairs_check.py CSV NPAIRS [SPLITS [NC]]   e.g. CSV 300 6 6
"""
import sys, itertools
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

d = pd.read_csv(sys.argv[1])
feats = [c for c in d.columns[9:] if not c.startswith('cad_')]
X = d[feats].to_numpy(float)
T = d['type'].to_numpy()
U = d['user'].to_numpy()
S = d['session'].to_numpy()
users = sorted(set(U))
NQ = 32  # bins
NC = int(sys.argv[4]) if len(sys.argv) > 4 else 6
NPAIR = int(sys.argv[2]) if len(sys.argv) > 2 else 0
NB = 20

def eer_auc(g, i):
    y = np.r_[np.ones(len(g)), np.zeros(len(i))]; s = np.r_[g, i]
    fpr, tpr, _ = roc_curve(y, s); k = np.nanargmin(np.abs((1 - tpr) - fpr))
    return (fpr[k] + 1 - tpr[k]) / 2, roc_auc_score(y, s)

def fit_pop(mask):
    """Per type: quantile edges per feature (pooled), mean per-user hist; coarse pair joint."""
    pop = {}
    for t in (0, 1, 2):
        m = mask & (T == t)
        x = X[m]
        edges = [np.unique(np.quantile(x[:, f], np.linspace(0, 1, NQ + 1)[1:-1])) for f in range(len(feats))]
        cedges = [np.unique(np.quantile(x[:, f], np.linspace(0, 1, NC + 1)[1:-1])) for f in range(len(feats))]
        B = np.stack([np.searchsorted(edges[f], x[:, f], side='right') for f in range(len(feats))], 1)
        C = np.stack([np.searchsorted(cedges[f], x[:, f], side='right') for f in range(len(feats))], 1)
        uu = U[m]
        hists = []
        for f in range(len(feats)):
            h = np.zeros(len(edges[f]) + 1)
            for u in set(uu):
                c = np.bincount(B[uu == u, f], minlength=len(h)).astype(float); h += c / c.sum()
            h = h / h.sum() + 1e-4; hists.append(h / h.sum())
        # pair selection: mutual information of coarse bins in pooled data
        pairs = []
        if NPAIR:
            mi = []
            for f, g in itertools.combinations(range(len(feats)), 2):
                j = np.zeros((NC, NC)); np.add.at(j, (C[:, f], C[:, g]), 1); j /= j.sum()
                pf = j.sum(1, keepdims=True); pg = j.sum(0, keepdims=True)
                nz = j > 0
                mi.append((np.sum(j[nz] * np.log(j[nz] / (pf @ pg)[nz])), f, g))
            mi.sort(reverse=True)
            pairs = [(f, g) for _, f, g in mi[:NPAIR]]
        joints = []
        for f, g in pairs:
            j = np.zeros((NC, NC))
            for u in set(uu):
                sel = uu == u
                c = np.zeros((NC, NC)); np.add.at(c, (C[sel, f], C[sel, g]), 1); j += c / c.sum()
            j = j / j.sum() + 1e-4; joints.append(j / j.sum())
        pop[t] = dict(edges=edges, cedges=cedges, hists=hists, pairs=pairs, joints=joints)
    return pop

def codes(pop, t, x):
    p = pop[t]
    B = np.stack([np.searchsorted(p['edges'][f], x[:, f], side='right') for f in range(len(feats))], 1)
    C = np.stack([np.searchsorted(p['cedges'][f], x[:, f], side='right') for f in range(len(feats))], 1)
    return B, C

def enroll(pop, idx, alpha=1.0):
    prof = {}
    for t in (0, 1, 2):
        sel = idx[T[idx] == t]
        p = pop[t]; B, C = codes(pop, t, X[sel]); n = len(sel)
        lr = []
        for f in range(len(feats)):
            c = np.bincount(B[:, f], minlength=len(p['hists'][f])).astype(float)
            pu = (c + alpha * p['hists'][f]) / (n + alpha)
            lr.append(np.log(pu / p['hists'][f]))
        lr2 = []
        for k, (f, g) in enumerate(p['pairs']):
            c = np.zeros((NC, NC)); np.add.at(c, (C[:, f], C[:, g]), 1)
            pj = p['joints'][k]
            pu = (c + alpha * pj) / (n + alpha)
            # interaction term: joint log ratio minus the coarse marginal log ratios
            cf = c.sum(1); cg = c.sum(0); pjf = pj.sum(1); pjg = pj.sum(0)
            muf = (cf + alpha * pjf) / (n + alpha); mug = (cg + alpha * pjg) / (n + alpha)
            lr2.append(np.log(pu / pj) - np.log(muf / pjf)[:, None] - np.log(mug / pjg)[None, :])
        prof[t] = (lr, lr2)
    return prof

def terms(pop, prof, idx):
    """Per-action term matrix (41 + NPAIR columns) and type."""
    out = np.zeros((len(idx), len(feats) + NPAIR)); tt = T[idx]
    for t in (0, 1, 2):
        w = np.where(tt == t)[0]
        if not len(w): continue
        B, C = codes(pop, t, X[idx[w]]); lr, lr2 = prof[t]
        for f in range(len(feats)): out[w, f] = lr[f][B[:, f]]
        for k, (f, g) in enumerate(pop[t]['pairs']): out[w, len(feats) + k] = lr2[k][C[:, f], C[:, g]]
    return out, tt

def learn_weights(pop, fit_users):
    rows = {0: [], 1: [], 2: []}; ys = {0: [], 1: [], 2: []}
    for u in fit_users:
        ss = sorted(set(S[U == u]))
        for k, s in enumerate(ss):
            enr = np.where((U == u) & (S != s))[0]
            prof = enroll(pop, enr)
            gen = np.where(S == s)[0]
            others = [v for v in fit_users if v != u]
            imp = np.concatenate([np.where(S == sorted(set(S[U == v]))[k % len(set(S[U == v]))])[0] for v in others])
            for idx, y in ((gen, 1), (imp, 0)):
                tm, tt = terms(pop, prof, idx)
                for t in (0, 1, 2):
                    rows[t].append(tm[tt == t]); ys[t].append(np.full((tt == t).sum(), y))
    W = {}
    for t in (0, 1, 2):
        x = np.concatenate(rows[t]); y = np.concatenate(ys[t])
        lr = LogisticRegression(C=1.0, class_weight='balanced', max_iter=2000).fit(x, y)
        W[t] = lr.coef_[0]
    return W

def evaluate(split_seed):
    rng = np.random.default_rng(split_seed)
    perm = list(rng.permutation(users)); fit, test = perm[:5], perm[5:]
    pop = fit_pop(np.isin(U, fit))
    W = learn_weights(pop, fit)
    G, I = [], []
    for u in test:
        ss = sorted(set(S[U == u]))
        for k, s in enumerate(ss):
            prof = enroll(pop, np.where((U == u) & (S != s))[0])
            def score(idx):
                tm, tt = terms(pop, prof, idx)
                sc = np.array([tm[i] @ W[tt[i]] for i in range(len(idx))])
                sc = np.clip(sc, -30, 30)
                m = len(sc) // NB
                return sc[:m * NB].reshape(m, NB).mean(1)
            G.append(score(np.where(S == s)[0]))
            for v in test:
                if v == u: continue
                sv = sorted(set(S[U == v])); I.append(score(np.where(S == sv[k % len(sv)])[0]))
    e, a = eer_auc(np.concatenate(G), np.concatenate(I))
    return a, e

res = [evaluate(s) for s in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3)]
print(f'pairs={NPAIR} per split AUC/EER:', ' '.join(f'{a:.3f}/{100*e:.1f}' for a, e in res),
      f' mean {np.mean([r[0] for r in res]):.4f} / {100*np.mean([r[1] for r in res]):.2f}')
