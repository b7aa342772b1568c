"""A small MLP regression with custom initialisation and weight decay, and the
"manual SGD" loop of PyTorch's tutorial (autograd + ``torch.no_grad()`` updates), written
as a PyTorch user would and run on chainrule.

    python examples/regression_mlp.py
"""
import argparse
import math

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.utils.data import DataLoader, TensorDataset


def make_data(n, n_features=8, seed=0):
    """(x, y): y = sin(x @ w) + 0.5 * x_0^2 + noise, as float32 tensors; y is (n, 1)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features) / math.sqrt(n_features)
    x = rng.uniform(-1, 1, (n, n_features))
    y = np.sin(x @ w) + 0.5 * x[:, 0] ** 2 + 0.05 * rng.standard_normal(n)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y[:, None].astype(np.float32))


def init_weights(m):
    if isinstance(m, nn.Linear):
        torch.nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)


def make_model(n_features=8, hidden=32):
    model = nn.Sequential(
        nn.Linear(n_features, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
    )
    model.apply(init_weights)
    return model


def train(model, loader, optimizer, criterion, epochs):
    losses = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def fit_polynomial(x, y, w, steps, learning_rate=1e-6):
    """The tutorial's manual loop: y ~ w0 + w1 x + w2 x^2 + w3 x^3 by plain gradient
    descent on a leaf tensor ``w`` (requires_grad=True), updated under no_grad."""
    losses = []
    for t in range(steps):
        y_pred = w[0] + w[1] * x + w[2] * x ** 2 + w[3] * x ** 3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w -= learning_rate * w.grad
            w.grad.zero_()
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description="MLP regression and manual SGD")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    x, y = make_data(512, seed=args.seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = make_model()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    criterion = nn.MSELoss()
    losses = train(model, loader, optimizer, criterion, args.epochs)
    with torch.no_grad():
        mse = criterion(model(x), y).item()
    print(f"MLP: first batch loss {losses[0]:.4f}, final training MSE {mse:.4f}")

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    w = torch.randn(4, requires_grad=True)
    poly = fit_polynomial(x, y, w, args.steps)
    print(f"polynomial: loss {poly[0]:.1f} -> {poly[-1]:.3f}; "
          f"y = {w[0].item():.3f} + {w[1].item():.3f} x + {w[2].item():.3f} x^2 + "
          f"{w[3].item():.3f} x^3")
    return mse, poly[-1]


if __name__ == "__main__":
    main()
