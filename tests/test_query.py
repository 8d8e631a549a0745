"""The .fsbi accessor against plain NumPy on the same data, and its errors."""

from unittest import mock

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import fsbi_data  # noqa: F401  (registers the accessor)
from fsbi_data import query
from fsbi_data.errors import QueryError, UnknownNameError
from fsbi_data.schema import ACCUMULATION_GROUPS, family
from fsbi_data.store.layout import dataset_from_records
from fsbi_data.synthetic import release_records

RECORDS = {name: release_records(name, 3000, rng=7) for name in ("6pPol", "MLP")}


def dataset(name, rounds=True):
    ds = dataset_from_records(RECORDS[name])
    if rounds:
        rng = np.random.default_rng(3)
        for label in ("pi0", "pi1", "pi2", "pi3"):
            ds[f"in_{label}"] = ("rule", rng.random(ds.sizes["rule"]) < 0.3)
    return ds


def lazy(ds, tmp_path):
    ds.to_zarr(tmp_path / "s.zarr")
    return xr.open_zarr(tmp_path / "s.zarr").set_xindex("seed")


def numpy_mask(records, fam, ranges):
    mask = np.ones(len(records), bool)
    for name, (low, high) in ranges.items():
        if name in fam.metric_names:
            values = records[name]
        else:
            values = records["theta"][:, fam.param(name).index]
        low = -np.inf if low is None else low
        high = np.inf if high is None else high
        mask &= (values >= low) & (values <= high)
    return mask


