"""chainrule.distributed and DistributedDataParallel: 2-rank jobs launched with mpiexec
(programs in tests/dist_worker.py), plus the single-process parts (sampler, engine hooks)."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.distributed import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, "mpi4py is not installed (pip install 'chainrule[dist]')"
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        return None, "mpiexec is not on PATH (pip install 'chainrule[dist]' provides one)"
    return exe, ""


MPIEXEC, WHY = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason=WHY)


def mpirun(args, n=2, timeout=240, env=None):
    cmd = [MPIEXEC, "-n", str(n)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd += ["--allow-run-as-root"]
    cmd += ["--oversubscribe", sys.executable] + list(args)
    full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    return r, time.monotonic() - t0


def worker(scenario, **kw):
    return mpirun([os.path.join(HERE, "dist_worker.py"), scenario], **kw)


# ---- multi-rank (mpiexec) -------------------------------------------------------------------
@needs_mpi
def test_two_ranks_match_one_rank_mlp_cnn_rnn_sgd_adam_with_and_without_no_sync():
    r, _ = worker("equivalence")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK equivalence float64" in r.stdout


@needs_mpi
def test_two_ranks_match_one_rank_in_float32_within_the_stated_tolerance():
    # MLP, LeNet-5, RNN, LSTM, eval-mode batch norm; SGD 1e-6, Adam 3e-5 (see dist_worker.py)
    r, _ = worker("equivalence32")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK equivalence float32" in r.stdout


@needs_mpi
def test_training_mode_batch_norm_has_pytorch_ddp_semantics():
    # per-rank batch statistics, averaged gradients, buffers broadcast from rank 0 before
    # every forward: equal to a one-process simulation of that, to 1e-12
    r, _ = worker("batchnorm")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK batchnorm" in r.stdout


@needs_mpi
def test_fit_sequence_distributed_tbptt_matches_one_process_and_resumes():
    r, _ = worker("sequence")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK sequence" in r.stdout


def test_fit_sequence_distributed_needs_a_process_group():
    from chainrule import models, nn, optim, train
    m = models.SequenceRegressor(1, 3, 1)
    x = np.zeros((4, 2, 1), np.float32)
    with pytest.raises(RuntimeError, match="init_process_group"):
        train.fit_sequence(m, (x, x), nn.MSELoss(), optim.SGD(m.parameters(), lr=0.1),
                           distributed=True, progress=False)


@needs_mpi
def test_first_bucket_allreduce_starts_before_backward_finishes():
    r, _ = worker("overlap")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK overlap" in r.stdout


@needs_mpi
def test_killed_rank_ends_the_job_within_60s_naming_the_rank():
    r, seconds = worker("kill", timeout=120, env={"DIST_TIMEOUT": "30"})
    assert r.returncode != 0
    assert seconds < 60
    assert "NOT KILLED" not in r.stdout
    assert "rank 1" in r.stdout + r.stderr


@needs_mpi
def test_collective_timeout_aborts_the_job_with_the_rank_named():
    r, seconds = worker("hang", env={"DIST_TIMEOUT": "2"})
    assert r.returncode != 0
    assert seconds < 25  # the silent rank sleeps 30 s: the watchdog ended the job first
    assert "chainrule.distributed: rank 0: all_reduce" in r.stderr


@needs_mpi
def test_ranks_with_different_models_fail_at_construction():
    r, _ = worker("shapes")
    assert r.returncode != 0
    assert "rank 1 has a model different from rank 0's" in r.stderr


@needs_mpi
def test_bench_dist_runs_both_configurations_and_reports_ratio_and_bandwidth():
    from chainrule.bench import dist as bench_dist
    text = bench_dist.run(threads=2, quick=True)  # tiny sizes: only that it runs
    lines = text.splitlines()
    for name in bench_dist.CASES:
        row = [ln for ln in lines if ln.lstrip("| ").startswith(name)]
        assert len(row) == 1, text
        cells = [c.strip() for c in row[0].strip("|").split("|")]
        one, two, ratio = float(cells[1]), float(cells[2]), float(cells[3])
        rounding = (two / one) * (0.5 / one + 0.5 / two) + 0.005  # the rates print as ints
        assert one > 0 and two > 0 and abs(ratio - two / one) <= rounding, text
        assert "0.85x" in cells[4]
    assert "1 rank x 2 threads" in text and "2 ranks x 1 thread" in text
    assert "bus bandwidth GB/s" in text and "0.25 MB float32" in text
    for cfg in ("1 rank x 2 threads", "2 ranks x 1 thread"):  # the per-step phases
        rows = [ln for ln in lines if ln.lstrip("| ").startswith(cfg)]
        assert len(rows) == len(bench_dist.CASES), text
        for row in rows:
            ms = [float(c) for c in row.strip("|").split("|")[2:]]
            assert len(ms) == 3 and all(v > 0 for v in ms), row
    assert "placement (2 ranks): rank 0: cores" in text and "rank 1: cores" in text


# ---- single process ---------------------------------------------------------------------------
def test_not_initialized_is_a_clear_error():
    import chainrule.distributed as dist
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (7, 2, False),
                                                   (2, 4, False), (12, 4, True), (1, 1, False)])
def test_sampler_shards_are_disjoint_padded_like_pytorch(n, replicas, drop_last):
    data = list(range(n))
    shards = [list(DistributedSampler(data, replicas, r, shuffle=False, drop_last=drop_last))
              for r in range(replicas)]
    per = n // replicas if (drop_last and n % replicas) else -(-n // replicas)
    assert all(len(s) == per for s in shards)
    flat = [i for pos in range(per) for s in shards for i in [s[pos]]]
    expect = list(range(n)) * (-(-per * replicas // n)) if per * replicas > n else list(range(n))
    assert flat == expect[:per * replicas]
    torch = pytest.importorskip("torch.utils.data")
    for r in range(replicas):
        ts = torch.DistributedSampler(data, replicas, r, shuffle=False, drop_last=drop_last)
        assert shards[r] == list(ts)


def test_sampler_shuffle_depends_on_seed_and_epoch_same_for_every_rank():
    data = list(range(50))
    a0, a1 = DistributedSampler(data, 2, 0, seed=3), DistributedSampler(data, 2, 1, seed=3)
    e0 = list(a0) + list(a1)
    assert sorted(e0) == data
    a0.set_epoch(1)
    a1.set_epoch(1)
    e1 = list(a0) + list(a1)
    assert sorted(e1) == data and e1 != e0
    assert list(DistributedSampler(data, 2, 0, seed=4)) != list(DistributedSampler(data, 2, 0,
                                                                                    seed=3))
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(data, 2, 2)


def test_post_accumulate_grad_hook_fires_once_after_all_contributions():
    w = cr.tensor(np.arange(3.0), dtype=np.float64, requires_grad=True)
    u = cr.tensor(np.ones(3), dtype=np.float64, requires_grad=True)
    seen, order = [], []
    h = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.array.copy()))
    from chainrule.autograd import engine

    def go():
        engine.queue_callback(lambda: order.append("done"))
        y = (w * w).sum() + (w * u).sum() + (w * 3).sum()  # three uses of w
        y.backward()
    go()
    assert len(seen) == 1 and np.array_equal(seen[0], 2 * np.arange(3.0) + 1 + 3)
    assert order == ["done"]
    h.remove()
    go()
    assert len(seen) == 1 and order == ["done", "done"]
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


@needs_mpi
def test_cli_distributed_reaches_one_process_accuracy_and_resumes(tmp_path):
    def acc(text):
        return float(text.strip().splitlines()[-1].split()[-1].rstrip("%"))
    base = ["-m", "chainrule", "train", "--model", "mlp", "--no-progress"]
    one = subprocess.run([sys.executable] + base + ["--epochs", "3", "--out",
                                                    str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr
    two, _ = mpirun(base + ["--epochs", "2", "--distributed", "--out", str(tmp_path / "two")])
    assert two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("training mlp") == 1  # rank 0 alone prints
    two, _ = mpirun(base + ["--epochs", "3", "--distributed", "--resume", "--force", "--out",
                            str(tmp_path / "two")])
    assert two.returncode == 0, two.stdout + two.stderr
    assert "resuming" in two.stdout
    assert abs(acc(two.stdout) - acc(one.stdout)) <= 1.0, (one.stdout, two.stdout)
    import json
    with open(tmp_path / "two" / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["ranks"] == 2 and len(metrics["history"]) == 3


@needs_mpi
def test_gradients_are_bucket_views_and_held_gradients_never_change():
    r, _ = worker("views")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK views" in r.stdout


def test_scaling_model_matches_a_hand_computed_case():
    from chainrule.bench import dist as bench_dist
    # 1 MB over 4 ranks at 1 GB/s and 10 us: 2*3/4 * 1e6 / 1e9 + 2*3 * 1e-5 = 1.56 ms
    ring = bench_dist.ring_allreduce_seconds(1e6, 4, 1e9, 1e-5)
    assert ring == pytest.approx(1.56e-3, rel=1e-12)
    assert bench_dist.ring_allreduce_seconds(1e6, 1, 1e9, 1e-5) == 0.0
    # step: 0.2 ms fixed + 32 x 0.1 ms + 1.56 ms = 4.96 ms; one rank: 3.4 ms
    args = (1e-4, 2e-4, 32, 1e6)
    assert bench_dist.step_seconds(*args, 4, 1e9, 1e-5) == pytest.approx(4.96e-3, rel=1e-12)
    assert bench_dist.speedup(*args, 4, 1e9, 1e-5) == pytest.approx(4 * 3.4 / 4.96, rel=1e-12)
    assert bench_dist.speedup(*args, 1, 1e9, 1e-5) == 1.0
    # 50% efficiency needs compute >= allreduce: 0.2 ms + b x 0.1 ms >= 1.56 ms -> b = 14
    assert bench_dist.min_batch(1e-4, 2e-4, 1e6, 4, 1e9, 1e-5) == 14
    assert bench_dist.speedup(1e-4, 2e-4, 14, 1e6, 4, 1e9, 1e-5) >= 2.0
    assert bench_dist.speedup(1e-4, 2e-4, 13, 1e6, 4, 1e9, 1e-5) < 2.0
    # 75%: compute >= 3 x allreduce = 4.68 ms -> b = 45
    assert bench_dist.min_batch(1e-4, 2e-4, 1e6, 4, 1e9, 1e-5, efficiency=0.75) == 45


def test_scaling_report_prints_every_model_network_and_rank_count():
    from chainrule.bench import dist as bench_dist
    text = bench_dist.scaling_main(measure=False)
    for name in bench_dist.SCALING_MODELS:
        assert name in text
    for net in list(bench_dist.NETWORKS) + ["shared memory"]:
        assert text.count(net) == len(bench_dist.SCALING_MODELS), net
    assert "p=64" in text and "batch for 50% at p=16 / 64" in text
    # the p=1 cell is the calibrated compute time with speed-up 1.0x
    per_sample, fixed, _ = bench_dist.CALIBRATION["MLP 784-256-256-10"]
    one = (fixed + 64 * per_sample) * 1e3
    assert f"{one:.2f} ms 1.0x" in text


@needs_mpi
def test_a_parameter_unused_on_one_rank_keeps_the_buckets_in_order():
    r, _ = worker("unused")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK unused" in r.stdout
