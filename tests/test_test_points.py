"""Test points that tell mistakes apart: for every graded test cell of every assignment, its visible part
and, separately, its hidden part fail every catalogued mistake that applies to the exercise, and the
message names it.

A student's function is replaced by the reference solution (the source's solution cells) wrapped to
return a mistaken value: a generic transform of one returned value (−1, ×2, ×½, ×3; the transpose of a
matrix), or a hand-written mutant for each wrong formula the cell registers with ``mistakes=``. A part
that lets a mistake through, or fails without naming it, does not discriminate: change its inputs.
"""

import ast
import contextlib
import io
import math
import re
import string
import sys
from dataclasses import dataclass

import nbformat
import pytest
import torch

from autograder.checker import CheckFailed
from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, segments
from autograder.grading.judge import free_names
from autograder.mistakes import catalogue
from autograder.rules import SHORT_FORMS

COURSE = Course.find()
ASSIGNMENTS = sorted(COURSE.source.glob("*/*.ipynb"))

# graded cells whose answers are not numbers a mistake could scale: nothing generic applies to them
NOT_NUMERIC = {
    "test_check_backward": "True/False answers: the verdicts of a gradient check (tests/test_unit06.py)",
    "test_squared_distance_function": "a torch.autograd.Function, judged part by part (tests/test_unit06.py)",
    "test_breaks_backward": "True/False answers",
    "test_where_grad_is_nan": "True/False answers",
    "test_value_core": "a class, not a function: its mistakes are planted in its source (EDITS)",
    "test_topological_order": "a list of nodes: its mistake is planted in its source (EDITS)",
    "test_backward": "backward() returns nothing: its mistakes are planted in the source (EDITS)",
    "test_new_operations": "methods returning nodes: their mistakes are planted in their source (EDITS)",
    "test_dot": "a function returning a node: its mistakes are planted in its source (EDITS)",
    "test_no_grad": "a function returning a function: its mistakes are planted in its source (EDITS)",
    "test_norm_logsumexp": "functions returning nodes: their mistakes are planted in their source (EDITS)",
}

GENERIC = {  # name: (transform of one returned value, the ids any of which the message must name)
    "sign": (lambda v: -v, {"sign_flipped"}),
    "double": (lambda v: 2 * v, {"factor_two"}),
    "half": (lambda v: v / 2, {"factor_half"}),
    "triple": (lambda v: 3 * v, {"accumulated", "sum_not_mean", "constant_factor"}),
    "transpose": (lambda v: v.T, {"transposed"}),
}


# --------------------------------------------------------------------------- mutants, by grade id


def mul_own_operand(ns):
    def mutant(x, y, upstream):
        return upstream * x, upstream * y  # each input times itself, not the other input

    return mutant


def gate_upstream(ns):
    def mutant(x, y, upstream):
        return upstream, upstream  # the upstream gradient handed back as it came

    return mutant


def gate_local_only(ns):
    def mutant(x, y, upstream):
        return y, x  # the multiply gate's local gradients, the upstream gradient never multiplied in

    return mutant


def max_local_only(ns):
    def mutant(x, y, upstream):
        return (1.0, 0.0) if x > y else (0.0, 1.0)  # the max gate's local gradients, without the upstream one

    return mutant


def max_to_smaller(ns):
    def mutant(x, y, upstream):
        return (0.0, upstream) if x > y else (upstream, 0.0)  # the upstream gradient to the smaller input

    return mutant


def staged_swapped(ns):
    reference = ns["staged_sigmoid_backward"]  # taken now: the mutant replaces that name

    def mutant(w, x, b):
        f, df_dd, df_de, df_dn, df_dz, df_dw, df_dx, df_db = reference(w, x, b)
        return f, df_dd, df_de, df_dn, df_dz, df_dx, df_dw, df_db  # df_dz·w for w, df_dz·x for x

    return mutant


def staged_z_local_only(ns):
    reference = ns["staged_sigmoid_backward"]  # taken now: the mutant replaces that name

    def mutant(w, x, b):
        f, df_dd, df_de, df_dn, df_dz, df_dw, df_dx, df_db = reference(w, x, b)
        return f, df_dd, df_de, df_dn, df_dz, x, w, 1.0  # the z node's local gradients, without ∂f/∂z

    return mutant


def staged_quotient_sign(ns):
    def mutant(w, x, b):
        z = torch.dot(w, x) + b
        e = torch.exp(-z)
        d = 1 + e
        df_dd = 1 / d**2  # the reciprocal's local gradient without its minus sign
        df_dz = -(df_dd * e)
        return 1 / d, df_dd, df_dd, df_dd * e, df_dz, df_dz * x, df_dz * w, df_dz

    return mutant


def staged_exp_at_z(ns):
    def mutant(w, x, b):
        z = torch.dot(w, x) + b
        e = torch.exp(-z)
        d = 1 + e
        df_dd = -1 / d**2
        df_dn = df_dd * torch.exp(z)  # exp's derivative taken at z instead of at n = -z
        df_dz = -df_dn
        return 1 / d, df_dd, df_dd, df_dn, df_dz, df_dz * x, df_dz * w, df_dz

    return mutant


def power_with(mistake):
    """Unit 1, exercise 3 (z = x^x): the slots' local gradients swapped, the upstream gradient left out,
    or one slot missing from dL/dx."""

    def build(ns):
        def mutant(x, upstream):
            base_local, exponent_local = x * x ** (x - 1), x**x * math.log(x)
            if mistake == "swapped":
                base_local, exponent_local = exponent_local, base_local
            if mistake == "local only":
                upstream = 1.0
            via_base, via_exponent = upstream * base_local, upstream * exponent_local
            total = {"no base": via_exponent, "no exponent": via_base}.get(mistake, via_base + via_exponent)
            return via_base, via_exponent, total

        return mutant

    return build


def nested_tie(rule):
    """Unit 1, exercise 4a: a tie sent whole to one input ("first", "second"), split in thirds, or the inner
    node's local gradient not multiplied by the outer node's ("local only")."""

    def build(ns):
        def mutant(x, y, z):
            if rule == "thirds":
                tied = [float(v == max(x, y, z)) for v in (x, y, z)]
                return tuple(t / sum(tied) for t in tied)

            def node(a, b, upstream):
                if a == b:
                    return (upstream, 0.0) if rule == "first" else (0.0, upstream)
                return (upstream, 0.0) if a > b else (0.0, upstream)

            dF_dm, dF_dz = node(max(x, y), z, 1.0)
            return (*node(x, y, 1.0 if rule == "local only" else dF_dm), dF_dz)

        return mutant

    return build


def relu_with(mistake):
    """Unit 1, exercise 4b: relu's gradient at 0 taken as ½, a branch of z's fork left out, the inner tie
    sent whole to y, or the inner node's local gradient not multiplied by relu's ("local only")."""

    def build(ns):
        def mutant(x, y, z):
            s = max(x, y) - z
            dF_ds = 1.0 if s > 0 else (0.5 if mistake == "relu half" and s == 0 else 0.0)
            dF_dz = {"no direct edge": -dF_ds, "no relu path": 1.0}.get(mistake, 1.0 - dF_ds)
            dF_dm = 1.0 if mistake == "local only" else dF_ds
            if x > y:
                return dF_dm, 0.0, dF_dz
            if x < y or mistake == "tie whole":
                return 0.0, dF_dm, dF_dz
            return dF_dm / 2, dF_dm / 2, dF_dz

        return mutant

    return build


