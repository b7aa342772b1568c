"""nn.Module API against PyTorch: containers, traversal, apply, buffers, hooks, reprs,
tied parameters in state dicts."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _pair(build):
    """The same architecture in both libraries (build(nn_module) -> model)."""
    return build(nn), build(tnn)


def _net(m):
    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.blocks = m.ModuleList([m.Linear(3, 4), m.ReLU(), m.Linear(4, 4)])
            self.heads = m.ModuleDict({"a": m.Linear(4, 2), "b": m.Identity()})
            self.scales = m.ParameterList([m.Parameter(torch.ones(2) if m is tnn
                                                       else np.ones(2, np.float32))])
            self.register_buffer("steps", torch.zeros(3) if m is tnn
                                 else np.zeros(3, np.float32))
            self.register_buffer("tmp", torch.zeros(1) if m is tnn
                                 else np.zeros(1, np.float32), persistent=False)
    return Net()


def test_traversal_and_state_dict_keys_match_torch():
    ours, theirs = _pair(_net)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert len(list(ours.children())) == len(list(theirs.children()))
    assert len(list(ours.buffers())) == 2 and isinstance(ours.steps, cr.Tensor)
    sd = {k: torch.from_numpy(np.asarray(v)) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_array_equal(a, b.numpy())
    assert ours.get_submodule("heads.a") is ours.heads["a"]
    assert ours.get_parameter("blocks.0.bias") is ours.blocks[0].bias


def test_containers_behave_like_lists_and_dicts():
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Linear(2, 2)).extend([nn.Tanh()])
    ml.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Sigmoid", "ReLU", "Linear", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    assert type(ml[-1]).__name__ == "Tanh"
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2"] and type(ml[0]).__name__ == "ReLU"
    assert list(ml.state_dict()) == ["1.weight", "1.bias"]
    assert type(ml.pop(0)).__name__ == "ReLU" and len(ml) == 2
    with pytest.raises(TypeError, match="ModuleList.append: expected an nn.Module"):
        ml.append(3)
    with pytest.raises(IndexError, match="ModuleList: index 5"):
        ml[5]
    md = nn.ModuleDict([("x", nn.ReLU())])
    md["y"] = nn.Linear(1, 1)
    assert "y" in md and list(md.keys()) == ["x", "y"] and len(md) == 2
    assert list(md.state_dict()) == ["y.weight", "y.bias"]
    md.pop("x")
    assert list(md) == ["y"]
    pl = nn.ParameterList([np.zeros(2, np.float32), cr.tensor([1.0])])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(list(pl.parameters())) == 2
    pd = nn.ParameterDict({"w": nn.Parameter(np.ones(3, np.float32))})
    pd["b"] = np.zeros(1, np.float32)
    assert list(pd.state_dict()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    tpl = tnn.ParameterList([tnn.Parameter(torch.zeros(2)), tnn.Parameter(torch.ones(1))])
    assert repr(pl) == repr(tpl).replace("torch.", "chainrule.")
    assert repr(nn.Identity()) == "Identity()"


def test_apply_custom_init_and_requires_grad():
    ours, theirs = _pair(lambda m: m.Sequential(m.Linear(3, 4), m.ReLU(), m.Linear(4, 2)))
    seen = []

    def init(mod):
        seen.append(type(mod).__name__)
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            nn.init.zeros_(mod.bias)
    assert ours.apply(init) is ours
    tseen = []
    theirs.apply(lambda mod: tseen.append(type(mod).__name__))
    assert seen == tseen
    assert np.all(ours[0].weight.array == 0.5) and np.all(ours[2].bias.array == 0)
    ours.requires_grad_(False)
    assert not any(p.requires_grad for p in ours.parameters())
    ours[0].requires_grad_()
    assert [p.requires_grad for p in ours.parameters()] == [True, True, False, False]


def test_register_parameter_buffer_and_errors():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(np.ones(2, np.float32)))
    m.register_buffer("b", cr.tensor([1.0, 2.0]))
    m.add_module("sub", nn.Linear(2, 1))
    assert list(m.state_dict()) == ["w", "b", "sub.weight", "sub.bias"]
    m.b = np.zeros(2, np.float32)  # assigning to a buffer keeps it a buffer
    assert isinstance(m._buffers["b"], cr.Tensor) and np.all(m.state_dict()["b"] == 0)
    m.double()
    assert m.b.dtype == np.float64 and m.w.dtype == np.float64
    with pytest.raises(TypeError, match="register_buffer: cannot assign int as buffer 'x'"):
        m.register_buffer("x", 3)
    with pytest.raises(KeyError, match="register_buffer"):
        m.register_buffer("a.b", None)
    with pytest.raises(TypeError, match="cannot assign str as buffer 'b'"):
        m.b = "no"
    with pytest.raises(TypeError, match="CPU only"):
        m.to("cuda")
    assert m.to("cpu") is m and m.to(torch.device("cpu")) is m
    m.to("cpu", np.float32)
    assert m.w.dtype == np.float32


def test_forward_hooks_and_pre_hooks_match_torch():
    ours, theirs = _pair(lambda m: m.Linear(3, 2))
    ours.load_state_dict(theirs.state_dict())
    log = {"ours": [], "theirs": []}
    for model, key in ((ours, "ours"), (theirs, "theirs")):
        h1 = model.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = model.register_forward_hook(lambda mod, args, out, key=key:
                                         log[key].append(tuple(out.shape)) or out + 1)
        h3 = model.register_forward_hook(lambda mod, args, out, key=key:
                                         log[key].append("first"), prepend=True)
        x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
        y = model(cr.tensor(x) if key == "ours" else torch.from_numpy(x))
        log[key].append(np.asarray(y.detach() if key == "theirs" else y.array).tolist())
        for h in (h1, h2, h3):
            h.remove()
        y = model(cr.tensor(x) if key == "ours" else torch.from_numpy(x))
        log[key].append(np.asarray(y.detach() if key == "theirs" else y.array).tolist())
    np.testing.assert_allclose(np.array(log["ours"][2]), np.array(log["theirs"][2]), rtol=1e-6)
    assert log["ours"][:2] == log["theirs"][:2] == ["first", (2, 2)]
    np.testing.assert_allclose(log["ours"][3], log["theirs"][3], rtol=1e-6)


def test_full_backward_hook_matches_torch():
    ours, theirs = _pair(lambda m: m.Sequential(m.Linear(3, 4), m.Tanh(), m.Linear(4, 1)))
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    got = {}
    for model, key in ((ours, "ours"), (theirs, "theirs")):
        def hook(mod, gin, gout, key=key):
            got[key] = ([None if g is None else np.asarray(g.detach() if key == "theirs"
                                                            else g.array).copy() for g in gin],
                        np.asarray(gout[0].detach() if key == "theirs"
                                   else gout[0].array).copy())
            return tuple(None if g is None else g * 3 for g in gin)
        h = model[1].register_full_backward_hook(hook)
        xin = cr.tensor(x, requires_grad=True) if key == "ours" else \
            torch.tensor(x, requires_grad=True)
        model(xin).sum().backward()
        got[key + "_xgrad"] = np.asarray(xin.grad).copy()
        h.remove()
    np.testing.assert_allclose(got["ours"][0][0], got["theirs"][0][0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["ours"][1], got["theirs"][1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["ours_xgrad"], got["theirs_xgrad"], rtol=1e-5, atol=1e-7)
    # the first layer sees a data input: grad_input is (None,), the hook still runs
    seen = []
    ours[0].register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    ours(x).sum().backward()
    assert seen == [((None,), (5, 4))]


def test_tied_parameters_save_and_load_like_torch(tmp_path):
    def build(m):
        shared = m.Linear(3, 3)
        return m.Sequential(shared, m.ReLU(), shared)
    ours, theirs = _pair(build)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 2
    # an edit under either name is loaded (it used to be overwritten by the other key)
    for key in ("0.weight", "2.weight"):
        sd = ours.state_dict()
        sd[key] = np.full((3, 3), 7.0, np.float32) if key == "0.weight" else sd[key] * 0 + 9
        ours.load_state_dict(sd)
        assert np.all(ours[0].weight.array == (7.0 if key == "0.weight" else 9.0))
        assert ours[0] is ours[2]
    sd = ours.state_dict()
    sd["2.bias"][...] = 5  # in place: one array behind both keys, as PyTorch's shared storage
    assert np.all(sd["0.bias"] == 5)
    cr.save(sd, tmp_path / "tied.pt")
    fresh, _ = _pair(build)
    fresh.load_state_dict(cr.load(tmp_path / "tied.pt"))
    assert np.all(fresh[0].bias.array == 5) and np.all(fresh[2].weight.array == 9)
    # one Parameter under two names in one module
    m = nn.Module()
    p = nn.Parameter(np.zeros(2, np.float32))
    m.a = p
    m.b = p
    tm = tnn.Module()
    tp = tnn.Parameter(torch.zeros(2))
    tm.a = tp
    tm.b = tp
    assert list(m.state_dict()) == list(tm.state_dict()) == ["a", "b"]
    m.load_state_dict({"a": np.zeros(2), "b": np.ones(2)})
    assert np.all(p.array == 1)
    m.load_state_dict({"a": np.full(2, 4.0), "b": np.ones(2)})
    assert np.all(p.array == 4)


def test_module_repr_matches_torch():
    ours, theirs = _pair(lambda m: m.Sequential(m.Linear(3, 4), m.ReLU(inplace=True),
                                                m.ModuleList([m.Tanh(), m.Identity()]),
                                                m.LeakyReLU(0.1), m.Linear(4, 1, bias=False)))
    assert repr(ours) == repr(theirs)
