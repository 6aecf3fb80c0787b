"""L-BFGS."""

from __future__ import annotations

from ember.autograd import enable_grad
from ember.backend import xp_of
from ember.optim._line_search import strong_wolfe
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor


class LBFGS(Optimizer):
    """L-BFGS (Liu & Nocedal, 1989), after PyTorch's port of minFunc.

    Each ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations (``max_eval`` loss
    evaluations) on all parameters seen as one flat vector, from a history of ``history_size``
    curvature pairs, with a fixed step ``lr`` or, with ``line_search_fn="strong_wolfe"``, a line
    search. It stops early when the largest gradient entry is at most ``tolerance_grad`` or the
    step or loss change falls below ``tolerance_change``. The closure must zero the gradients,
    compute the loss, call ``backward()`` and return the loss.

    One parameter group only, as PyTorch. State (in ``state[first_param]``): ``func_evals``,
    ``n_iter``, ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``,
    ``prev_flat_grad``, ``prev_loss``.

    Example:
        >>> w = ember.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = ember.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> w.detach().round()
        tensor([1., 1.])
    """

    def __init__(self, params, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError("only 'strong_wolfe' is supported")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ----------------------------------------------------

    def _xp(self):
        return xp_of(self._params[0]._array)

    def _gather_flat_grad(self):
        xp = self._xp()
        parts = [xp.zeros(p._array.size, dtype=p._array.dtype) if p.grad is None
                 else p.grad._array.reshape(-1) for p in self._params]
        return xp.concatenate(parts)

    def _add_grad(self, step_size: float, update) -> None:
        offset = 0
        for p in self._params:
            size = p._array.size
            p._array += step_size * update[offset:offset + size].reshape(p._array.shape)
            p._bump_version()
            offset += size

    def _clone_param(self) -> list:
        return [p._array.copy() for p in self._params]

    def _set_param(self, arrays: list) -> None:
        for p, array in zip(self._params, arrays):
            p._array[...] = array
            p._bump_version()

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ---- the step -----------------------------------------------------------------------------

    def step(self, closure):
        """Runs up to ``max_iter`` iterations; returns the closure's loss from before them."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure that reevaluates the model and returns "
                               "the loss")
        group = self.param_groups[0]
        xp = self._xp()

        def evaluate():
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if float(xp.abs(flat_grad).max()) <= group["tolerance_grad"]:
            return orig_loss
        memory = _Memory.load(state, group["history_size"])
        d, t = memory.d, memory.t
        n_iter = 0
        while n_iter < group["max_iter"]:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                memory.reset()
                d = -flat_grad
            else:
                memory.remember(flat_grad - memory.prev_flat_grad, d * t)
                d = memory.direction(flat_grad)
            memory.prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * group["lr"]
            else:
                t = group["lr"]
            gtd = float(flat_grad @ d)
            if gtd > -group["tolerance_change"]:
                break
            if group["line_search_fn"] is not None:
                x_init = self._clone_param()

                def obj_func(x, step, direction):
                    return self._directional_evaluate(evaluate, x, step, direction)

                loss, flat_grad, t, evaluations = strong_wolfe(obj_func, x_init, t, d, loss,
                                                               flat_grad, gtd)
                self._add_grad(t, d)
            else:
                self._add_grad(t, d)
                evaluations = 0
                if n_iter != group["max_iter"]:
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    evaluations = 1
            current_evals += evaluations
            state["func_evals"] += evaluations
            if n_iter == group["max_iter"] or current_evals >= group["max_eval"]:
                break
            if float(xp.abs(flat_grad).max()) <= group["tolerance_grad"]:
                break
            if float(xp.abs(d * t).max()) <= group["tolerance_change"]:
                break
            if abs(loss - prev_loss) < group["tolerance_change"]:
                break
        memory.d, memory.t, memory.prev_loss = d, t, loss
        memory.store(state)
        return orig_loss


class _Memory:
    """L-BFGS's curvature history and last direction, kept in the optimizer state as PyTorch's
    keys (tensors and floats, so that ``state_dict`` round-trips)."""

    def __init__(self, history_size: int) -> None:
        self.history_size = history_size
        self.d = self.t = self.prev_flat_grad = self.prev_loss = None
        self.old_dirs: list = []
        self.old_stps: list = []
        self.ro: list = []
        self.h_diag = 1.0

    @classmethod
    def load(cls, state: dict, history_size: int) -> _Memory:
        memory = cls(history_size)
        array = _array_or_none
        memory.d = array(state.get("d"))
        memory.t = state.get("t")
        memory.prev_flat_grad = array(state.get("prev_flat_grad"))
        memory.prev_loss = state.get("prev_loss")
        memory.old_dirs = [array(v) for v in state.get("old_dirs", [])]
        memory.old_stps = [array(v) for v in state.get("old_stps", [])]
        memory.ro = [float(v) for v in state.get("ro", [])]
        memory.h_diag = float(state.get("H_diag", 1.0))
        return memory

    def store(self, state: dict) -> None:
        state["d"] = Tensor(self.d)
        state["t"] = self.t
        state["old_dirs"] = [Tensor(v) for v in self.old_dirs]
        state["old_stps"] = [Tensor(v) for v in self.old_stps]
        state["ro"] = list(self.ro)
        state["H_diag"] = self.h_diag
        state["prev_flat_grad"] = Tensor(self.prev_flat_grad)
        state["prev_loss"] = self.prev_loss

    def reset(self) -> None:
        self.old_dirs, self.old_stps, self.ro, self.h_diag = [], [], [], 1.0

    def remember(self, y, s) -> None:
        """Keeps the pair ``(y, s)`` when its curvature ``y.s`` is positive enough."""
        ys = float(y @ s)
        if ys > 1e-10:
            if len(self.old_dirs) == self.history_size:
                self.old_dirs.pop(0)
                self.old_stps.pop(0)
                self.ro.pop(0)
            self.old_dirs.append(y)
            self.old_stps.append(s)
            self.ro.append(1.0 / ys)
            self.h_diag = ys / float(y @ y)

    def direction(self, flat_grad):
        """``-H grad`` by the two-loop recursion over the history."""
        q = -flat_grad
        alphas = []
        for y, s, ro in zip(reversed(self.old_dirs), reversed(self.old_stps), reversed(self.ro)):
            alpha = float(s @ q) * ro
            q -= alpha * y
            alphas.append(alpha)
        r = q * self.h_diag
        for y, s, ro, alpha in zip(self.old_dirs, self.old_stps, self.ro, reversed(alphas)):
            beta = float(y @ r) * ro
            r += (alpha - beta) * s
        return r


def _array_or_none(value):
    if value is None:
        return None
    return value._array if isinstance(value, Tensor) else value