def fork_chain_without(path):
    def build(ns):
        def mutant(a, w):
            u = a * w + torch.sin(a)
            dobj_du = 2 * u / a.numel()
            local = w if path == "product" else torch.cos(a)
            return (u**2).mean(), dobj_du * local, dobj_du * a

        return mutant

    return build


def fork_chain_dropped(ns):
    def mutant(a, w):
        u = a * w + torch.sin(a)
        return (u**2).mean(), u * (w + torch.cos(a)), u * a  # the mean's 1/n dropped with the square's 2

    return mutant


def quadratic_mistake(kind):
    """Unit 4, exercise 1: the quadratic gradients with x and x² swapped, or the inner factors dropped."""

    def build(ns):
        def mutant(x, w2, w1, b, y):
            s = w2 * x**2 + w1 * x + b - y
            if kind == "swapped":
                return s**2, 2 * s * x, 2 * s * x**2, 2 * s
            return s**2, 2 * s, 2 * s, 2 * s

        return mutant

    return build


def predict_with(reduction):
    """Unit 4, exercise 3: the prediction made with one reduction whatever was asked, the mean's last
    mini-batch divided by B ("over B"), the update's 2 dropped ("half"), or an update after every sample
    whatever B ("per sample", Unit 4, Section 3)."""

    def build(ns):
        def mutant(x_data, c, w0, lr, epochs, batch_size, asked):
            if reduction == "per sample":
                batch_size = 1
            factor = 1.0
            for start in range(0, len(x_data), batch_size):
                batch = x_data[start : start + batch_size]
                squares = sum(x * x for x in batch)
                if reduction == "mean" or (reduction == "half" and asked == "mean"):
                    squares /= len(batch)
                elif reduction == "over B" and asked == "mean":
                    squares /= batch_size
                factor *= 1 - (1 if reduction == "half" else 2) * lr * squares
            return c + (w0 - c) * factor**epochs

        return mutant

    return build


def huber_mistake(mistake):
    """Unit 4, exercise 2: the Huber loss's derivative left unclipped or clipped without its sign, the
    power rule applied to the exponent k, or the inner derivative ∂ŷ/∂a, ∂ŷ/∂k dropped in whole or in part."""

    def build(ns):
        def mutant(xs, ys, a, k, delta):
            powers = xs**k
            s = a * powers - ys
            inside = s.abs() < delta
            loss = torch.where(inside, 0.5 * s**2, delta * (s.abs() - 0.5 * delta)).mean()
            dl_ds = torch.where(inside, s, delta * torch.sign(s))
            if mistake == "huber_not_clipped":
                dl_ds = s
            elif mistake == "huber_clip_unsigned":
                dl_ds = torch.where(inside, s, torch.full_like(s, delta))
            elif mistake == "huber_inner_factor_2":
                dl_ds = torch.where(inside, 2 * s, delta * torch.sign(s))
            elif mistake == "sum_not_mean":  # the 1/B forgotten in both gradients
                dl_ds = len(s) * dl_ds
            dy_da, dy_dk = powers, a * powers * torch.log(xs)
            if mistake == "exponent_power_rule":
                dy_dk = a * k * xs ** (k - 1)
            elif mistake == "inner_factor_missing":  # the chain rule's ∂ŷ/∂a and ∂ŷ/∂k dropped
                dy_da, dy_dk = 1.0, 1.0
            elif mistake == "exponent_log_missing":  # ∂ŷ/∂k without ln x
                dy_dk = a * powers
            elif mistake == "exponent_coefficient_missing":  # ∂ŷ/∂k = ln x alone
                dy_dk = torch.log(xs)
            return loss, (dl_ds * dy_da).mean(), (dl_ds * dy_dk).mean()

        return mutant

    return build


def momentum_mistake(mistake):
    """Unit 4, exercise 4: θ after T steps of torch.optim.SGD on a constant gradient, with one misreading
    of its rule (the buffer started from zero, dampening or Nesterov left out, no momentum at all or Unit 4,
    Section 7's μ = 1, one step too many or too few) or of the closed form (the buffer at its limit from the
    first step, the geometric part's power off by one), in plain Python: the answer may not use torch."""

    def build(ns):
        def mutant(theta0, g, lr, steps, momentum, dampening, nesterov):
            if mistake == "sgd_momentum_ignored":
                return theta0 - lr * steps * g
            if mistake == "momentum_taken_as_one":  # Unit 4, §7: b_t = b_(t−1) + (1 − τ)·g, b_1 = g
                buffers = steps * g + (1 - dampening) * g * steps * (steps - 1) / 2
                return theta0 - lr * (steps * g + buffers if nesterov else buffers)
            if mistake == "momentum_dampening_ignored":
                dampening = 0.0
            if mistake == "nesterov_ignored":
                nesterov = False
            steps += {"steps +1": 1, "steps -1": -1}.get(mistake, 0)
            limit = (1 - dampening) * g / (1 - momentum)
            first = (1 - dampening) * g if mistake == "momentum_buffer_from_zero" else g  # b_1 from b_0 = 0
            power = steps + {"power +1": 1, "power -1": -1}.get(mistake, 0)
            transient = (first - limit) * (1 - momentum**power) / (1 - momentum)
            buffers = steps * limit + (0.0 if mistake == "momentum_transient_ignored" else transient)
            return theta0 - lr * (steps * g + momentum * buffers if nesterov else buffers)

        return mutant

    return build


def stable_lr_mistake(mistake):
    """Unit 4, exercise 5: the largest stable learning rate from the wrong eigenvalue, or with weight decay,
    momentum or dampening left out (plain Python: the answer may not use torch)."""

    def build(ns):
        def mutant(mean_x, mean_x2, momentum, dampening, weight_decay):
            a, off = 2 * mean_x2, 2 * mean_x
            spread = ((a - 2) ** 2 / 4 + off**2) ** 0.5
            high, low = (a + 2) / 2 + spread, (a + 2) / 2 - spread
            if mistake == "stable_lr_bias_ignored":  # the lecture's ŷ = w·x: the Hessian is 2·mean(x²) alone
                high = low = a
            if mistake == "hessian_factor_2_missing":  # (1/n)[[Σx², Σx], [Σx, n]]
                high, low = high / 2, low / 2
            if mistake == "stable_lr_best_step":  # the lecture's fastest fixed rate, 2 / (λmax + λmin)
                return 2 / (high + low + 2 * weight_decay)
            curvature = low if mistake == "stable_lr_flat_direction" else high
            if mistake != "stable_lr_weight_decay_ignored":
                curvature += weight_decay
            if momentum == 0 or mistake == "stable_lr_momentum_ignored":
                return 2 / curvature
            if mistake == "stable_lr_momentum_ignored_damped":  # 2 / ((1 − τ)(λ + α)): μ dropped, τ kept
                return 2 / ((1 - dampening) * curvature)
            kept = 1.0 if mistake == "stable_lr_dampening_ignored" else 1 - dampening
            return 2 * (1 + momentum) / (kept * curvature)

        return mutant

    return build


def naive_softmax(ns):
    def mutant(Z):
        e = torch.exp(Z)  # no max shift: inf/inf or 0/0 at logits of ±1000
        return e / e.sum(dim=1, keepdim=True)


