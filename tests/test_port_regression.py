"""A typical PyTorch regression script (MLP, weight decay, custom init through apply,
torch.utils.data, SmoothL1/MSE losses, GELU/SiLU/LeakyReLU, eval under no_grad, save and
load) run unchanged with `import chainrule as torch`, compared step by step with PyTorch."""
import numpy as np
import pytest

import chainrule

real_torch = pytest.importorskip("torch")


def script(torch, X, Y, start, order, tmp_path, opt_name):
    """The user's script; ``torch`` is either library. Returns the per-step losses."""
    DataLoader, TensorDataset, Subset = (torch.utils.data.DataLoader,
                                         torch.utils.data.TensorDataset, torch.utils.data.Subset)
    nn = torch.nn

    class Regressor(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 16),
                                      nn.SiLU(), nn.Linear(16, 16), nn.LeakyReLU(0.1))
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            return self.head(self.body(x))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.constant_(m.bias, 0.01)

    torch.manual_seed(0)
    model = Regressor()
    model.apply(init_weights)
    model.load_state_dict({k: torch.tensor(v) for k, v in start.items()})
    data = TensorDataset(torch.tensor(X), torch.tensor(Y))
    train = Subset(data, list(range(48)))
    loader = DataLoader(train, batch_size=10, sampler=order, drop_last=False)
    if opt_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    loss_fn = nn.SmoothL1Loss(beta=0.5)
    losses = []
    for epoch in range(3):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            xb, yb = next(iter(DataLoader(Subset(data, list(range(48, 64))), batch_size=16)))
            losses.append(nn.functional.mse_loss(model(xb), yb).item())
    torch.save(model.state_dict(), str(tmp_path / f"{torch.__name__}.pt"))
    again = Regressor()
    again.load_state_dict(torch.load(str(tmp_path / f"{torch.__name__}.pt")))
    with torch.no_grad():
        losses.append(nn.functional.l1_loss(again(xb), yb).item())
    return losses


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_regression_script_matches_pytorch_step_by_step(tmp_path, opt_name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 8)).astype(np.float32)
    Y = (np.sin(X[:, :1] * 2) + 0.1 * X[:, 1:2] ** 2).astype(np.float32)
    ref = real_torch.nn.Sequential()  # the common starting point, drawn once
    real_torch.manual_seed(1)
    shapes = {"body.0": (32, 8), "body.2": (16, 32), "body.4": (16, 16), "head": (1, 16)}
    start = {}
    for name, (o, i) in shapes.items():
        lin = real_torch.nn.Linear(i, o)
        start[name + ".weight"] = lin.weight.detach().numpy().copy()
        start[name + ".bias"] = lin.bias.detach().numpy().copy()
    del ref
    order = rng.permutation(48).tolist()
    theirs = script(real_torch, X, Y, start, order, tmp_path, opt_name)
    ours = script(chainrule, X, Y, start, order, tmp_path, opt_name)
    assert len(ours) == len(theirs) == 3 * 5 + 3 + 1
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=1e-6)
    assert np.mean(ours[12:17]) < np.mean(ours[0:5])  # training loss fell
