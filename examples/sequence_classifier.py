"""An LSTM / GRU sequence classifier, written as a PyTorch user would, run on chainrule.

The task is synthetic (so the script needs no download): each sequence has 12 steps of 3
features; its class is the feature whose sum over time is the largest. The model is a
batch-first ``nn.LSTM`` (or ``nn.GRU`` with ``--cell gru``) whose last output goes through
a linear head; training uses Adam, cross-entropy, gradient clipping and a cosine schedule.

    python examples/sequence_classifier.py --cell gru --epochs 5
"""
import argparse

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.utils.data import DataLoader, TensorDataset


def make_data(n, seq_len=12, n_features=3, seed=0):
    """(x, y): x (n, seq_len, n_features) float32, y (n,) int64 class labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, seq_len, n_features)).astype(np.float32)
    y = x.sum(axis=1).argmax(axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm", num_layers=1):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out, _ = self.rnn(x)          # out: (batch, seq, hidden)
        return self.head(out[:, -1, :])


def train_epoch(model, loader, optimizer, criterion, clip=1.0):
    model.train()
    losses = []
    for x, y in loader:
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, loader, criterion):
    model.eval()
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total += criterion(logits, y).item() * x.size(0)
            correct += (logits.argmax(dim=1) == y).sum().item()
            n += y.shape[0]
    return total / n, correct / n


def main(argv=None):
    parser = argparse.ArgumentParser(description="LSTM/GRU sequence classifier")
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x_train, y_train = make_data(1024, seed=args.seed)
    x_test, y_test = make_data(256, seed=args.seed + 1)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                              shuffle=True)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=256)

    model = SequenceClassifier(x_train.size(-1), args.hidden, 3, cell=args.cell)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    for epoch in range(1, args.epochs + 1):
        losses = train_epoch(model, train_loader, optimizer, criterion)
        test_loss, acc = evaluate(model, test_loader, criterion)
        scheduler.step()
        print(f"epoch {epoch}: train loss {sum(losses) / len(losses):.4f}  "
              f"test loss {test_loss:.4f}  accuracy {acc:.3f}  lr {scheduler.get_last_lr()[0]:.5f}")
    return model, (test_loss, acc)


if __name__ == "__main__":
    main()
