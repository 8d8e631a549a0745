"""Protocols: presets, validation of overrides and theta, the MLP constants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsbi_data.errors import BackendUnavailableError, ProtocolError, UnknownNameError
from fsbi_data.mlp_constants import (
    MLP_W1,
    MLP_W2,
    RULE_CST_PART,
    RULE_CST_PART_SHA256,
    rule_cst_part_sha256,
)
from fsbi_data.schema import family
from fsbi_data.simulation.backends.base import Backend, get_backend
from fsbi_data.simulation.protocols import Protocol, protocol


def test_paper_presets_match_the_task_files():
    poly, mlp = protocol("6pPol"), protocol("MLP")
    for p in (poly, mlp):
        assert (p.NE, p.NI, p.N_input) == (4096, 1024, 5000)
        assert (p.lns, p.ls, p.dt, p.delay) == (60.0, 10.0, 1e-4, 8e-4)
        assert (p.n_steps_training, p.n_steps_scoring, p.delay_steps) == (600_000, 100_000, 8)
        assert (p.wee, p.wei, p.wie, p.wii, p.wmax) == (0.1, 0.1, 1.0, 1.0, 20.0)
        assert (p.sparseness, p.sparseness_poisson, p.weight_poisson) == (0.1, 0.05, 0.075)
        assert (p.n_recorded, p.record_i, p.n_recorded_i) == (1000, True, 500)
        assert p.name == "paper"
    assert poly.max_rate_checker == 100.0 and mlp.max_rate_checker == 50.0
    assert poly.eta == 0.01
    # the flagged effective trace time constants of the released MLP data (§3.2)
    assert (mlp.tau_vtrace, mlp.tau_cexc, mlp.tau_cinh) == (1.0, 1.0, 1.0)
    assert poly.plastic_connections == ("ee", "ei", "ie", "ii")
    assert mlp.plastic_connections == ("ee", "ie")


def test_quick_preset_is_labelled_and_keeps_in_degrees():
    paper, quick = protocol("6pPol"), protocol("6pPol", "quick")
    assert "NOT comparable" in quick.description and quick.name == "quick"
    assert quick.lns + quick.ls <= 2.0
    assert quick.NE * quick.sparseness == pytest.approx(paper.NE * paper.sparseness)
    assert quick.N_input * quick.sparseness_poisson == pytest.approx(
        paper.N_input * paper.sparseness_poisson)
    assert "NOT comparable" in quick.replace(ls=2.0).description


def test_analysis_params_follow_durations():
    a = protocol("MLP").replace(lns=5.0, ls=3.0, n_recorded=10).analysis_params()
    assert (a.t_start_rec, a.t_stop_rec, a.ls, a.n_recorded, a.wmax) == (5.0, 8.0, 3.0, 10, 20.0)


def test_rule_cst_part_checksum_and_layout():
    assert len(RULE_CST_PART) == 504
    assert rule_cst_part_sha256() == RULE_CST_PART_SHA256
    assert sum(RULE_CST_PART) == 1.2852544806348034  # Appendix A.4, summed in index order
    assert RULE_CST_PART[4 + 6 * 1 + 0] == MLP_W1[1, 0] == -0.399559826
    # W2 element (v, u) sits at 304 + u + 50 v; table row u = 32, column v = 2
    assert RULE_CST_PART[304 + 32 + 50 * 2] == MLP_W2[2, 32] == 6.91376918e-05
    assert protocol("MLP").rule_cst_part == RULE_CST_PART


def test_replace_unknown_name_lists_valid_ones():
    with pytest.raises(UnknownNameError, match="valid parameters: family, name"):
        protocol("6pPol").replace(n_excitatory=10)


@pytest.mark.parametrize("field,value,match", [
    ("NE", 0, "NE must be >= 1"),
    ("NI", 2.5, "NI must be an integer"),
    ("lns", -1.0, "lns must be a finite number > 0"),
    ("tau_ampa", float("nan"), "tau_ampa must be a finite number > 0"),
    ("sparseness", 1.5, r"sparseness must lie in \[0, 1\]"),
    ("sparseness_poisson", -0.1, r"sparseness_poisson must lie in \[0, 1\]"),
    ("wee", -0.1, "wee must be a finite number >= 0"),
    ("n_recorded", 5000, "n_recorded must be <= NE"),
    ("ls", 0.00015, "whole number of steps"),
    ("rule_cst_part", (0.1,) * 10, "504 numbers"),
    ("record_i", True, None),
])
def test_replace_validates(field, value, match):
    if match is None:
        assert getattr(protocol("6pPol").replace(**{field: value}), field) == value
        return
    with pytest.raises(ProtocolError, match=match) as info:
        protocol("6pPol").replace(**{field: value})
    assert f"replace({field}=...)" in str(info.value)


def test_unknown_family_and_preset():
    with pytest.raises(UnknownNameError, match="valid families"):
        protocol("STDP")
    with pytest.raises(UnknownNameError, match="paper, quick"):
        protocol("6pPol", "fast")


def test_cache_key_ignores_labels_only():
    p = protocol("6pPol", "quick")
    assert p.cache_key() == dataclasses.replace(p, name="x", description="y").cache_key()
    assert p.cache_key() != p.replace(ls=2.0).cache_key()
    assert p.cache_key() != protocol("MLP", "quick").cache_key()


def test_validate_theta_errors_name_the_entry():
    p = protocol("6pPol")
    theta = np.r_[[0.02, 0.05, 0.1, -0.1, 0.2, -0.2] * 4, 10.0]
    assert np.array_equal(p.validate_theta(theta), theta)
    with pytest.raises(ProtocolError, match="25 numbers"):
        p.validate_theta(theta[:-1])
    bad = theta.copy()
    bad[7] = np.inf
    with pytest.raises(ProtocolError, match=r"theta\[7\] \(tau_post_ei\).*finite"):
        p.validate_theta(bad)
    bad = theta.copy()
    bad[12] = 0.0
    with pytest.raises(ProtocolError, match=r"theta\[12\] \(tau_pre_ie\).*> 0"):
        p.validate_theta(bad)
    bad = theta.copy()
    bad[24] = -1.0
    with pytest.raises(ProtocolError, match="rate_poisson"):
        p.validate_theta(bad)
    with pytest.raises(ProtocolError, match="23 numbers"):
        protocol("MLP").validate_theta(theta)


@given(st.lists(st.floats(-2, 2), min_size=24, max_size=24), st.floats(5, 15))
def test_poly_rule_mapping_follows_schema(values, rate):
    theta = np.r_[values, rate]
    theta[[0, 1, 6, 7, 12, 13, 18, 19]] = np.abs(theta[[0, 1, 6, 7, 12, 13, 18, 19]]) + 0.01
    p = protocol("6pPol")
    rules = p.poly_rule(p.validate_theta(theta))
    fam = family("6pPol")
    for c, params in rules.items():
        for stem in ("tau_pre", "tau_post", "alpha", "beta", "gamma", "kappa"):
            assert params[stem] == theta[fam.param(f"{stem}_{c}").index]
        assert params["eta"] == 0.01
    assert p.input_rate(theta) == rate


def test_mlp_rule_mapping():
    theta = np.r_[0.5, 0.25, np.arange(20) / 10.0, 10.0]
    rules = protocol("MLP").mlp_rule(theta)
    assert rules["ee"]["eta"] == 0.5 and rules["ie"]["eta"] == 0.25
    assert rules["ee"]["w_pre"].tolist() == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert rules["ie"]["w_post"].tolist() == [1.5, 1.6, 1.7, 1.8, 1.9]
    assert rules["ee"]["w1"].shape == (50, 6) and rules["ee"]["w2"].shape == (4, 50)
    assert (rules["ie"]["tau_pre1"], rules["ie"]["tau_post2"]) == (0.01, 0.1)
    with pytest.raises(ProtocolError, match="not a 6pPol protocol"):
        protocol("MLP").poly_rule(theta)


def test_get_backend_errors():
    with pytest.raises(UnknownNameError, match="auryn, brian2"):
        get_backend("nest")

    class Dummy(Backend):
        name = "dummy"

        def available(self):
            return False

        def why_unavailable(self):
            return "never installed"

        def run(self, theta, protocol, *, network_seed, workdir=None, timeout=None):
            raise AssertionError

    assert get_backend(Dummy()).name == "dummy"
    with pytest.raises(BackendUnavailableError, match="never installed"):
        Dummy().check_available()


def test_protocol_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol("6pPol").NE = 3  # type: ignore[misc]
    assert isinstance(protocol("6pPol"), Protocol)
