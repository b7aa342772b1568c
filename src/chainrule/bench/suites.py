"""Layer suites for ``python -m chainrule bench conv --suite resnet|vgg|speech|googlenet|groups|all``
(issue 14): the convolution layers of real networks, forward + backward (dx, dw, db),
chainrule vs PyTorch, per layer: times, PyTorch's time / chainrule's (> 1: chainrule
faster), chainrule's GFLOP/s and % of this CPU's peak.

A layer is (name, N, C, K, (H, W), (R, S), stride, padding, groups). ResNet-18/50 and
VGG-16 layers at batch 8 on 224x224 images (every stage, 3x3 and 1x1, stride 1 and 2);
GoogLeNet's 5x5 layers with 192+ input channels; speech front-ends with non-square
kernels (20x5, 10x5) and stride 2; depthwise (MobileNet) and grouped (ResNeXt) layers.
``--quick`` runs every layer at batch 1 with a short time budget.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ._util import IDLE, quiesce, table, try_torch

SUITES = {
    "resnet": [
        ("ResNet conv1 7x7 s2", 8, 3, 64, (224, 224), (7, 7), 2, 3, 1),
        ("ResNet-18 layer1 3x3", 8, 64, 64, (56, 56), (3, 3), 1, 1, 1),
        ("ResNet-18 layer2 3x3 s2", 8, 64, 128, (56, 56), (3, 3), 2, 1, 1),
        ("ResNet-18 layer2 3x3", 8, 128, 128, (28, 28), (3, 3), 1, 1, 1),
        ("ResNet-18 layer2 down 1x1 s2", 8, 64, 128, (56, 56), (1, 1), 2, 0, 1),
        ("ResNet-18 layer3 3x3 s2", 8, 128, 256, (28, 28), (3, 3), 2, 1, 1),
        ("ResNet-18 layer3 3x3", 8, 256, 256, (14, 14), (3, 3), 1, 1, 1),
        ("ResNet-18 layer4 3x3 s2", 8, 256, 512, (14, 14), (3, 3), 2, 1, 1),
        ("ResNet-18 layer4 3x3", 8, 512, 512, (7, 7), (3, 3), 1, 1, 1),
        ("ResNet-50 stage1 1x1 64->64", 8, 64, 64, (56, 56), (1, 1), 1, 0, 1),
        ("ResNet-50 stage1 1x1 64->256", 8, 64, 256, (56, 56), (1, 1), 1, 0, 1),
        ("ResNet-50 stage1 1x1 256->64", 8, 256, 64, (56, 56), (1, 1), 1, 0, 1),
        ("ResNet-50 stage2 3x3 s2", 8, 128, 128, (56, 56), (3, 3), 2, 1, 1),
        ("ResNet-50 stage2 1x1 128->512", 8, 128, 512, (28, 28), (1, 1), 1, 0, 1),
        ("ResNet-50 stage2 down 1x1 s2", 8, 256, 512, (56, 56), (1, 1), 2, 0, 1),
        ("ResNet-50 stage3 3x3", 8, 256, 256, (14, 14), (3, 3), 1, 1, 1),
        ("ResNet-50 stage3 1x1 256->1024", 8, 256, 1024, (14, 14), (1, 1), 1, 0, 1),
        ("ResNet-50 stage3 1x1 1024->256", 8, 1024, 256, (14, 14), (1, 1), 1, 0, 1),
        ("ResNet-50 stage4 3x3", 8, 512, 512, (7, 7), (3, 3), 1, 1, 1),
        ("ResNet-50 stage4 1x1 2048->512", 8, 2048, 512, (7, 7), (1, 1), 1, 0, 1),
        ("ResNet-50 stage4 down 1x1 s2", 8, 1024, 2048, (14, 14), (1, 1), 2, 0, 1),
    ],
    "vgg": [
        ("VGG-16 conv1_1", 8, 3, 64, (224, 224), (3, 3), 1, 1, 1),
        ("VGG-16 conv1_2", 8, 64, 64, (224, 224), (3, 3), 1, 1, 1),
        ("VGG-16 conv2_1", 8, 64, 128, (112, 112), (3, 3), 1, 1, 1),
        ("VGG-16 conv2_2", 8, 128, 128, (112, 112), (3, 3), 1, 1, 1),
        ("VGG-16 conv3_1", 8, 128, 256, (56, 56), (3, 3), 1, 1, 1),
        ("VGG-16 conv3_2", 8, 256, 256, (56, 56), (3, 3), 1, 1, 1),
        ("VGG-16 conv4_1", 8, 256, 512, (28, 28), (3, 3), 1, 1, 1),
        ("VGG-16 conv4_2", 8, 512, 512, (28, 28), (3, 3), 1, 1, 1),
        ("VGG-16 conv5_x", 8, 512, 512, (14, 14), (3, 3), 1, 1, 1),
    ],
    "googlenet": [
        ("GoogLeNet 5x5 192->32", 16, 192, 32, (28, 28), (5, 5), 1, 2, 1),
        ("GoogLeNet 5x5 480->48", 8, 480, 48, (14, 14), (5, 5), 1, 2, 1),
        ("GoogLeNet 5x5 832->128", 8, 832, 128, (7, 7), (5, 5), 1, 2, 1),
    ],
    "speech": [
        ("speech 20x5 s2 1->32", 4, 1, 32, (161, 200), (20, 5), 2, 0, 1),
        ("speech 10x5 s2 32->32", 4, 32, 32, (341, 79), (10, 5), 2, 0, 1),
        ("speech 10x5 s2 32->64", 4, 32, 64, (76, 98), (10, 5), 2, 0, 1),
    ],
    "groups": [
        ("MobileNet dw 3x3 32ch 112x112", 8, 32, 32, (112, 112), (3, 3), 1, 1, 32),
        ("MobileNet dw 3x3 s2 128ch", 8, 128, 128, (56, 56), (3, 3), 2, 1, 128),
        ("MobileNet dw 3x3 512ch 14x14", 8, 512, 512, (14, 14), (3, 3), 1, 1, 512),
        ("ResNeXt 3x3 128 g32", 8, 128, 128, (56, 56), (3, 3), 1, 1, 32),
        ("ResNeXt 3x3 256 g32", 8, 256, 256, (28, 28), (3, 3), 1, 1, 32),
    ],
}
SUITE_NAMES = list(SUITES) + ["all"]


def layers(suite: str, quick: bool = False):
    """The layers of ``suite`` ("all": every suite); batch 1 when quick."""
    names = list(SUITES) if suite == "all" else [suite]
    out = [layer for s in names for layer in SUITES[s]]
    return [(n, 1 if quick else N, *rest) for n, N, *rest in out]


def out_size(H, R, stride, pad):
    return (H + 2 * pad - R) // stride + 1


def flops(N, C, K, hw, rs, stride, pad, groups) -> float:
    """Forward + dx + dw multiply-adds x 2 (3 x 2*N*K*P*Q*(C/groups)*R*S)."""
    P, Q = out_size(hw[0], rs[0], stride, pad), out_size(hw[1], rs[1], stride, pad)
    return 3.0 * 2 * N * K * P * Q * (C // groups) * rs[0] * rs[1]


def best_time(fn, budget: float, min_calls: int = 2) -> float:
    """Minimum wall time of one call over about ``budget`` seconds, after IDLE seconds
    without calls (no other library's threads still spinning) and a warm-up call."""
    quiesce()
    fn()
    best, spent, calls = float("inf"), 0.0, 0
    while calls < min_calls or spent < budget:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent, calls = min(best, dt), spent + dt, calls + 1
    return best


def time_layer(layer, torch, budget: float):
    """(chainrule seconds, PyTorch seconds or None) for one forward + backward."""
    from chainrule import ops

    _, N, C, K, hw, rs, stride, pad, groups = layer
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C) + tuple(hw)).astype(np.float32)
    w = (rng.standard_normal((K, C // groups) + tuple(rs)) * 0.1).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    y = ops.conv2d_forward(x, w, b, stride, pad, 1, groups)
    dy = rng.standard_normal(y.shape).astype(np.float32)

    def ours():
        ops.conv2d_forward(x, w, b, stride, pad, 1, groups)
        ops.conv2d_backward(dy, x, w, stride, pad, 1, groups)

    t_cr = best_time(ours, budget)
    if torch is None:
        return t_cr, None
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdy = torch.tensor(dy)

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, stride, pad, 1, groups).backward(tdy)

    t_th = best_time(theirs, budget)
    return t_cr, t_th


def run_conv(suite: str, threads: int = 2, quick: bool = False) -> str:
    import chainrule as cr
    from chainrule import _runtime
    from .gemm import clock_mhz, peak_gflops

    if suite not in SUITE_NAMES:
        raise ValueError(f"bench conv: unknown suite {suite!r}; choose from {SUITE_NAMES}")
    cr.set_num_threads(threads)
    torch = try_torch(threads)
    mhz, how = clock_mhz()
    peak = peak_gflops(_runtime.isa(), "float32", threads, mhz)
    budget = 0.05 if quick else 0.5
    rows, speedups = [], []
    for layer in layers(suite, quick):
        name, N, C, K, hw, rs, stride, pad, groups = layer
        t_cr, t_th = time_layer(layer, torch, budget)
        g = flops(N, C, K, hw, rs, stride, pad, groups) / t_cr / 1e9
        if t_th is not None:
            speedups.append(t_th / t_cr)
        rows.append([name, f"N={N} {C}->{K} {hw[0]}x{hw[1]} k{rs[0]}x{rs[1]} s{stride} "
                           f"p{pad}" + (f" g{groups}" if groups > 1 else ""),
                     f"{t_cr * 1e3:.3f}", "-" if t_th is None else f"{t_th * 1e3:.3f}",
                     "-" if t_th is None else f"{t_th / t_cr:.2f}", f"{g:.1f}",
                     "-" if not peak else f"{100 * g / peak:.0f}%"])
    out = [f"### conv2d forward + backward, suite {suite}, float32, {threads} threads"
           f"{' (quick: batch 1)' if quick else ''}", "",
           table(["layer", "shape", "chainrule ms", "torch ms", "speed-up (torch/chainrule)",
                  "GFLOP/s", "% of peak"], rows), ""]
    if speedups:
        gm = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        out.append(f"speed-up: geometric mean {gm:.2f}, min {min(speedups):.2f}, "
                   f"{sum(s < 1 for s in speedups)} of {len(speedups)} layers slower than "
                   f"PyTorch (issue 14's bars: every layer >= 1.0, geometric mean >= 1.3).")
    out.append(f"Method: per layer the best single call of forward + backward (dx, dw, db) "
               f"over {budget} s, chainrule then PyTorch with {IDLE} s idle between them so "
               f"that neither pays for the other's spinning OpenMP threads. GFLOP/s = "
               f"3 x 2*N*K*P*Q*(C/groups)*R*S / time; peak = {threads} cores x "
               f"{'?' if mhz is None else f'{mhz:.0f}'} MHz ({how}) x FLOP/cycle of the "
               f"{_runtime.isa()} path.")
    return "\n".join(out)