def log_softmax_with(mistake):
    """Unit 6, exercise 1: the log-softmax with one mistake, in the forward pass or in the backward pass."""

    def build(ns):
        def mutant(Z, dA):
            if mistake == "not_shifted":
                m = torch.zeros_like(Z[:, :1])
            elif mistake == "global_max":
                m = Z.max()  # one maximum for the whole tensor
            else:
                m = Z.max(dim=1, keepdim=True).values
            A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
            P = torch.exp(A)
            if mistake == "global_max_in_backward":  # A right, the softmax of dZ shifted by one maximum
                e = torch.exp(Z - Z.max())
                P = e / e.sum(dim=1, keepdim=True)
            row_sum = dA.sum(dim=1, keepdim=True)
            at_max = torch.nn.functional.one_hot(Z.argmax(dim=1), Z.shape[1]).to(Z.dtype) * row_sum
            dZ = {
                "minus_m_only": dA - P * row_sum - at_max,  # the maximum's path through −m alone
                "log_sum_only": dA - P * row_sum + at_max,  # its path through the log-sum alone
                "diagonal": dA * (1 - P),
                "row_sum": dA - P,
            }.get(mistake, dA - P * row_sum)
            return A, dZ

        return mutant

    return build


def embedding_with(mistake):
    def build(ns):
        def mutant(idx, dOut, V, padding_idx=None):
            D = dOut.shape[-1]
            dE = torch.zeros(V, D, dtype=dOut.dtype)
            if mistake == "overwritten":
                dE[idx.reshape(-1)] = dOut.reshape(-1, D)  # repeated rows keep one gradient
            else:
                dE.index_add_(0, idx.reshape(-1), dOut.reshape(-1, D))
            if mistake == "averaged":  # repeated rows get the mean of their gradients
                dE /= torch.bincount(idx.reshape(-1), minlength=V).clamp(min=1).unsqueeze(1)
            if padding_idx is not None and mistake != "padding":
                dE[padding_idx] = 0.0
            return dE

        return mutant

    return build


def tied_with(mistake):
    def build(ns):
        def mutant(X, W, b1, b2):
            N, D = X.shape
            H = torch.tanh(X @ W + b1)
            dX_hat = 2 * (H @ W.T + b2 - X) / (N * D if mistake == "mse_loss" else N)
            decoder = dX_hat.T @ H
            derivative = {"no_tanh": 1.0, "tanh_at_input": 1 - (X @ W + b1) ** 2}.get(mistake, 1 - H**2)
            encoder = X.T @ ((dX_hat @ W) * derivative)
            return {"encoder_only": encoder, "decoder_only": decoder}.get(mistake, encoder + decoder)

        return mutant

    return build


def normalize_with(mistake):
    """Unit 6, exercise 4: the normalization's backward pass (dX, dγ, dβ) with one mistake."""

    def build(ns):
        def mutant(X, gamma, dY, dim, eps):
            axis = 1 - dim if mistake == "wrong_axis" else dim
            n = X.shape[axis]
            divisor = n - 1 if mistake == "unbiased" else n  # derived throughout with n − 1
            mu = X.mean(dim=axis, keepdim=True)
            sigma = torch.sqrt(((X - mu) ** 2).sum(dim=axis, keepdim=True) / divisor + eps)
            X_hat = (X - mu) / sigma
            param_axis = dim if mistake == "param_axis" else 0
            dgamma, dbeta = (dY * X_hat).sum(dim=param_axis), dY.sum(dim=param_axis)
            if mistake == "params_averaged":  # dγ and dβ averaged over the batch, not summed
                dgamma, dbeta = dgamma / X.shape[0], dbeta / X.shape[0]
            g = dY if mistake == "gamma_outside" else dY * gamma
            through_mean = g.mean(dim=axis, keepdim=True)
            through_var = X_hat * (g * X_hat).sum(dim=axis, keepdim=True) / divisor
            dX = {
                "constant": g / sigma,
                "no_variance_path": (g - through_mean) / sigma,
                "no_mean_path": (g - through_var) / sigma,
            }.get(mistake, (g - through_mean - through_var) / sigma)
            return (gamma * dX if mistake == "gamma_outside" else dX), dgamma, dbeta

        return mutant

    return build


def steps_mistaken(mistake):
    """Unit 3, exercise 1: backward() taken to replace .grad, "none" taken to zero .grad, "zero" taken to set
    .grad to None or to fill a .grad that is None with zeros, a step that moves a parameter whose .grad is
    None, or the weight decay added into .grad."""

    def build(ns):
        def mutant(steps, w0, x, y, lr, weight_decay):
            w, grad = w0, None
            for step in steps:
                if step == "backward":
                    g = 2 * (x * w - y) * x
                    grad = g if grad is None or mistake == "replaced" else grad + g
                elif step == "step" and (grad is not None or mistake == "none_moves"):
                    before, grad = w, 0.0 if grad is None else grad
                    w = w - lr * (grad + weight_decay * w)
                    if mistake == "decay_in_grad":
                        grad = grad + weight_decay * before
                elif step == "zero" and (grad is not None or mistake == "zero_creates"):
                    grad = None if mistake == "zero_is_none" else 0.0
                elif step == "none":
                    grad = 0.0 if mistake == "none_zeroes" and grad is not None else None
            return w, grad

        return mutant

    return build


def microbatch_scaled(by):
    """Unit 3, exercise 2: each micro-batch's mean not divided, divided by k, or w.grad kept uncopied."""

    def build(ns):
        def mutant(w, X, y, sizes):
            w = w.detach().clone().requires_grad_(True)
            rows = []
            for Xs, ys in zip(X.split(sizes), y.split(sizes), strict=True):
                scale = {"one": 1.0, "k": 1.0 / len(sizes)}.get(by, len(Xs) / len(X))
                (((Xs @ w - ys) ** 2).mean() * scale).backward()
                rows.append(w.grad if by == "alias" else w.grad.detach().clone())
            return torch.stack(rows).detach()

        return mutant

    return build


def inplace_rule(mistake):
    """Unit 3, exercise 3: t[i]'s maker alone, its user alone, both sides of an operation that saves
    anything, input and output swapped, or every in-place edit breaks."""

    def build(ns):
        def mutant(chain, edited):
            if mistake == "always":
                return bool(edited)
            outputs, inputs = {"exp", "sigmoid", "tanh", "sqrt", "relu"}, {"sin", "cos", "log", "square"}
            made, used = {  # the operations that count when they made t[i], and when they use it
                "producer": (outputs, set()),
                "consumer": (set(), inputs),
                "either": (outputs | inputs, outputs | inputs),
                "swapped": (inputs, outputs),
            }[mistake]
            return any(
                (i >= 1 and chain[i - 1] in made) or (i < len(chain) and chain[i] in used) for i in edited
            )

        return mutant

    return build


def hooks_mistaken(mistake):
    """Unit 3, exercise 4: u's hook applied to each arriving gradient, b = u + u counted once, or hooks that
    only look."""

    def build(ns):
        def mutant(x0, w, c, m, hooked):
            import math

            def through(name, grad):
                return max(-m, min(m, grad)) if name in hooked and mistake != "ignored" else grad

            u = w * x0
            grad_a, grad_b = through("a", 1.0), through("b", 4 * c * u)
            arriving = [grad_a * math.cos(u), grad_b] + ([] if mistake == "once" else [grad_b])
            if mistake == "per_use" and "u" in hooked:
                grad_u = through("u", arriving[0]) + through("u", arriving[1]) + through("u", arriving[-1])
            else:
                grad_u = through("u", sum(arriving))
            return through("x", w * grad_u)

        return mutant

    return build


