"""The exact t-SNE sums on the CPU, one fused pass over the N×N pairs (Numba).

A chain of PyTorch operations reads and writes the N×N matrices once per
operation (distances, ``w``, ``p·w``, ``w²``, products with ``Y``); here each
pair ``(i, j)`` is visited once, in registers, and only ``P`` is read from
memory. For digits (N = 1,797) that is 0.5 ms an iteration against 10 ms.

The kernels take the embedding as a ``(2, N)`` array (one contiguous row per
coordinate, so the inner loop vectorises) and write one row of sums per point.
They are compiled on first use and cached on disk by Numba.
"""
from __future__ import annotations

import numba
import numpy as np

# Streamlit runs each session's script in its own thread; Numba's fallback
# "workqueue" layer would abort the process on concurrent parallel calls.
numba.config.THREADING_LAYER = "threadsafe"


@numba.njit(parallel=True, fastmath=True, cache=True)
def gradient_sums(P: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """For every point ``i``, with ``w_ij = (1 + ‖y_i − y_j‖²)⁻¹``::

        out[i, 0:2] = Σ_j p_ij w_ij (y_i − y_j)     (attraction)
        out[i, 2:4] = Σ_j w_ij² (y_i − y_j)         (repulsion, times Z)
        out[i, 4]   = Σ_j w_ij                      (includes w_ii = 1)

    so that ``∂C/∂y_i = 4 (α·out[i, 0:2] − out[i, 2:4] / Z)`` with ``Z = Σ out[:, 4] − N``.
    """
    n = y.shape[1]
    one = np.float32(1.0)
    for i in numba.prange(n):
        yi0, yi1 = y[0, i], y[1, i]
        a0 = a1 = r0 = r1 = z = np.float32(0.0)
        for j in range(n):
            d0 = yi0 - y[0, j]
            d1 = yi1 - y[1, j]
            w = one / (one + d0 * d0 + d1 * d1)
            pw = P[i, j] * w
            ww = w * w
            a0 += pw * d0
            a1 += pw * d1
            r0 += ww * d0
            r1 += ww * d1
            z += w
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4] = a0, a1, r0, r1, z


@numba.njit(parallel=True, fastmath=True, cache=True)
def kl_sums(P: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """For every point ``i``: ``out[i, 0] = Σ_j p_ij log(1 + ‖y_i − y_j‖²)`` and ``out[i, 1] = Σ_j w_ij``.

    ``KL(P‖Q) = Σ p log p + Σ out[:, 0] + log Z`` (since ``−log q_ij = log(1 + d_ij²) + log Z``).
    """
    n = y.shape[1]
    one = np.float32(1.0)
    for i in numba.prange(n):
        yi0, yi1 = y[0, i], y[1, i]
        s = z = 0.0
        for j in range(n):
            d0 = yi0 - y[0, j]
            d1 = yi1 - y[1, j]
            d = one + d0 * d0 + d1 * d1
            s += P[i, j] * np.log(d)
            z += one / d
        out[i, 0], out[i, 1] = s, z
