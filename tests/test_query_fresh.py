"""A query never answers from stale columns: every change to a Dataset is seen by the next one.

Each test queries a Dataset (filling the accessor's caches), changes it the way a user would,
and checks every query against NumPy applied from scratch to the new values. The Datasets are
built in memory, opened lazily from a store (one part, or a base and a fragment), ``.load()``-ed,
or opened with Dask chunks: each keeps its values in a different kind of array.
"""

import numpy as np
import pytest
import torch

import fsbi_data
from fsbi_data.schema import family
from fsbi_data.store.layout import dataset_from_records
from fsbi_data.synthetic import release_records, write_release_file

FAMILY = family("6pPol")
RECORDS = release_records("6pPol", 2000, rng=0)
PARAM = "alpha_ee"
J = FAMILY.param(PARAM).index
RANGES = {"rate": (5, 10), "cv_isi": (0.7, None),
          PARAM: (float(FAMILY.low[J]), float(FAMILY.low[J] + FAMILY.high[J]) / 2)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A converted store, and one with an appended fragment (its variables are concatenations)."""
    root = tmp_path_factory.mktemp("stores")
    single = fsbi_data.convert(write_release_file(root / "one.npy", "6pPol", 2000, rng=0),
                               root / "one.store")
    appended = fsbi_data.convert(write_release_file(root / "two.npy", "6pPol", 2000, rng=0),
                                 root / "two.store")
    fsbi_data.append(appended, release_records("6pPol", 50, rng=1, first_salt=10**6))
    return {"single": single, "appended": appended}


OPEN = {
    "memory": lambda stores: dataset_from_records(RECORDS.copy()),  # not views of RECORDS
    "store": lambda stores: fsbi_data.open(stores["single"]),
    "loaded": lambda stores: fsbi_data.open(stores["single"]).load(),
    "appended store": lambda stores: fsbi_data.open(stores["appended"]),
    "dask": lambda stores: fsbi_data.open(stores["single"], chunks={"rule": 512}),
}
WRITABLE = ["memory", "store", "loaded"]  # kinds whose .values may be the variable's own


def numpy_columns(ds):
    """Copies of the metric columns and theta of ``ds``."""
    columns = {name: np.array(ds[name].values) for name in FAMILY.metric_names}
    columns["theta"] = np.array(ds["theta"].values)
    return columns


def numpy_mask(columns, ranges):
    mask = np.ones(len(columns["theta"]), dtype=bool)
    for name, (low, high) in ranges.items():
        values = columns[name] if name in FAMILY.metric_names else \
            columns["theta"][:, FAMILY.param(name).index]
        mask &= (values >= (-np.inf if low is None else low)) & \
            (values <= (np.inf if high is None else high))
    return mask


def assert_queries_match(ds, columns):
    """Every query of ``ds`` equals NumPy on ``columns``."""
    rate, theta = columns["rate"], columns["theta"]
    mask = numpy_mask(columns, RANGES)
    np.testing.assert_array_equal(ds.fsbi.mask(**RANGES).values, mask)
    selected = ds.fsbi.where(**RANGES)
    np.testing.assert_array_equal(selected["rate"].values, rate[mask])
    np.testing.assert_array_equal(selected["theta"].values, theta[mask])

    plausible = numpy_mask(columns, {c.metric: (c.low, c.high) for c in FAMILY.criteria()})
    np.testing.assert_array_equal(ds.fsbi.criteria_mask().values, plausible)
    np.testing.assert_array_equal(ds.fsbi.plausible()["rate"].values, rate[plausible])
    np.testing.assert_array_equal(ds.fsbi.criteria("stable activity")["cv_isi"].values,
                                  columns["cv_isi"][numpy_mask(columns, {
                                      c.metric: (c.low, c.high)
                                      for c in FAMILY.criteria("stable activity")})])

    np.testing.assert_array_equal(ds.fsbi.column("rate"), rate)
    np.testing.assert_array_equal(ds.fsbi.column(PARAM), theta[:, J])
    frame = ds.fsbi.to_frame()
    np.testing.assert_array_equal(frame["rate"].to_numpy(), rate)
    np.testing.assert_array_equal(frame[PARAM].to_numpy(), theta[:, J])
    torch_theta, x = ds.fsbi.to_torch(["rate", "cv_isi"], dtype=torch.float64)
    np.testing.assert_array_equal(torch_theta.numpy(), theta[:, :len(FAMILY.rule_param_names)])
    np.testing.assert_array_equal(x.numpy(), np.stack([rate, columns["cv_isi"]], axis=1))
    summary = ds.fsbi.describe()
    finite = rate[np.isfinite(rate)]
    assert summary.loc["rate", "n_nan"] == np.isnan(rate).sum()
    assert summary.loc["rate", "median"] == pytest.approx(np.quantile(finite, 0.5), nan_ok=True)
    assert summary.loc["rate", "fraction_inside"] == pytest.approx(
        np.count_nonzero((rate >= 1) & (rate <= 50)) / len(rate))


def set_item(ds, columns):
    ds["rate"] = ds["rate"] / 10
    columns["rate"] = columns["rate"] / 10
    return ds


def update(ds, columns):
    ds.update({"rate": ds["rate"] * 0.3, "cv_isi": ds["cv_isi"] + 0.25})
    columns["rate"] = columns["rate"] * 0.3
    columns["cv_isi"] = columns["cv_isi"] + 0.25
    return ds


def set_another_variable(ds, columns):
    ds["rate"] = ds["cv_isi"]  # a new variable object over the same (possibly lazy) array
    columns["rate"] = columns["cv_isi"].copy()
    return ds


def set_data(ds, columns):
    ds["rate"].data = ds["rate"].data / 10  # the same variable object, its array swapped
    columns["rate"] = columns["rate"] / 10
    return ds


def assign(ds, columns):
    columns["rate"] = columns["rate"] / 10
    return ds.assign(rate=ds["rate"] / 10)


def set_theta(ds, columns):
    columns["theta"] = columns["theta"][::-1].copy()
    ds["theta"] = (("rule", "param"), columns["theta"])
    return ds


def set_theta_column(ds, columns):
    reversed_column = columns["theta"][::-1, J].copy()
    try:
        ds.theta[:, J] = reversed_column
    except TypeError:  # a store's lazily read theta takes no item assignment: nothing changed
        return ds
    columns["theta"][:, J] = reversed_column
    return ds


def changes_the_dataset(ds, name, values):
    """Whether writing to ``values``, from ``ds[name].values``, changes the Dataset.

    A variable in memory gives its own array; a store's variable gives the array it keeps in
    memory, or a new copy on every read (a write to which changes nothing).
    """
    return np.shares_memory(values, ds[name].values)


def write_all_values(ds, columns):
    values = ds["rate"].values
    values[:] = 0.0
    if changes_the_dataset(ds, "rate", values):
        columns["rate"][:] = 0.0
    return ds


def write_one_value(ds, columns):
    rate = columns["rate"]
    row = np.flatnonzero(~((rate >= 5) & (rate <= 10)))[0]  # enters where(rate=(5, 10))
    values = ds.rate.values
    values[row] = 7.0
    if changes_the_dataset(ds, "rate", values):
        rate[row] = 7.0
    return ds


def write_theta_values(ds, columns):
    values = ds.theta.values
    values[:, J] *= 2
    if changes_the_dataset(ds, "theta", values):
        columns["theta"][:, J] *= 2
    return ds


REPLACING = (set_item, update, set_another_variable, set_data, assign, set_theta)
IN_PLACE = (write_all_values, write_one_value, write_theta_values)
CHANGES = ([(change, kind) for change in REPLACING for kind in OPEN]
           + [(set_theta_column, kind) for kind in WRITABLE + ["dask"]]
           + [(change, kind) for change in IN_PLACE for kind in WRITABLE])


@pytest.mark.parametrize("change, kind", CHANGES,
                         ids=[f"{change.__name__}-{kind}" for change, kind in CHANGES])
def test_queries_see_the_change(stores, change, kind):
    ds = OPEN[kind](stores)
    columns = numpy_columns(OPEN[kind](stores))
    assert_queries_match(ds, columns)  # fills the accessor's caches
    ds = change(ds, columns)
    assert_queries_match(ds, columns)


def test_a_query_result_queried_again_sees_its_change():
    """A selection's variables are lazy (rows of the parent): the accessor caches their reads."""
    ds = dataset_from_records(RECORDS.copy()).fsbi.where(rate=(1, 50))
    columns = numpy_columns(ds)
    assert_queries_match(ds, columns)
    assert_queries_match(set_item(ds, columns), columns)