def kinks_mistaken(mistake):
    """Unit 3, exercise 5: a tie gives everything to its first input, a kink takes the derivative from the
    right, clamp gives 0 at its bounds, or every kink splits the gradient evenly, as a maximum would."""

    def build(ns):
        def mutant(terms, xs):
            grad = [0.0] * len(xs)
            for coef, name, *args in terms:
                if name in ("maximum", "minimum", "amax"):
                    best = min(xs[i] for i in args) if name == "minimum" else max(xs[i] for i in args)
                    tied = [i for i in args if xs[i] == best]
                    if mistake == "first":
                        tied = tied[:1]
                    for i in tied:
                        grad[i] += coef / len(tied)
                    continue
                i, v = args[0], xs[args[0]]
                right, even = mistake == "right", mistake == "even"
                if name == "clamp":
                    lo, hi = args[1], args[2]
                    at_lo = 0.0 if mistake == "clamp_zero" else 1.0
                    at_hi = 0.0 if mistake in ("clamp_zero", "right") else 1.0
                    at_lo, at_hi = (0.5, 0.5) if even else (at_lo, at_hi)
                    slope = 1.0 if lo < v < hi else at_lo if v == lo else at_hi if v == hi else 0.0
                elif name == "hardtanh":
                    at_bound = 0.5 if even and v in (-1, 1) else 0.0
                    slope = 1.0 if -1 < v < 1 or (right and v == -1) else at_bound
                else:
                    below = {"relu": 0.0, "abs": -1.0}.get(name, args[-1])
                    at_zero = 1.0 if right else below if name == "leaky_relu" else 0.0
                    at_zero = (1.0 + below) / 2 if even else at_zero
                    slope = 1.0 if v > 0 else below if v < 0 else at_zero
                grad[i] += coef * slope
            return grad

        return mutant

    return build


def penalty_mistaken(mistake):
    """Unit 3, exercise 6: the input gradient taken without create_graph (retain_graph only), taken of
    out.mean(), or the penalty summed over the samples."""

    def build(ns):
        def mutant(X, y, W, a, lam):
            X = X.detach().clone().requires_grad_(True)
            W = W.detach().clone().requires_grad_(True)
            a = a.detach().clone().requires_grad_(True)
            out = torch.tanh(X @ W) @ a
            loss = ((out - y) ** 2).mean()
            recorded = {"create_graph": True} if mistake != "constant" else {"retain_graph": True}
            reduced = out.mean() if mistake == "mean" else out.sum()
            (input_grad,) = torch.autograd.grad(reduced, X, **recorded)
            squared = (input_grad**2).sum(dim=1)
            penalty = squared.sum() if mistake == "summed" else squared.mean()
            dW, da = torch.autograd.grad(loss + lam * penalty, (W, a))
            return dW.detach(), da.detach()

        return mutant

    return build


def where_nan_mistaken(mistake):
    """Unit 3, exercise 7: NaN wherever a value on the chain is not finite, or never NaN."""

    def build(ns):
        def mutant(chain, x0):
            import numpy as np

            if mistake == "never":
                return False
            forward = {
                "sqrt": np.sqrt,
                "log": np.log,
                "exp": np.exp,
                "reciprocal": lambda t: 1 / t,
                "square": lambda t: t * t,
                "sin": np.sin,
                "tanh": np.tanh,
                "neg": lambda t: -t,
                "add1": lambda t: t + 1,
            }
            with np.errstate(all="ignore"):
                t = np.float64(x0)
                for name in chain:
                    t = forward[name](t)
                    if not np.isfinite(t):
                        return True
            return False

        return mutant

    return build


def staged_local_only(ns):
    def mutant(w, x, b):
        z = torch.dot(w, x) + b
        e = torch.exp(-z)
        d = 1 + e
        # each node's local gradient written down, the upstream gradient never multiplied in
        return 1 / d, -1 / d**2, 1.0, e, -1.0, -x, -w, -1.0

    return mutant


def diamond_with(mistake):
    """Unit 1, exercise 5: one path left out of ∂f/∂x ("u", "v"), the local gradients alone, each factor
    of the multiplication times its own value, sin's derivative taken at x or without its inner w, or ∂f/∂w
    with w's own value at m = w x, without its inner x, with sin's derivative taken at x or without the
    upstream value u ("w own operand", "w no inner", "w outer at x", "w local only")."""

    def build(ns):
        def mutant(x, w):
            u, m = x**2, w * x
            v = math.sin(m)
            df_du, df_dv = {"local only": (1.0, 1.0), "own operand": (u, v)}.get(mistake, (v, u))
            outer = math.cos(x) if mistake == "outer at x" else math.cos(m)
            inner = 1.0 if mistake == "no inner" else w
            via_u, via_v = df_du * 2 * x, df_dv * outer * inner
            total = {"u": via_u, "v": via_v}.get(mistake, via_u + via_v)
            dm_dw = {"w own operand": w, "w no inner": 1.0}.get(mistake, x)
            df_dm = {"w outer at x": df_dv * math.cos(x), "w local only": math.cos(m)}.get(
                mistake, df_dv * math.cos(m)
            )
            return via_u, via_v, total, df_dm * dm_dw

        return mutant

    return build


def mean_chain_dropped(ns):
    def mutant(x):
        return (2 * (x + 1) ** 2).mean(), x + 1  # 4/n dropped: right only when n = 4

    return mutant


def mean_chain_share(ns):
    def mutant(x):
        z = 2 * (x + 1) ** 2
        return z.mean(), z / x.numel()  # each entry's share of the mean, not a derivative

    return mutant


def layer_with(mistake):
    """Unit 2, exercise 3: tanh's factor 1 - Y² left out, or taken at tanh's input (1 - Z²), b's gradient
    left per row (not summed), the mean divided by the length of another axis (X's columns, T's columns)
    than the batch's, or the mean's 1/p dropped together with the square's 2."""

    def build(ns):
        def mutant(X, W, b, T, reduction):
            length = {"divided_by_q": X.shape[1], "divided_by_r": T.shape[1]}.get(mistake, X.shape[0])
            scale = 1.0 / length if reduction == "mean" else 1.0
            Z = X @ W + b
            Y = torch.tanh(Z)
            G = scale * 2 * (Y - T)
            if mistake == "mean_factor_dropped" and reduction == "mean":
                G = Y - T
            if mistake == "tanh_at_input":
                G = G * (1 - Z**2)
            elif mistake != "no_tanh_derivative":
                G = G * (1 - Y**2)
            db = G if mistake == "db_per_row" else G.sum(dim=0)
            return scale * ((Y - T) ** 2).sum(), G @ W.T, X.T @ G, db

        return mutant

    return build


def broadcast_with(mistake):
    """Unit 2, exercise 4: the broadcast inputs' gradients left per entry, summed over the other axis, or
    summed with their axis of length 1 dropped; m's gradient without the factor s, or s's with X for X − m."""

    def build(ns):
        def mutant(X, m, s, b, G):
            per_m, per_s, per_b = -G * s, G * (X - m), G  # each entry of Y's own share
            if mistake == "not_summed":
                return G * s, per_m, per_s, per_b
            if mistake == "m_without_s":
                return G * s, -G.sum(dim=1, keepdim=True), per_s.sum(dim=0), per_b.sum(dim=0, keepdim=True)
            if mistake == "s_with_X":
                return (
                    G * s,
                    per_m.sum(dim=1, keepdim=True),
                    (G * X).sum(dim=0),
                    per_b.sum(dim=0, keepdim=True),
                )
            if mistake == "wrong_axis":
                return G * s, per_m.sum(dim=0, keepdim=True), per_s.sum(dim=1), per_b.sum(dim=1, keepdim=True)
            return G * s, per_m.sum(dim=1), per_s.sum(dim=0), per_b.sum(dim=0)  # keepdim lost

        return mutant

    return build


