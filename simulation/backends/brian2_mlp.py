"""The MLP rule's network (docs/network-model.md §5.4) as one Brian2 function, ``mlp_y``.

Every pre- and postsynaptic event of an MLP projection evaluates a 6 → nh1 → nh2 → 1 network,
so this function is where an MLP simulation spends most of its time. Compiled, its layers are
loops over constant arrays that the compiler vectorises, exponentials included (glibc's vector
``expf``): whole MLP simulations ran 3.5 times faster than with one statement per unit
(measured under load). Like the Auryn programs, it computes the weighted sums and exponentials
in single precision (§5.4); the runtime mode evaluates the same network with NumPy in single
precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..protocols import Protocol

#: The MLP's fixed input rescaling (§5.4): 2 for the traces, 1 for the weight, 15 for V̄, C_exc
#: and C_inh (in volts).
INPUT_SCALES = (2.0, 2.0, 1.0, 15.0, 15.0, 15.0)

#: The inputs of ``mlp_y``, in order, before the output layer's weights.
INPUTS = ("a", "b", "w", "v_bar", "c_exc", "c_inh")


def mlp_output(w1: np.ndarray, w2: np.ndarray, inputs: np.ndarray, w_out: np.ndarray,
               dtype: Any = np.float32) -> np.ndarray:
    """y of the MLP of §5.4 for each column of ``inputs`` (a, b, w, V̄, C_exc, C_inh; 6 × n).

    ``w1`` is nh1 × 6, ``w2`` nh2 × nh1, ``w_out`` the nh2 output weights then the bias.
    Computed in ``dtype`` (single precision, as the rule runs; float64 for a reference).
    """
    x = (np.asarray(INPUT_SCALES)[:, None] * inputs).astype(dtype)
    h1 = 1 / (1 + np.exp(-(np.asarray(w1, dtype) @ x)))
    h2 = 1 / (1 + np.exp(-(np.asarray(w2, dtype) @ h1)))
    w_out = np.asarray(w_out, dtype)
    return (w_out[:-1] @ h2 + w_out[-1]).astype(np.float64)


def mlp_cpp(w1: np.ndarray, w2: np.ndarray) -> str:
    """C++ source of ``double fsbi_mlp_y(a, b, w, v_bar, c_exc, c_inh, o_0, …, o_nh2)``.

    Meant for Brian2's support code, which sits in an anonymous namespace: on GCC with glibc
    the source leaves that namespace for one line to declare the vector variants of ``expf``
    (glibc's headers declare them only under -ffinite-math-only, and Brian2 compiles with
    -fno-finite-math-only). Elsewhere the loops run with the scalar ``expf``.
    """
    nh2, nh1 = np.shape(w2)

    def floats(values: np.ndarray) -> str:
        return ", ".join(f"{float(v)!r}f" for v in np.ravel(values))

    outputs = ", ".join(f"double o_{v}" for v in range(nh2 + 1))
    scaled = ", ".join(f"(float) ({s!r} * {x})" for s, x in zip(INPUT_SCALES, INPUTS,
                                                                 strict=True))
    return f"""
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) \\
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 22))
}}
extern "C" float expf(float) __attribute__((__simd__("notinbranch")));
namespace {{
#endif
static const float fsbi_mlp_w1t[6][{nh1}] = {{{floats(np.transpose(w1))}}};
static const float fsbi_mlp_w2[{nh2}][{nh1}] = {{{floats(w2)}}};
static inline double fsbi_mlp_y(double a, double b, double w, double v_bar, double c_exc,
                                double c_inh, {outputs}) {{
    const float x[6] = {{{scaled}}};
    const float o[{nh2 + 1}] = {{{", ".join(f"(float) o_{v}" for v in range(nh2 + 1))}}};
    float h1[{nh1}];
    for (int u = 0; u < {nh1}; u++) h1[u] = fsbi_mlp_w1t[0][u] * x[0];
    for (int k = 1; k < 6; k++)
        for (int u = 0; u < {nh1}; u++) h1[u] += fsbi_mlp_w1t[k][u] * x[k];
    for (int u = 0; u < {nh1}; u++) h1[u] = 1.0f / (1.0f + expf(-h1[u]));
    float h2[{nh2}];
    for (int v = 0; v < {nh2}; v++) {{
        float z = 0.0f;
        for (int u = 0; u < {nh1}; u++) z += fsbi_mlp_w2[v][u] * h1[u];
        h2[v] = 1.0f / (1.0f + expf(-z));
    }}
    float y = o[{nh2}];
    for (int v = 0; v < {nh2}; v++) y += o[v] * h2[v];
    return y;
}}
"""


def mlp_function(b2: Any, protocol: Protocol) -> Any:
    """The Brian2 function ``mlp_y(a, b, w, v_bar, c_exc, c_inh, o_0, …, o_nh2)`` of
    ``protocol``'s MLP (its W1 and W2 are constants of the protocol, §5.5): compiled from
    :func:`mlp_cpp` in standalone mode, :func:`mlp_output` on whole arrays at runtime."""
    rules = protocol.mlp_rule(np.zeros(protocol.rule_family.n_theta))
    w1, w2 = rules["ee"]["w1"], rules["ee"]["w2"]

    def evaluate(*args):
        inputs = np.stack(np.broadcast_arrays(*args[:len(INPUTS)]))
        y = mlp_output(w1, w2, inputs.reshape(len(INPUTS), -1), np.asarray(args[len(INPUTS):]))
        return y.reshape(inputs.shape[1:])

    function = b2.Function(evaluate, arg_units=[1] * (len(INPUTS) + len(w2) + 1),
                           return_unit=1, stateless=True)
    function.implementations.add_implementation("cpp", mlp_cpp(w1, w2), name="fsbi_mlp_y")
    return function


def mlp_call(protocol: Protocol, a: str, b: str, out: str) -> str:
    """``mlp_y(…)`` for one event: ``a``, ``b`` the trace inputs, ``out`` the output layer's
    variables (``out_0`` … ``out_nh2``), the rest read from the postsynaptic neuron."""
    outputs = ", ".join(f"{out}_{v}" for v in range(protocol.nh2 + 1))
    return (f"mlp_y({a}, {b}, w, v_bar_post/volt, c_exc_post/volt, c_inh_post/volt, "
            f"{outputs})")
