"""Numerical hygiene: cr.detect_anomaly() and stability of softmax/log-softmax/BCE at +-1e4."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def test_forward_nan_is_reported_with_the_op_name():
    x = cr.tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    with cr.detect_anomaly():
        y = x * 2.0                                   # fine
        with pytest.raises(cr.AnomalyError, match="forward of 'log'.*NaN"):
            y.log()                                   # log(-2) = NaN
    # outside the context the same op silently gives NaN, like NumPy
    with np.errstate(invalid="ignore"):
        assert np.isnan(y.log().data).any()


def test_forward_inf_is_reported():
    x = cr.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match="'truediv'.*inf"):
        with np.errstate(divide="ignore"):
            1.0 / x


def test_backward_nan_is_reported_with_the_op_name():
    # sqrt is finite at 0 but its gradient 1/(2 sqrt(0)) is inf
    x = cr.tensor(np.array([0.0, 4.0]), requires_grad=True)
    with cr.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(cr.AnomalyError, match="backward of 'sqrt'"):
            with np.errstate(divide="ignore"):
                y.backward()


def test_detect_anomaly_is_silent_on_finite_graphs_and_restores_state():
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    with cr.detect_anomaly():
        loss = F.cross_entropy(net(x), np.arange(7) % 3)
        loss.backward()
    assert np.isfinite(net[0].weight.grad).all()
    with np.errstate(invalid="ignore"):
        cr.tensor(np.array([-1.0]), requires_grad=True).log()  # no error after the block


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_stable_at_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype)
    x = cr.tensor(logits, requires_grad=True)
    with cr.detect_anomaly():
        p = F.softmax(x, 1)
        lp = F.log_softmax(x, 1)
        loss = F.cross_entropy(x, np.array([1, 2])) + lp.sum() * 0 + p.sum() * 0
        loss.backward()
    np.testing.assert_allclose(p.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(lp.data[0], [0, -2e4, -1e4], rtol=1e-6)
    assert np.isfinite(loss.data) and np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_family_stable_at_1e4(dtype):
    z = cr.tensor(np.array([1e4, -1e4, 0.0], dtype), requires_grad=True)
    t = np.array([0.0, 1.0, 1.0], dtype)
    with cr.detect_anomaly():
        loss = F.binary_cross_entropy_with_logits(z, t, reduction="sum")
        loss.backward()
    np.testing.assert_allclose(loss.item(), 2e4 + np.log(2), rtol=1e-6)
    assert np.isfinite(z.grad).all()
    # BCE on probabilities clamps its logs at -100 like PyTorch
    p = cr.tensor(np.array([1.0, 0.0], dtype), requires_grad=True)
    with cr.detect_anomaly():
        loss = F.binary_cross_entropy(p, np.array([0.0, 1.0], dtype), reduction="sum")
    np.testing.assert_allclose(loss.item(), 200.0, rtol=1e-6)