def cdf_vjp_with(mistake):
    """Unit 2, exercise 5: J·v for vᵀJ (whole, or on the running sums' path only), or one path left out."""

    def build(ns):
        def mutant(x, v):
            S = x.sum()
            y = x.cumsum(0) / S
            from_the_end = v.flip(0).cumsum(0).flip(0) / S
            through_S = -(v * y).sum() / S * torch.ones_like(x)
            g = {
                "jvp": v.cumsum(0) / S - y * v.sum() / S,
                "running_jvp": v.cumsum(0) / S + through_S,
                "no_total": from_the_end,
                "no_running": through_S,
            }[mistake]
            return y, g

        return mutant

    return build


def jacobian_stacked(mistake):
    """Unit 2, exercise 6: each row left in X's shape, or the rows stacked as columns."""

    def build(ns):
        def mutant(X, W):
            Y = torch.tanh(X @ W)
            rows = []
            for index in range(Y.numel()):
                pick = torch.zeros(Y.numel(), dtype=Y.dtype)
                pick[index] = 1.0
                (row,) = torch.autograd.grad(Y, X, grad_outputs=pick.reshape(Y.shape), retain_graph=True)
                rows.append(row if mistake == "not_flattened" else row.reshape(-1))
            return torch.stack(rows, dim=1 if mistake == "as_columns" else 0)

        return mutant

    return build


def jacobian_by_backward(mistake):
    """Unit 2, exercise 6, rows from Y.backward() and X.grad: X.grad never cleared (each row a copy), or
    each row X.grad itself, a view, with X.grad zeroed before each call or never."""

    def build(ns):
        def mutant(X, W):
            Y = torch.tanh(X @ W)
            rows = []
            for index in range(Y.numel()):
                pick = torch.zeros(Y.numel(), dtype=Y.dtype)
                pick[index] = 1.0
                if mistake == "zeroed views" and X.grad is not None:
                    X.grad.zero_()
                Y.backward(gradient=pick.reshape(Y.shape), retain_graph=True)
                row = X.grad.reshape(-1)  # a view of X.grad
                rows.append(row.clone() if mistake == "not cleared" else row)
            return torch.stack(rows)

        return mutant

    return build


STABLE_LR = (
    "stable_lr_best_step",
    "stable_lr_flat_direction",
    "stable_lr_weight_decay_ignored",
    "stable_lr_momentum_ignored",
    "stable_lr_dampening_ignored",
    "hessian_factor_2_missing",
    "stable_lr_bias_ignored",
    "stable_lr_momentum_ignored_damped",
)
MUTANTS = {  # grade id: {mistake id: [builders of a mutant student function]}
    "test_mul_gate_backward": {
        "product_wrong_operand": [mul_own_operand],
        "upstream_returned": [gate_upstream],
        "local_not_chained": [gate_local_only],
    },
    "test_max_gate_backward": {
        "upstream_returned": [gate_upstream],
        "max_to_smaller": [max_to_smaller],
        "local_not_chained": [max_local_only],
    },
    "test_staged_sigmoid_backward": {
        "local_not_chained": [staged_local_only, staged_z_local_only],
        "product_wrong_operand": [staged_swapped],
        "quotient_sign": [staged_quotient_sign],
        "outer_at_x": [staged_exp_at_z],
    },
    "test_self_power_backward": {
        "power_slots_swapped": [power_with("swapped")],
        "local_not_chained": [power_with("local only")],
        "fork_branch_missing": [power_with("no base"), power_with("no exponent")],
    },
    "test_nested_max_backward": {
        "tie_not_split": [nested_tie("first"), nested_tie("second")],
        "tie_split_evenly": [nested_tie("thirds")],
        "local_not_chained": [nested_tie("local only")],
    },
    "test_relu_max_backward": {
        "relu_at_zero": [relu_with("relu half")],
        "fork_branch_missing": [relu_with("no direct edge"), relu_with("no relu path")],
        "tie_not_split": [relu_with("tie whole")],
        "local_not_chained": [relu_with("local only")],
    },
    "test_diamond_backward": {
        "fork_branch_missing": [diamond_with("u"), diamond_with("v")],
        "local_not_chained": [diamond_with("local only"), diamond_with("w local only")],
        "product_wrong_operand": [diamond_with("own operand"), diamond_with("w own operand")],
        "outer_at_x": [diamond_with("outer at x"), diamond_with("w outer at x")],
        "inner_factor_missing": [diamond_with("no inner"), diamond_with("w no inner")],
    },
    "test_mean_chain_backward": {
        "mean_factor_dropped": [mean_chain_dropped],
        "share_not_derivative": [mean_chain_share],
    },
    "test_layer_backward": {
        "inner_factor_missing": [layer_with("no_tanh_derivative")],
        "tanh_derivative_at_input": [layer_with("tanh_at_input")],
        "mean_factor_dropped": [layer_with("mean_factor_dropped")],
        "broadcast_not_summed": [layer_with("db_per_row")],
        "batch_mean_wrong_length": [layer_with("divided_by_q"), layer_with("divided_by_r")],
    },
    "test_broadcast_backward": {
        "broadcast_not_summed": [broadcast_with("not_summed")],
        "broadcast_wrong_axis": [broadcast_with("wrong_axis")],
        "broadcast_keepdim_lost": [broadcast_with("keepdim_lost")],
        "product_factor_missing": [broadcast_with("m_without_s"), broadcast_with("s_with_X")],
    },
    "test_cdf_vjp": {
        "jvp_not_vjp": [cdf_vjp_with("jvp"), cdf_vjp_with("running_jvp")],
        "fork_branch_missing": [cdf_vjp_with("no_total"), cdf_vjp_with("no_running")],
    },
    "test_layer_jacobian": {
        "jacobian_row_not_flattened": [jacobian_stacked("not_flattened")],
        "jacobian_rows_as_columns": [jacobian_stacked("as_columns")],
        "jacobian_rows_accumulated": [jacobian_by_backward("not cleared")],
        "jacobian_rows_aliased": [jacobian_by_backward("zeroed views"), jacobian_by_backward("views")],
    },
    "test_fork_chain_backward": {
        "fork_branch_missing": [fork_chain_without("product"), fork_chain_without("sine")],
        "mean_factor_dropped": [fork_chain_dropped],
    },
    "test_log_softmax_forward_backward": {
        "softmax_not_shifted": [log_softmax_with("not_shifted")],
        "softmax_global_max": [log_softmax_with("global_max"), log_softmax_with("global_max_in_backward")],
        "fork_branch_missing": [log_softmax_with("minus_m_only"), log_softmax_with("log_sum_only")],
        "jacobian_diagonal_only": [log_softmax_with("diagonal")],
        "row_sum_missing": [log_softmax_with("row_sum")],
    },
    "test_embedding_backward": {
        "embedding_repeats_overwritten": [embedding_with("overwritten")],
        "embedding_repeats_averaged": [embedding_with("averaged")],
        "embedding_padding_not_zeroed": [embedding_with("padding")],
    },
    "test_tied_autoencoder_grad": {
        "fork_branch_missing": [tied_with("encoder_only"), tied_with("decoder_only")],
        "inner_factor_missing": [tied_with("no_tanh")],
        "tanh_derivative_at_input": [tied_with("tanh_at_input")],
        "mse_loss_convention": [tied_with("mse_loss")],
    },
    "test_normalize_backward": {
        "norm_statistics_constant": [normalize_with("constant")],
        "norm_variance_path_missing": [normalize_with("no_variance_path")],
        "norm_mean_path_missing": [normalize_with("no_mean_path")],
        "norm_unbiased_variance": [normalize_with("unbiased")],
        "norm_wrong_axis": [normalize_with("wrong_axis")],
        "norm_gamma_outside": [normalize_with("gamma_outside")],
        "norm_param_wrong_axis": [normalize_with("param_axis")],
        "db_not_summed": [normalize_with("params_averaged")],
    },
    "test_quadratic_loss_and_grads": {
        "powers_swapped": [quadratic_mistake("swapped")],
        "inner_factor_missing": [quadratic_mistake("no inner")],
    },
    "test_huber_power_loss_and_grads": {
        key: [huber_mistake(key)]
        for key in (
            "huber_not_clipped",
            "huber_clip_unsigned",
            "huber_inner_factor_2",
            "exponent_power_rule",
            "sum_not_mean",
            "inner_factor_missing",
            "exponent_log_missing",
            "exponent_coefficient_missing",
        )
    },
    "test_predict_w": {
        "batch_loss_summed": [predict_with("sum")],
        "batch_loss_averaged": [predict_with("mean")],
        "last_batch_divided_by_B": [predict_with("over B")],
        "update_factor_2_missing": [predict_with("half")],
        "batches_ignored": [predict_with("per sample")],
    },
    "test_predict_momentum": {
        "sgd_momentum_ignored": [momentum_mistake("sgd_momentum_ignored")],
        "momentum_taken_as_one": [momentum_mistake("momentum_taken_as_one")],
        "momentum_buffer_from_zero": [momentum_mistake("momentum_buffer_from_zero")],
        "momentum_dampening_ignored": [momentum_mistake("momentum_dampening_ignored")],
        "nesterov_ignored": [momentum_mistake("nesterov_ignored")],
        "momentum_steps_off_by_one": [momentum_mistake("steps +1"), momentum_mistake("steps -1")],
        "momentum_transient_ignored": [momentum_mistake("momentum_transient_ignored")],
        "geometric_sum_off_by_one": [momentum_mistake("power +1"), momentum_mistake("power -1")],
    },
    "test_largest_stable_lr": {key: [stable_lr_mistake(key)] for key in STABLE_LR},
    "test_grad_after": {
        "grad_replaced": [steps_mistaken("replaced")],
        "grad_zero_is_none": [steps_mistaken("zero_is_none")],
        "zero_grad_zeroes": [steps_mistaken("none_zeroes")],
        "zero_creates_grad": [steps_mistaken("zero_creates")],
        "none_not_skipped": [steps_mistaken("none_moves")],
        "decay_in_grad": [steps_mistaken("decay_in_grad")],
    },
    "test_microbatch_gradient": {
        "microbatch_not_divided": [microbatch_scaled("one")],
        "microbatch_divided_by_k": [microbatch_scaled("k")],
        "grad_aliased": [microbatch_scaled("alias")],
    },
    "test_breaks_backward": {
        "inplace_consumer_ignored": [inplace_rule("producer")],
        "inplace_producer_ignored": [inplace_rule("consumer")],
        "inplace_saved_either": [inplace_rule("either")],
        "inplace_input_output_swapped": [inplace_rule("swapped")],
        "inplace_always_breaks": [inplace_rule("always")],
    },
    "test_hooked_grad": {
        "hook_per_branch": [hooks_mistaken("per_use")],
        "fork_branch_missing": [hooks_mistaken("once")],
        "hook_ignored": [hooks_mistaken("ignored")],
    },
    "test_kink_gradient": {
        "tie_to_first": [kinks_mistaken("first")],
        "kink_right_derivative": [kinks_mistaken("right")],
        "clamp_min_norm": [kinks_mistaken("clamp_zero")],
        "kink_even_split": [kinks_mistaken("even")],
    },
    "test_penalty_grads": {
        "penalty_not_differentiated": [penalty_mistaken("constant")],
        "input_grad_of_mean": [penalty_mistaken("mean")],
        "penalty_summed": [penalty_mistaken("summed")],
    },
    "test_where_grad_is_nan": {
        "nan_from_value": [where_nan_mistaken("value")],
        "where_zero_is_safe": [where_nan_mistaken("never")],
    },
}


