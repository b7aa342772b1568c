"""The measured FMA peak (chainrule._runtime.fma_peak_gflops) behind bench gemm's "% of FMA peak"."""
import pytest

from chainrule import _runtime


@pytest.fixture(params=["avx512", "avx2", "generic"])
def isa(request):
    if request.param != "generic" and _runtime.isa_detected() not in (
            ("avx512", "avx2") if request.param == "avx2" else ("avx512",)):
        pytest.skip(f"CPU has no {request.param}")
    _runtime.set_isa(request.param)
    yield request.param
    _runtime.set_isa(None)


def test_fma_peak_is_plausible(isa):
    one = _runtime.fma_peak_gflops("float32", 1)
    if isa == "generic":
        assert one == 0.0  # no probe without a vector FMA level
        return
    lanes = 16 if isa == "avx512" else 8
    # 2 FMA pipes x lanes x 2 FLOP at 0.3..10 GHz (a preempted run only reads low; best of 7)
    assert 0.3 * 2 * lanes * 2 < one < 10.0 * 2 * lanes * 2
    f64 = _runtime.fma_peak_gflops("float64", 1)
    assert 0.3 * 2 * lanes < f64 < 10.0 * 2 * lanes
    two = _runtime.fma_peak_gflops("float32", 2)
    assert 0.3 * 2 * lanes * 2 < two < 2 * 10.0 * 2 * lanes * 2
    # float64 has half the lanes: about half the FLOP/s of the same loop (the best of a few
    # tries of each, since a busy machine preempts some runs)
    for _ in range(5):
        one = max(one, _runtime.fma_peak_gflops("float32", 1))
        f64 = max(f64, _runtime.fma_peak_gflops("float64", 1))
        if 0.35 * one < f64 < 0.65 * one:
            break
    assert 0.35 * one < f64 < 0.65 * one


def test_fma_peak_bad_arguments():
    with pytest.raises(ValueError, match="fma_peak_gflops: dtype"):
        _runtime.fma_peak_gflops("int8", 1)
    with pytest.raises(ValueError, match="fma_peak_gflops: threads"):
        _runtime.fma_peak_gflops("float32", 0)