bound = st.one_of(st.none(), st.floats(-3, 60, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(fam_name=st.sampled_from(["6pPol", "MLP"]), data=st.data())
def test_where_and_mask_equal_numpy(fam_name, data):
    fam = family(fam_name)
    names = data.draw(st.lists(st.sampled_from(fam.metric_names + fam.param_names),
                               min_size=1, max_size=4, unique=True))
    ranges = {}
    for name in names:
        low, high = data.draw(bound), data.draw(bound)
        if low is not None and high is not None and low > high:
            low, high = high, low
        ranges[name] = (low, high)
    ds = dataset(fam_name, rounds=False)
    expected = numpy_mask(RECORDS[fam_name], fam, ranges)
    block_rows = data.draw(st.sampled_from([64, 1000, query.MASK_BLOCK_ROWS]))
    with mock.patch.object(query, "MASK_BLOCK_ROWS", block_rows):
        assert np.array_equal(ds.fsbi.mask(**ranges).values, expected)
        selected = ds.fsbi.where(**ranges)
    records = RECORDS[fam_name][expected]
    assert list(selected.seed.values) == list(records["seed"])
    np.testing.assert_array_equal(selected["rate"].values, records["rate"])
    np.testing.assert_array_equal(selected["theta"][:, 2:4].values, records["theta"][:, 2:4])


@pytest.mark.parametrize("fam_name", ["6pPol", "MLP"])
@pytest.mark.parametrize("group", ACCUMULATION_GROUPS + ("plausible_tutorial",))
def test_criteria_reproduce_the_spec_bounds(fam_name, group):
    fam = family(fam_name)
    if group not in fam.criteria_names:
        with pytest.raises(UnknownNameError, match="not defined"):
            dataset(fam_name).fsbi.criteria(group)
        return
    records = RECORDS[fam_name].copy()
    conditions = fam.criteria(group)
    # Put some values exactly on the bounds, just outside, and NaN.
    for k, condition in enumerate(conditions):
        column = records[condition.metric]
        column[k * 5] = condition.low
        column[k * 5 + 1] = condition.high
        column[k * 5 + 2] = np.nextafter(condition.low, -np.inf)
        column[k * 5 + 3] = np.nextafter(condition.high, np.inf)
        column[k * 5 + 4] = np.nan
    ds = dataset_from_records(records)
    expected = numpy_mask(records, fam, {c.metric: (c.low, c.high) for c in conditions})
    assert np.array_equal(ds.fsbi.criteria_mask(group).values, expected)
    assert expected[: 5 * len(conditions)].reshape(-1, 5)[:, 2:].sum() == 0


def test_plausible_is_the_papers_set_per_family():
    for name, size in (("6pPol", 16), ("MLP", 13)):
        ds = dataset(name)
        expected = numpy_mask(RECORDS[name], family(name),
                              {c.metric: (c.low, c.high) for c in family(name).criteria()})
        assert len(family(name).criteria()) == size
        assert ds.fsbi.plausible().sizes["rule"] == expected.sum()


def test_analyse_bounds_are_available_by_name():
    records = RECORDS["6pPol"].copy()
    fam = family("6pPol")
    figures_mask = numpy_mask(records, fam, {c.metric: (c.low, c.high)
                                             for c in fam.criteria()})
    # plausible rules whose cv_isi only the published figures' bounds accept (0.7 to 1000)
    records["cv_isi"][np.flatnonzero(figures_mask)[:5]] = 10.0
    ds = dataset_from_records(records)
    for bounds in ("figures", "analyse"):
        conditions = fam.criteria("plausible", bounds)
        expected = numpy_mask(records, fam, {c.metric: (c.low, c.high) for c in conditions})
        assert ds.fsbi.plausible(bounds=bounds).sizes["rule"] == expected.sum()
    changed = set(records["seed"][np.flatnonzero(figures_mask)[:5]])
    assert changed <= set(ds.fsbi.plausible().seed.values)
    assert not changed & set(ds.fsbi.plausible(bounds="analyse").seed.values)


def test_lazy_store_and_memory_agree(tmp_path):
    ds = dataset("6pPol")
    stored = lazy(ds, tmp_path)
    assert stored.rate.chunks is not None
    assert np.array_equal(stored.fsbi.plausible().seed.values, ds.fsbi.plausible().seed.values)
    assert stored.fsbi.fractions().equals(ds.fsbi.fractions())
    seed = ds.seed.values[17]
    np.testing.assert_array_equal(stored.fsbi.rule(seed).rate.values, ds.rate.values[17])
    finite = ds.seed.values[np.flatnonzero(np.isfinite(ds.rate.values))[3]]
    assert float(stored.fsbi.rule(finite).rate) == float(ds.fsbi.rule(finite).rate)


def test_fractions_per_round_equal_numpy():
    ds = dataset("MLP")
    table = ds.fsbi.fractions()
    assert list(table.columns) == ["round", "group", "n_rules", "n_meeting", "fraction"]
    fam = family("MLP")
    for row in table.itertuples():
        members = ds[f"in_{row.round}"].values
        mask = numpy_mask(RECORDS["MLP"], fam,
                          {c.metric: (c.low, c.high) for c in fam.criteria(row.group)})
        assert row.n_rules == members.sum()
        assert row.n_meeting == (mask & members).sum()
        assert row.fraction == pytest.approx((mask & members).sum() / members.sum())
    overall = ds.fsbi.fractions(by=None)
    assert set(overall["round"]) == {"all"} and (overall.n_rules == 3000).all()


def test_rounds_and_seed_lookups():
    ds = dataset("6pPol")
    pi3 = ds.fsbi.round("pi3")
    assert pi3.sizes["rule"] == ds.in_pi3.values.sum()
    seeds = ds.seed.values[[5, 1, 2999]]
    picked = ds.fsbi.rules(seeds)
    assert list(picked.seed.values) == list(seeds)
    assert np.array_equal(picked.theta.values, RECORDS["6pPol"]["theta"][[5, 1, 2999]])
    one = ds.fsbi.rule(seeds[0])
    assert one.theta.values.tolist() == RECORDS["6pPol"]["theta"][5].tolist()
    wrong = seeds[0][:-1] + ("0" if seeds[0][-1] != "0" else "1")
    with pytest.raises(KeyError, match="closest seeds:.*" + seeds[0][:20]):
        ds.fsbi.rule(wrong)
    with pytest.raises(KeyError, match="and 1 more"):
        ds.fsbi.rules(["x" * 32, "y" * 32, "z" * 32, "w" * 32])


def test_exports():
    ds = dataset("6pPol")
    frame = ds.fsbi.to_frame()
    assert frame.index.name == "seed" and frame.shape == (3000, 25 + 17 + 4)
    assert np.array_equal(frame["kappa_ii"].values, RECORDS["6pPol"]["theta"][:, 23])
    theta, x = ds.fsbi.to_torch(["rate", "w_blow"])
    assert tuple(theta.shape) == (3000, 24) and tuple(x.shape) == (3000, 2)
    assert str(theta.dtype) == "torch.float32"
    summary = ds.fsbi.describe()
    assert summary.loc["rate", "n_nan"] == np.isnan(RECORDS["6pPol"]["rate"]).sum()
    assert summary.loc["rate", "plausible_high"] == 50.0


@pytest.mark.parametrize("call, error, message", [
    (lambda ds: ds.fsbi.where(rates=(1, 2)), UnknownNameError, "metrics: rate, cv_isi"),
    (lambda ds: ds.fsbi.where(rate=(10, 5)), QueryError, "reversed"),
    (lambda ds: ds.fsbi.where(rate=5), QueryError, "pair"),
    (lambda ds: ds.fsbi.where(weif=(0, 0.5)), UnknownNameError, "neither a metric"),
    (lambda ds: ds.fsbi.criteria("plausible_fig2"), UnknownNameError, "not defined for MLP"),
    (lambda ds: ds.fsbi.round("pi7"), UnknownNameError, "rounds: pi0, pi1, pi2, pi3"),
    (lambda ds: ds.fsbi.to_torch(["eta_ee"]), UnknownNameError, "not a metric"),
    (lambda ds: ds.fsbi.fractions(by="family"), QueryError, "'round' or None"),
])
def test_bad_queries(call, error, message):
    with pytest.raises(error, match=message):
        call(dataset("MLP"))


@pytest.mark.slow
def test_full_scale_plausible_counts_equal_numpy():
    records = release_records("6pPol", 354_300, rng=11)
    ds = dataset_from_records(records)
    fam = family("6pPol")
    for group in ACCUMULATION_GROUPS:
        expected = numpy_mask(records, fam, {c.metric: (c.low, c.high)
                                             for c in fam.criteria(group)})
        assert int(ds.fsbi.criteria_mask(group).sum()) == int(expected.sum())


def test_query_cli_end_to_end(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    from fsbi_data.converters import convert
    from fsbi_data.synthetic import write_release_file

    npy = write_release_file(tmp_path / "all.npy", "6pPol", 2000, rng=5)
    store = convert(npy, tmp_path / "store")
    records = np.load(npy)
    fam = family("6pPol")
    expected = numpy_mask(records, fam, {c.metric: (c.low, c.high) for c in fam.criteria()})
    expected &= numpy_mask(records, fam, {"rate": (5, 10), "cv_isi": (0.8, None)})

    def run(*args):
        return subprocess.run([sys.executable, "-m", "fsbi_data.cli", "query", str(store),
                               *args], capture_output=True, text=True)

    for suffix in (".csv", ".npy", ".parquet"):
        out = tmp_path / f"rules{suffix}"
        done = run("--plausible", "--where", "rate=5:10", "--where", "cv_isi=0.8:",
                   "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert f"{expected.sum():,} of 2,000 rules selected" in done.stdout
        if suffix == ".npy":
            back = np.load(out)
            assert back.dtype == records.dtype
            assert back.tobytes() == records[expected].tobytes()
        else:
            frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
            assert sorted(frame["seed"] if "seed" in frame else frame.index) == \
                sorted(records["seed"][expected])
    bad = run("--where", "rate=10:5")
    assert bad.returncode == 1 and "reversed" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("--where", "rate")
    assert bad.returncode == 1 and "NAME=LOW:HIGH" in bad.stderr