@dataclass(frozen=True)
class Edit:
    """A mistake planted in the source of a solution cell: each ``old`` text replaced by its ``new``.

    For a mistake inside a class (unit 5's ``Value`` engine), where no single function can be swapped:
    the notebook's cells run again with the edited cell, and the test sees the mistaken engine."""

    cell: str  # the solution cell's grade id
    replace: tuple[tuple[str, str], ...]

    def apply(self, source: str) -> str:
        for old, new in self.replace:
            assert old in source, f"{self.cell}: {old!r} is not in the solution"
            source = source.replace(old, new)
        return source


VALUE_ASSIGNS = Edit("value_class", ((".grad += ", ".grad = "),))
VALUE_WITHOUT_CHAIN = Edit("value_class", ((" * out.grad", ""),))
VALUE_WRONG_OPERAND = Edit(
    "value_class",
    (
        ("self.grad += other.data * out.grad", "self.grad += self.data * out.grad"),
        ("other.grad += self.data * out.grad", "other.grad += other.data * out.grad"),
    ),
)
NEW_OPS_ASSIGN = Edit("new_operations", ((".grad += ", ".grad = "),))
NEW_OPS_WITHOUT_CHAIN = Edit("new_operations", ((" * out.grad", ""),))
DOT_ASSIGNS = Edit("dot", ((".grad += ", ".grad = "),))
EDITS = {  # grade id: {mistake id: [edits of a solution cell that make that mistake]}
    "test_value_core": {
        "fork_branch_missing": [VALUE_ASSIGNS],
        "out_grad_missing": [VALUE_WITHOUT_CHAIN],
        "product_wrong_operand": [VALUE_WRONG_OPERAND],
    },
    "test_topological_order": {
        "topo_order_reversed": [
            Edit("topological_order", (("    return order\n", "    return order[::-1]\n"),))
        ]
    },
    "test_backward": {  # = for += is exercise 1's (test_value_core): over a graph it depends on the order
        "out_grad_missing": [VALUE_WITHOUT_CHAIN],
        "product_wrong_operand": [VALUE_WRONG_OPERAND],
        "backward_wrong_order": [Edit("backward", (("in reversed(order):", "in order:"),))],
        "inner_grad_stale": [  # the inner nodes never reset, the output set to 1 as in the lecture
            Edit(
                "backward",
                (
                    ("node.grad = 0.0  # this call's", "pass  # this call's"),
                    ("    self.grad += 1.0  #", "    self.grad = 1.0  #"),
                ),
            )
        ],
        "leaf_grad_reset": [
            Edit("backward", (("if node.parents:  # an inner node", "if True:  # an inner node"),))
        ],
        "zero_grad_did_nothing": [Edit("backward", (("node.grad = 0.0  # zero_grad", "pass  # zero_grad"),))],
        "backward_seed_missing": [
            Edit("backward", (("    self.grad += 1.0  #", "    pass  #"),)),  # never seeded
            Edit(  # seeded, then cleared with the inner nodes
                "backward",
                (
                    ("    self.grad += 1.0  #", "    pass  #"),
                    (
                        "    order = topological_order(self)\n",
                        "    order = topological_order(self)\n    self.grad += 1.0\n",
                    ),
                ),
            ),
        ],
        "leaf_output_grad_overwritten": [
            Edit("backward", (("    self.grad += 1.0  #", "    self.grad = 1.0  #"),))
        ],
    },
    "test_new_operations": {
        "fork_branch_missing": [NEW_OPS_ASSIGN],
        "out_grad_missing": [NEW_OPS_WITHOUT_CHAIN],
        "exponent_grad_missing": [
            Edit("new_operations", (("other.grad += out.data * math.log(self.data) * out.grad", "pass"),))
        ],
        "power_rule_on_exponent": [
            Edit(
                "new_operations",
                (
                    (
                        "other.grad += out.data * math.log(self.data) * out.grad",
                        "other.grad += other.data * self.data ** (other.data - 1) * out.grad",
                    ),
                ),
            )
        ],
        "quotient_sign": [
            Edit(
                "new_operations",
                (("other.grad += -self.data / other.data**2", "other.grad += self.data / other.data**2"),),
            )
        ],
    },
    "test_dot": {
        "fork_branch_missing": [DOT_ASSIGNS],
        "out_grad_missing": [Edit("dot", ((" * out.grad", ""),))],
        "product_wrong_operand": [
            Edit(
                "dot",
                (
                    ("w.grad += x.data * out.grad", "w.grad += w.data * out.grad"),
                    ("x.grad += w.data * out.grad", "x.grad += x.data * out.grad"),
                ),
            )
        ],
    },
    "test_no_grad": {
        "no_grad_leaks": [Edit("no_grad", (("node.local_backward = leaf_rule", "pass"),))],
        "no_grad_not_restored": [
            Edit("no_grad", (("Value.recording = before  #", "Value.recording = True  #"),))
        ],
        "no_grad_not_restored_on_error": [
            Edit(
                "no_grad",
                (
                    (
                        "        try:\n            return function(*args)\n        finally:\n",
                        "        if True:\n",
                    ),
                    (
                        "            Value.recording = before  #",
                        "            result = function(*args)\n"
                        "            Value.recording = before\n"
                        "            return result  #",
                    ),
                ),
            )
        ],
        "no_grad_never_restored": [Edit("no_grad", (("Value.recording = before  #", "pass  #"),))],
    },
    "test_norm_logsumexp": {
        "fork_branch_missing": [Edit("norm_logsumexp", ((".grad += ", ".grad = "),))],
        "out_grad_missing": [Edit("norm_logsumexp", ((" * out.grad", ""),))],
        "norm_sqrt_derivative_missing": [
            Edit(
                "norm_logsumexp",
                (("x.grad += x.data / out.data * out.grad", "x.grad += 2 * x.data * out.grad"),),
            )
        ],
        "logsumexp_log_missing": [
            Edit(
                "norm_logsumexp",
                (("math.exp(x.data - out.data) * out.grad", "math.exp(x.data) * out.grad"),),
            )
        ],
        "norm_share_off": [
            Edit(
                "norm_logsumexp", (("x.grad += x.data / out.data * out.grad", "x.grad += x.data * out.grad"),)
            )
        ],
        "logsumexp_share_off": [
            Edit(
                "norm_logsumexp",
                (("math.exp(x.data - out.data) * out.grad", "math.exp(x.data - top) * out.grad"),),
            )
        ],
        "logsumexp_overflow": [
            Edit(  # the value from e^x itself: right until e^x no longer fits in a float
                "norm_logsumexp",
                (("top + math.log(sum(math.exp(x.data - top)", "math.log(sum(math.exp(x.data)"),),
            ),
            Edit(  # a stable value, but the local gradient e^xᵢ / Σ e^xⱼ taken as it is written
                "norm_logsumexp",
                (
                    (
                        "math.exp(x.data - out.data) * out.grad",
                        "math.exp(x.data) / sum(math.exp(y.data) for y in xs) * out.grad",
                    ),
                ),
            ),
        ],
    },
    "test_train": {
        "engine_grad_not_zeroed": [Edit("train", (("p.grad = 0.0  #", "pass  #"),))],
        "missing_one_over_n": [
            Edit("train", (("loss = loss / len(xs)  # the mean", "loss = loss  # the mean"),))
        ],
    },
}


