"""The strong-Wolfe line search that ``LBFGS(line_search_fn="strong_wolfe")`` uses.

A port of PyTorch's ``_strong_wolfe`` (itself after minFunc): bracket a step satisfying the
strong Wolfe conditions, then zoom in with safeguarded cubic interpolation. Works on flat
numpy/cupy arrays and Python floats.
"""

from __future__ import annotations

import math


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through ``(x1, f1, g1)`` and ``(x2, f2, g2)``, clipped to
    ``bounds`` (default: the interval between ``x1`` and ``x2``); its midpoint if none."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(position, low), high)


class _Bracket:
    """Trial steps with their loss, flat gradient and directional derivative."""

    def __init__(self, *points) -> None:
        self.t = [p[0] for p in points]
        self.f = [p[1] for p in points]
        self.g = [p[2] for p in points]
        self.gtd = [p[3] for p in points]

    def set(self, index: int, point) -> None:
        self.t[index], self.f[index], self.g[index], self.gtd[index] = point

    def point(self, index: int):
        return self.t[index], self.f[index], self.g[index], self.gtd[index]


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """Line search along ``d`` from ``x`` (loss ``f``, gradient ``g``, slope ``gtd``).

    ``obj_func(x, t, d) -> (loss, flat_grad)`` evaluates at ``x + t d``.

    Returns:
        ``(loss, flat_grad, t, evaluations)`` at the accepted step.
    """
    d_norm = float(abs(d).max())
    f_new, g_new = obj_func(x, t, d)
    evaluations = 1
    gtd_new = float(g_new @ d)
    previous = (0.0, f, g.copy(), gtd)
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        current = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= previous[1]):
            bracket = _Bracket(previous, current)
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = _Bracket(current)
            done = True
            break
        if gtd_new >= 0:
            bracket = _Bracket(previous, current)
            break
        # extrapolate: a cubic step within [t + 0.01 (t - t_prev), 10 t]
        t_prev = previous[0]
        t = cubic_interpolate(t_prev, previous[1], previous[3], t, f_new, gtd_new,
                              bounds=(t + 0.01 * (t - t_prev), t * 10))
        previous = current
        f_new, g_new = obj_func(x, t, d)
        evaluations += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = _Bracket((0.0, f, g, gtd), (t, f_new, g_new, gtd_new))
    low, high = (0, 1) if len(bracket.t) == 1 or bracket.f[0] <= bracket.f[-1] else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        if abs(bracket.t[1] - bracket.t[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket.t[0], bracket.f[0], bracket.gtd[0], bracket.t[1],
                              bracket.f[1], bracket.gtd[1])
        t, insufficient_progress = _safeguard(t, bracket.t, insufficient_progress)
        f_new, g_new = obj_func(x, t, d)
        evaluations += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        current = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or f_new >= bracket.f[low]:
            bracket.set(high, current)
            low, high = (0, 1) if bracket.f[0] <= bracket.f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket.t[high] - bracket.t[low]) >= 0:
                bracket.set(high, bracket.point(low))
            bracket.set(low, current)
    return bracket.f[low], bracket.g[low], bracket.t[low], evaluations


def _safeguard(t: float, steps: list, insufficient_progress: bool):
    """Keeps a zoom step at least 10% of the bracket away from its ends (PyTorch's rule)."""
    low, high = min(steps), max(steps)
    margin = 0.1 * (high - low)
    if min(high - t, t - low) >= margin:
        return t, False
    if insufficient_progress or t >= high or t <= low:
        return (high - margin if abs(t - high) < abs(t - low) else low + margin), False
    return t, True
