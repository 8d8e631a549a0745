"""The schema: the facts of spec/data-release.md §3 and §6, asked through one module."""

import numpy as np
import pytest

from fsbi_data.errors import ReleaseFormatError, UnknownNameError
from fsbi_data.schema import (
    ACCUMULATION_GROUPS,
    FAMILIES,
    family,
    family_of_dtype,
)


def test_record_dtypes_match_the_release_layout():
    poly, mlp = family("6pPol"), family("MLP")
    assert poly.record_dtype.itemsize == 592
    assert mlp.record_dtype.itemsize == 560
    assert poly.record_dtype.fields["rate"][1] == 456
    assert poly.record_dtype.fields["wiif"][1] == 584
    assert mlp.record_dtype.fields["rate"][1] == 440
    assert mlp.record_dtype.fields["wief"][1] == 552
    header = np.lib.format.header_data_from_array_1_0(np.empty(1, poly.record_dtype))
    assert header["descr"][0] == ("seed", "<U64")


@pytest.mark.parametrize("name, index", [("tau_pre_ee", 0), ("kappa_ee", 5), ("alpha_ei", 8),
                                         ("gamma_ie", 16), ("kappa_ii", 23),
                                         ("rate_poisson", 24)])
def test_polynomial_parameter_indices(name, index):
    assert family("6pPol").param(name).index == index


def test_mlp_parameters_and_bounds():
    fam = family("MLP")
    assert fam.n_theta == 23
    assert fam.param("wpre_ee_4").index == 6
    assert fam.param("wpost_ie_4").index == 21
    assert fam.param("input_rate").name == "rate_poisson"
    assert fam.low[0] == 0 and fam.high[0] == 1
    assert fam.low[2] == -1 and fam.high[22] == 15
    assert len(fam.rule_param_names) == 22


def test_accumulation_groups_have_the_papers_sizes():
    sizes = {"6pPol": (2, 6, 8, 16), "MLP": (2, 4, 7, 13)}
    for name, expected in sizes.items():
        fam = FAMILIES[name]
        assert tuple(len(fam.criteria(g)) for g in ACCUMULATION_GROUPS) == expected


def test_figure_and_analyse_bounds_differ_where_the_sources_disagree():
    fam = family("6pPol")
    fig = {c.metric: (c.low, c.high) for c in fam.criteria("plausible")}
    ana = {c.metric: (c.low, c.high) for c in fam.criteria("plausible", bounds="analyse")}
    assert fig["cv_isi"] == (0.7, 1000.0) and ana["cv_isi"] == (0.7, 2.7)
    assert fig["std_rate_temporal"] == (0.0, 0.5) and ana["std_rate_temporal"] == (0.0, 0.05)
    assert {k: v for k, v in fig.items() if k not in ("cv_isi", "std_rate_temporal")} == {
        k: v for k, v in ana.items() if k not in ("cv_isi", "std_rate_temporal")}


def test_tutorial_sets():
    poly = family("6pPol")
    tutorial = poly.criteria("plausible_tutorial")
    assert len(tutorial) == 15 and "std_cv" not in {c.metric for c in tutorial}
    training = {c.metric: (c.low, c.high) for c in poly.criteria("tutorial training")}
    assert training["rate"] == (3.0, 15.0)
    assert len(family("MLP").criteria("plausible_mlp_corr")) == 14


def test_bounds_are_inclusive_and_nan_fails():
    from fsbi_data.store.layout import dataset_from_records
    from fsbi_data.synthetic import release_records

    records = release_records("6pPol", 6, rng=0)
    records["rate"] = [1.0, 50.0, np.nextafter(1.0, 0), np.nextafter(50.0, 100), np.nan, np.inf]
    ds = dataset_from_records(records, "6pPol")
    (condition,) = [c for c in family("6pPol").criteria("plausible") if c.metric == "rate"]
    assert (condition.low, condition.high) == (1.0, 50.0)
    mask = ds.fsbi.mask(rate=(condition.low, condition.high))
    assert mask.values.tolist() == [True, True, False, False, False, False]


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid families: 6pPol, MLP"):
        family("STDP")
    with pytest.raises(UnknownNameError, match="'plausible_mlp'"):
        family("MLP").criteria("nonsense")
    with pytest.raises(UnknownNameError, match="tau_pre_ee"):
        family("6pPol").param("tau")
    with pytest.raises(UnknownNameError, match="not defined for MLP"):
        family("MLP").criteria("plausible_fig2")


def test_family_of_dtype_names_the_difference():
    assert family_of_dtype(family("MLP").record_dtype).name == "MLP"
    fields = [f for f in family("6pPol").record_dtype.descr if f[0] != "fft"]
    with pytest.raises(ReleaseFormatError, match=r"closest family 6pPol: missing fields \['fft'\]"):
        family_of_dtype(np.dtype(fields))
    short = np.dtype([("seed", "<U64"), ("theta", "<f8", (24,)), ("rate", "<f8")])
    with pytest.raises(ReleaseFormatError, match="theta has 24 entries"):
        family_of_dtype(short)


def test_submodules_are_attributes_of_the_package():
    import subprocess
    import sys

    code = ("import fsbi_data; print(fsbi_data.inference.__name__, fsbi_data.figures.__name__,"
            " fsbi_data.simulation.__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["fsbi_data.inference", "fsbi_data.figures",
                                  "fsbi_data.simulation"], run.stderr
