"""A straightforward per-neuron loop implementation of the release metrics (the baseline).

Written directly from spec/metrics.md, one neuron and one bin at a time, the way the metrics
are usually first written; ``bench_metrics.py`` times the vectorised package against it.
"""

import numpy as np
from scipy.signal import correlate
from scipy.special import rel_entr


def _fano(v):
    return 0.0 if np.sum(v) <= 3 else np.var(v) / np.mean(v)


def _cv(train):
    isi = np.diff(train)
    return np.std(isi) / np.mean(isi) if isi.size > 2 else 0.0


def metrics_loop(spikes, spikes_i, weights, p):
    """spikes: list of arrays per neuron; weights: dict with 't' and per-connection arrays."""
    n, ls, t0, t1 = p["n_recorded"], p["ls"], p["t_start_rec"], p["t_stop_rec"]
    out = {}
    out["rate"] = sum(len(s) for s in spikes) / n / ls
    cvs = np.array([_cv(spikes[i]) for i in range(n)])
    out["cv_isi"] = np.mean(cvs)
    isis = np.concatenate([np.diff(spikes[i]) for i in range(n)])
    edges = np.linspace(0, 1, 100)
    hist = np.histogram(np.clip(isis, 0, 1), bins=edges)[0] / max(len(isis), 1)
    lam = 0.01 if out["rate"] <= 0.1 else 1 / np.mean(isis)
    q = np.exp(-lam * edges[:-1]) - np.exp(-lam * edges[1:])
    out["kl_isi"] = abs(np.sum(rel_entr(hist, q)))
    big = np.array([np.histogram(spikes[i], bins=np.arange(t0, t1, 0.1))[0] for i in range(n)])
    out["spatial_Fano"] = np.mean([_fano(big[:, k]) for k in range(big.shape[1])])
    out["temporal_Fano"] = np.mean([_fano(big[i]) for i in range(n)])
    medium = np.array([np.histogram(spikes[i], bins=np.arange(t0, t1, 0.01))[0]
                       for i in range(n)])
    lags = int(0.5 / 0.01)
    values = []
    for i in range(n):
        x = medium[i]
        if np.std(x) > 0.05:
            y = x - np.mean(x)
            g = correlate(y, y, mode="full")
            a = np.abs(g) / np.max(g)
            mid = len(x) - 1
            values.append(np.mean(a[mid - lags:mid + lags + 1]))
        else:
            values.append(1.0)
    out["auto_cov"] = np.mean(values)
    small = np.array([np.histogram(spikes[i], bins=np.arange(t0, t1, 0.001))[0]
                      for i in range(n)])
    pop = np.mean(small, axis=0)
    k = len(pop)
    out["fft"] = np.sum(2 / k * np.abs(np.fft.fft(pop)[:k // 2])[1:])
    t = weights["t"]
    keep = (t > t0) & (t < t1)
    fractions = []
    for c, w in weights.items():
        if c == "t":
            continue
        kept = w[:, keep].ravel()
        fractions.append(np.sum((kept == 0) | (kept == p["wmax"])) / kept.size)
    out["w_blow"] = np.mean(fractions)
    out["std_rate_temporal"] = np.std(pop)
    out["std_rate_spatial"] = np.std([len(spikes[i]) / ls for i in range(n)])
    out["std_cv"] = np.std(cvs)
    creep = 0
    for c, w in weights.items():
        if c == "t":
            continue
        a, b = np.mean(w[:, 0]), np.mean(w[:, -1])
        if a + b > 0.1:
            creep = max(creep, abs(2 * (b - a) / (b + a)))
    out["w_creep"] = creep
    out["rate_i"] = sum(len(s) for s in spikes_i) / p["n_recorded_i"] / ls
    for name, c in (("weef", "ee"), ("weif", "ei"), ("wief", "ie"), ("wiif", "ii")):
        out[name] = np.mean(weights[c][:, -1])
    return out