# ------------------------------------------------------------------------------------- machinery


def named(key, text):
    """Whether ``text`` holds the English diagnosis of mistake ``key``, whatever its numbers (or its text
    for an answer derived by hand, where one is catalogued)."""
    entry = catalogue()[key]
    for template in (entry["en"], entry.get("en_by_hand", entry["en"])):
        pattern = "".join(
            re.escape(literal) + (".+?" if field is not None else "")
            for literal, field, _, _ in string.Formatter().parse(template)
        )
        if re.search(pattern, text) is not None:
            return True
    return False


class Exercise:
    """One source notebook run with its solutions: the namespace its test cells run in."""

    def __init__(self, path):
        self.path = path
        self.nb = nbformat.read(path, as_version=4)
        self.namespace = {}
        self.solutions = set()
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in self.nb.cells:
                if cell.cell_type != "code" or is_test(cell):
                    continue
                exec(compile(cell.source, f"<{path.parent.name}>", "exec"), self.namespace)
                if nbgrader_meta(cell).get("solution"):
                    tree = ast.parse(cell.source)
                    self.solutions |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
                    self.solutions |= {
                        t.id
                        for n in tree.body
                        if isinstance(n, ast.Assign)
                        for t in n.targets
                        if hasattr(t, "id")
                    }

    def edited(self, edit):
        """The namespace of the notebook's cells run with ``edit`` planted in its solution cell."""
        namespace = {}
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in self.nb.cells:
                if cell.cell_type != "code" or is_test(cell):
                    continue
                code = (
                    edit.apply(cell.source)
                    if nbgrader_meta(cell).get("grade_id") == edit.cell
                    else cell.source
                )
                exec(compile(code, f"<{self.path.parent.name}>", "exec"), namespace)
        return namespace

    def tests(self):
        return [c for c in self.nb.cells if is_test(c)]

    def run(self, code, student=None, registered=None):
        """Run test code in a copy of the namespace, with some student names replaced; None or the error."""
        ns = dict(self.namespace)
        ns.update(student or {})
        if student:  # the mutants are this module's code: what the rules find in it is tests/test_rules.py's
            ns.update({name: lambda *a, **k: None for name in ("assert_rules", *SHORT_FORMS)})
        if registered is not None:
            ns["assert_gradient"] = recording(ns["assert_gradient"], registered)
            ns["assert_value"] = recording(ns["assert_value"], registered)
            if "Predictions" in ns:  # the setup cells that import it (unit 3's)
                ns["Predictions"] = recording_predictions(ns["Predictions"], registered)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, "<test cell>", "exec"), ns)
            except CheckFailed as failure:
                return failure
        return None


def recording(check, registered):
    def wrapper(*args, mistakes=None, **options):
        if mistakes:
            pairs = mistakes.items() if isinstance(mistakes, dict) else mistakes
            registered.update(key for key, _ in pairs)
        return check(*args, mistakes=mistakes, **options)

    return wrapper


def recording_predictions(kind, registered):
    """``Predictions``, recording the ids of the readings each ``check`` is given."""

    class Recorded(kind):
        def check(self, name, answer, expected, readings):
            registered.update(readings)
            return super().check(name, answer, expected, readings)

    return Recorded


def returning(function, calls):
    """``function``, recording what it returns."""

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        calls.append(result)
        return result

    return wrapper


def transformed(function, index, transform):
    """``function`` with its ``index``-th returned value (or its only one) transformed."""

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if isinstance(result, tuple):
            return tuple(transform(v) if i == index else v for i, v in enumerate(result))
        return transform(result)

    return wrapper


