"""Seeds of new rules: a documented full-precision encoding, stable and collision-free."""

import hashlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fsbi_data.errors import ProtocolError
from fsbi_data.schema import SEED_PATTERN, family
from fsbi_data.seeds import (
    NETWORK_SEED_MAX,
    SEED_ENCODING,
    check_network_seed,
    encode_theta,
    network_seed_of,
    rule_seed,
    rule_seeds,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def test_seed_is_md5_of_the_documented_encoding():
    theta = np.linspace(-1.0, 1.0, 25)
    payload = b"fsbi-data/rule-seed/v1\x006pPol\x00" + theta.astype("<f8").tobytes()
    assert SEED_ENCODING == b"fsbi-data/rule-seed/v1"
    assert encode_theta(theta, "6pPol") == payload
    assert rule_seed(theta, "6pPol") == hashlib.md5(payload).hexdigest()


@given(arrays(np.float64, 25, elements=finite))
def test_seed_matches_release_pattern_and_ignores_container_type(theta):
    seed = rule_seed(theta, "6pPol")
    assert re.match(SEED_PATTERN, seed)
    assert seed == rule_seed(theta.tolist(), "6pPol")
    assert seed == rule_seed(theta.astype(">f8"), "6pPol")  # big-endian input, same value


@given(arrays(np.float64, 23, elements=finite), st.integers(0, 22))
def test_one_ulp_changes_the_seed(theta, index):
    changed = theta.copy()
    changed[index] = np.nextafter(changed[index], np.inf)
    assert rule_seed(changed, "MLP") != rule_seed(theta, "MLP")


def test_negative_zero_is_the_same_rule():
    theta = np.zeros(23)
    negative = theta.copy()
    negative[3] = -0.0
    assert rule_seed(negative, "MLP") == rule_seed(theta, "MLP")


def test_family_name_is_part_of_the_encoding():
    assert encode_theta(np.zeros(25), family("6pPol")).startswith(SEED_ENCODING + b"\x006pPol\x00")
    assert encode_theta(np.zeros(23), "mlp").startswith(SEED_ENCODING + b"\x00MLP\x00")


def test_wrong_length_is_rejected_with_the_expected_shape():
    with pytest.raises(ProtocolError, match="25 numbers"):
        rule_seed(np.zeros(24), "6pPol")


@settings(max_examples=50)
@given(arrays(np.float64, (5, 25), elements=finite))
def test_rule_seeds_rowwise(thetas):
    seeds = rule_seeds(thetas, "6pPol")
    assert seeds.tolist() == [rule_seed(row, "6pPol") for row in thetas]


@given(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
def test_network_seed_in_range(seed):
    value = network_seed_of(seed)
    assert 1 <= value <= NETWORK_SEED_MAX
    assert value == network_seed_of(seed)


def test_network_seed_check():
    assert check_network_seed(np.int64(7)) == 7
    assert check_network_seed(NETWORK_SEED_MAX) == NETWORK_SEED_MAX
    for bad in (0, -1, NETWORK_SEED_MAX + 1, 1.5, True):
        with pytest.raises(ProtocolError):
            check_network_seed(bad)
