"""pytest-benchmark: one full training step (forward, backward, SGD with momentum) of the
issue-5 models, chainrule vs the same model in PyTorch vs a hand-written NumPy step.

Every case is small enough that `pytest --benchmark-disable` runs it once as a smoke test;
the headline table (with ratios, interleaved timing) is `python -m chainrule bench train`
(chainrule/bench/train.py).
"""
import numpy as np
import pytest

from chainrule.bench.train import (CASES, CNNS, build_chainrule, build_torch, chainrule_step,
                                   numpy_step, torch_step)


pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


@pytest.mark.parametrize("name", list(CASES))
def test_train_step_chainrule(benchmark, name):
    benchmark.group = f"train step {name}"
    step, _ = chainrule_step(name)
    first = float(step().item())
    loss = benchmark(step)
    assert np.isfinite(first) and np.isfinite(loss.item())


@pytest.mark.parametrize("name", list(CASES))
def test_train_step_torch(benchmark, name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"train step {name}"
    step, _ = torch_step(torch, name)
    assert np.isfinite(benchmark(step).item())


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][0] in ("mlp", "tiny")])
def test_train_step_numpy(benchmark, name):
    benchmark.group = f"train step {name}"
    benchmark(numpy_step(name))


@pytest.mark.parametrize("name", list(CASES))
def test_chainrule_and_torch_steps_agree(name):
    """The benchmarked models are the same model: with torch's initial weights, two
    chainrule steps give torch's losses and parameters (the CNNs in float64: in float32
    their rounding differences grow through the batch norms, ~1e-3 in MobileNet's loss
    after one step with either library's kernels)."""
    torch = pytest.importorskip("torch")
    cnn = CASES[name][0] in CNNS
    model, loss_fn, opt, x, y = build_chainrule(name, double=cnn)
    tmodel, tloss_fn, topt, _, _ = build_torch(torch, name, double=cnn)
    params, tparams = list(model.parameters()), list(tmodel.parameters())
    assert [p.shape for p in params] == [tuple(t.shape) for t in tparams]
    for p, t in zip(params, tparams):
        p.data[...] = t.detach().numpy()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(2):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = tloss_fn(tmodel(tx), ty)
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-4 if not cnn else 1e-10,
                                   atol=1e-5 if not cnn else 1e-12)
    for i, (p, t) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-4 if not cnn else 1e-9,
                                   atol=1e-5 if not cnn else 1e-11, err_msg=f"param {i}")


def test_bench_train_table_smoke():
    """`python -m chainrule bench train` builds its table (one row per model)."""
    from chainrule.bench import train as bench_train
    text = bench_train.run(threads=1, quick=True)
    rows = [ln for ln in text.splitlines()
            if ln.startswith("| ") and ln.split("|")[1].strip() != "model"]
    assert len(rows) == len(CASES)
    for name, row in zip(CASES, rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == name and float(cells[1]) > 0 and float(cells[6]) > 0
        assert cells[8].endswith(("met", "?"))


def test_bench_train_bar_cells():
    from chainrule.bench.train import BARS, bar_cell
    assert set(BARS) == set(CASES)
    assert bar_cell("MLP 784-256-256-10 b16", 1.0, 2.0) == "<= 0.5x torch: met"
    assert bar_cell("LeNet-5 1x28x28 b64", 1.1, 2.0) == "<= 0.5x torch: NOT met"
    assert bar_cell("MLP 784-256-256-10 b128", 1.0, None) == "<= 1.0x torch: ?"
    assert bar_cell("2-2-1 sigmoid MSE b4", 99e-6, None) == "< 100 us: met"
    assert bar_cell("2-2-1 sigmoid MSE b4", 101e-6, None) == "< 100 us: NOT met"