def as_tensor_transform(transform):
    """The transform applied to the value as a float64 tensor, handed back in the value's own kind."""

    def apply(value):
        if isinstance(value, torch.Tensor):
            return transform(value.detach().clone())
        if isinstance(value, (list, tuple)):
            return transform(torch.tensor(value, dtype=torch.float64)).tolist()
        return float(transform(torch.tensor(float(value), dtype=torch.float64)))

    return apply


def numeric(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, torch.Tensor)):
        return True
    try:
        torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def shape(value):
    return tuple(torch.as_tensor(value, dtype=torch.float64).shape)


def parts(code):
    """(code that runs with the right answer, code that runs with the mistake) for each part. The hidden
    part runs as in the cell: after the visible code before it, and followed by the code after it (which
    may delete the cell's helpers)."""
    pieces = segments(code)
    visible = "\n".join(piece for hidden, piece in pieces if not hidden)
    found = {"visible": ("", visible)}
    first = next((i for i, (hidden, _) in enumerate(pieces) if hidden), None)
    if first is not None:
        found["hidden"] = (
            "\n".join(piece for _, piece in pieces[:first]),
            "\n".join(piece for _, piece in pieces[first:]),
        )
    return found


def swap(student):
    """A call for test code: from here on, the student's names are the mutants."""

    def mutate():
        sys._getframe(1).f_globals.update(student)

    return mutate


CASES = [
    pytest.param(
        path, nbgrader_meta(cell)["grade_id"], id=f"{path.parent.name}-{nbgrader_meta(cell)['grade_id']}"
    )
    for path in ASSIGNMENTS
    for cell in nbformat.read(path, as_version=4).cells
    if is_test(cell)
]


@pytest.fixture(scope="module")
def exercises():
    return {path: Exercise(path) for path in ASSIGNMENTS}


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture(autouse=True)
def strict_parts(monkeypatch):
    """A failed part of a partial-credit cell fails the cell at once, so each part is proven on its own."""
    from autograder.checker import Parts

    monkeypatch.setattr(Parts, "strict", True)


# mistakes the hidden part alone names, because the visible test cannot show their wrong values without
# giving the answer away: prediction exercises keep some tie patterns for the hidden tests, and derivations
# whose wrong values, read off the visible cell, are the answer but for one obvious term. The visible part
# need not register them, and the exercise's text does not promise to name them there (that the visible
# part of unit 6's derivation still fails them is tests/test_unit06.py's)
HIDDEN_ONLY = {
    "test_nested_max_backward": {"tie_split_evenly"},  # the three-way tie
    "test_relu_max_backward": {"relu_at_zero"},  # m == z
    # the maximum node's paths, the row sum of dA: their wrong dZ are the answer but for one term
    "test_log_softmax_forward_backward": {"fork_branch_missing", "row_sum_missing"},
    # the closed form's own slips: their wrong values are the formula of the answer but for one term
    "test_predict_momentum": {"momentum_transient_ignored", "geometric_sum_off_by_one"},
}
# mistakes the visible test does not name, because the wrong values (and the code that makes them) would
# answer what the exercise asks: the visible part fails each of these mistakes all the same (it must not
# pass), and the hidden part, on the visible inputs too, names them
NAMED_WHEN_HIDDEN = {
    # the visible part names the mistakes of Unit 4, Sections 7 and 8 (the best step, the flat direction,
    # momentum left out) and the weight decay or the dampening left out (torch's step map with that setting
    # at 0); the step maps at half the loss or without the bias would show how each enters the boundary
    "test_largest_stable_lr": {
        "hessian_factor_2_missing",
        "stable_lr_bias_ignored",
        "stable_lr_momentum_ignored_damped",
    },
    # the altered graphs behind these two show the local gradient but for its last step (unit 5, exercise 8)
    "test_norm_logsumexp": {"norm_share_off", "logsumexp_share_off"},
}


def test_every_assignment_has_graded_cells():
    assert ASSIGNMENTS and CASES


@pytest.mark.parametrize("path, grade_id", CASES)
def test_each_part_tells_every_mistake_apart(exercises, path, grade_id):
    exercise = exercises[path]
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    students = sorted(free_names(cell.source) & exercise.solutions)
    functions = [name for name in students if callable(exercise.namespace[name])]
    if not functions and grade_id not in EDITS:
        assert grade_id in NOT_NUMERIC, f"{grade_id}: no student function to mutate; say why in NOT_NUMERIC"
        return
    problems = []
    for part, (right, wrong) in parts(cell.source).items():
        # with the reference solution the part passes; record what the functions return, and what it registers
        calls = {name: [] for name in functions}
        spies = {name: returning(exercise.namespace[name], calls[name]) for name in functions}
        registered = set()
        failure = exercise.run(right + "\n__mutate__()\n" + wrong, {"__mutate__": swap(spies)}, registered)
        assert failure is None, f"{grade_id} ({part}): the reference solution fails: {failure}"

        def attempt(student, ids, label, part=part, right=right, wrong=wrong, naming=True):
            failure = exercise.run(right + "\n__mutate__()\n" + wrong, {"__mutate__": swap(student)})
            if failure is None:
                problems.append(f"{part}: {label} passes: these inputs do not tell it from the right answer")
            elif naming and not any(named(key, str(failure)) for key in ids):
                problems.append(f"{part}: {label} fails without naming {sorted(ids)}:{failure}")

        for name in functions:
            results = calls[name]
            width = max((len(r) if isinstance(r, tuple) else 1 for r in results), default=0)
            for index in range(width):
                values = [r[index] if isinstance(r, tuple) else r for r in results]
                if not values or not all(numeric(v) for v in values):
                    continue
                for label, (transform, ids) in GENERIC.items():
                    if label == "transpose" and not any(len(shape(v)) == 2 for v in values):
                        continue
                    mutant = transformed(exercise.namespace[name], index, as_tensor_transform(transform))
                    attempt({name: mutant}, ids, f"{name} value #{index} {label}")
        expected = MUTANTS.get(grade_id, {})
        edits = EDITS.get(grade_id, {})
        assert registered <= set(expected) | set(edits), (
            f"{grade_id}: write a mutant for {sorted(registered - set(expected) - set(edits))}"
        )
        for key in sorted(registered & set(expected)):
            for build in expected[key]:
                (name,) = functions
                attempt({name: build(exercise.namespace)}, {key}, f"{key} ({build.__name__})")
        for key in sorted(registered & set(edits)):
            for edit in edits[key]:
                attempt(exercise.edited(edit), {key}, f"{key} (planted in {edit.cell})")
        hidden_only = HIDDEN_ONLY.get(grade_id, set()) if part == "visible" else set()
        named_later = NAMED_WHEN_HIDDEN.get(grade_id, set()) if part == "visible" else set()
        for key in sorted((set(expected) | set(edits)) - registered - hidden_only - named_later):
            problems.append(f"{part}: registers no {key!r}, though a mutant is written for it")
        for key in sorted(named_later - registered):  # it must still lose points here
            for build in expected.get(key, []):
                (name,) = functions
                attempt({name: build(exercise.namespace)}, {key}, f"{key} ({build.__name__})", naming=False)
            for edit in edits.get(key, []):
                attempt(exercise.edited(edit), {key}, f"{key} (planted in {edit.cell})", naming=False)
        if part == "visible":
            assert not registered & named_later, (
                f"{grade_id}: the visible part names {registered & named_later}"
            )
    assert not problems, f"{grade_id}:\n" + "\n".join(problems)
