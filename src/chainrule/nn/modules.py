"""nn.Module and the layers and losses built on it (PyTorch's semantics and naming).

A Module registers every ``Parameter`` and sub-``Module`` assigned to one of its attributes,
in assignment order, which gives ``named_parameters()`` and ``state_dict()`` PyTorch's keys
and order (``"0.weight"`` in a Sequential, ``"fc.bias"`` for an attribute ``fc``).
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterator, Mapping, Optional, Tuple,
                    TypeVar, Union)

import math
import numbers
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .._checks import alloc, pair
from ..autograd import Tensor
from ..autograd.function import FLOATS, as_tensor, const, float_array, grad_array
from . import _hooks
from . import functional as F
from . import init

if TYPE_CHECKING:
    from .._typing import DTypeLike, IntPair, TensorLike

__all__ = ["Parameter", "Module", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU",
           "Sigmoid", "Tanh", "Flatten", "Sequential"]

def _buffer_value(v):
    """A buffer is a Tensor (or None); an ndarray becomes a constant Tensor around it."""
    if isinstance(v, np.ndarray):
        return const(v)
    return v


# False until some module registers a hook: Module.__call__ then skips the per-module check
# (one global read per call on models without hooks, the common case).
_any_hooks = False


def _add_hook(table, hook, prepend, with_kwargs):
    global _any_hooks
    if not callable(hook):
        raise TypeError(f"register hook: hook must be callable, got {type(hook).__name__}")
    _any_hooks = True
    handle = _hooks.RemovableHandle(table)
    table[handle.id] = (hook, with_kwargs)
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


_IncompatibleKeys = namedtuple("IncompatibleKeys",  # type: ignore[name-match]  # PyTorch's names
                               ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as a learnable parameter (requires grad)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.array
        if isinstance(data, np.ndarray) and data.dtype in FLOATS:
            data = np.ascontiguousarray(data)  # shares memory like torch.nn.Parameter
        else:
            data = float_array("Parameter", "data", data)
        self.array = data
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _as_dtype(fn, dtype):
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    if dt is None or dt not in FLOATS:
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dtype!r}")
    return dt


def _int_arg(fn, name, v, minimum):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {v!r}")
    if v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v}")
    if v > 2**63 - 1:
        raise ValueError(f"{fn}: {name} must be < 2**63, got {v}")
    return int(v)


_M = TypeVar("_M", bound="Module")


class Module:
    """Base class of every layer: parameter registry, train/eval mode, state dicts."""

    training: bool
    if TYPE_CHECKING:  # parameters, buffers and submodules are set through __setattr__
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() "
                                 f"(call super().__init__() first)")
        mods = self.__dict__["_modules"]
        bufs = self.__dict__.get("_buffers", {})
        if isinstance(value, Parameter):
            mods.pop(name, None)
            bufs.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            bufs.pop(name, None)
            mods[name] = value
        elif name in bufs:
            if value is not None and not isinstance(value, (Tensor, np.ndarray)):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                f"(Tensor or None expected)")
            value = _buffer_value(value)
            bufs[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"(nn.Parameter or None expected)")
            params[name] = None
        elif name in mods:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"'{name}' (nn.Module or None expected)")
            mods[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        object.__delattr__(self, name)

    def _check_name(self, fn, name):
        if not isinstance(name, str):
            raise TypeError(f"{fn}: name must be a str, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{fn}: name {name!r} must be non-empty and contain no '.'")
        if hasattr(self, name) and name not in self._parameters and name not in \
                self._modules and name not in self._buffers:
            raise KeyError(f"{fn}: attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Optional[TensorLike],
                        persistent: bool = True) -> None:
        """Register ``tensor`` (a Tensor, an ndarray -- kept as a Tensor -- or None) as a
        buffer: state that is not a parameter (e.g. running statistics). Persistent
        buffers appear in ``state_dict()`` after the module's own parameters."""
        self._check_name("register_buffer", name)
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(f"register_buffer: cannot assign {type(tensor).__name__} as "
                            f"buffer '{name}' (Tensor or None expected)")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        tensor = _buffer_value(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Register ``param`` (a Parameter or None, which keeps the name but no state)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, "
                            f"got {type(param).__name__}")
        self._check_name("register_parameter", name)
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def add_module(self, name: str, module: Optional[Module]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be an nn.Module, got "
                            f"{type(module).__name__}")
        self._check_name("add_module", name)
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: Optional[set] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, Module]]:
        """(name, module) pairs, this module first, depth-first; a module reachable under
        several names appears once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[Tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in getattr(m, table).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (mprefix + "." if mprefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(name, Parameter) pairs in PyTorch's order; a shared Parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"get_submodule: {type(m).__name__} has no submodule "
                                     f"'{part}' (in {target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target: str) -> Parameter:
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._parameters:
            raise AttributeError(f"get_parameter: {type(m).__name__} has no parameter "
                                 f"'{name}'")
        return m._parameters[name]

    def apply(self: _M, fn: Callable[[Module], Any]) -> _M:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self: _M, mode: bool = True) -> _M:
        object.__setattr__(self, "training", bool(mode))
        for m in self.children():
            m.train(mode)
        return self

    def eval(self: _M) -> _M:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (None by default, like PyTorch)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                grad_array(p)[...] = 0

    def requires_grad_(self: _M, requires_grad: bool = True) -> _M:
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ dtype
    def to(self: _M, *args: Any, dtype: Optional[DTypeLike] = None, device: Any = None,
           non_blocking: bool = False) -> _M:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(tensor)``: converts
        every parameter (and its gradient) and float buffer to the float dtype in place;
        the device must be the CPU. Returns self."""
        fn = f"{type(self).__name__}.to"
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.array.dtype
            elif type(a).__name__ == "device" or (isinstance(a, str) and a.split(":")[0] in
                                                  ("cpu", "cuda", "mps", "xpu", "meta")):
                device = a
            else:
                dtype = a
        if device is not None and str(device) not in ("cpu", "cpu:0"):
            raise TypeError(f"{fn}: chainrule runs on the CPU only (device 'cpu'; dtypes "
                            f"float32 or float64), got device {device!r}")
        if dtype is None:
            return self
        dt = _as_dtype(fn, dtype)
        for p in self.parameters():
            if p.array.dtype != dt:
                p.array = p.array.astype(dt)
                if p._grad is not None:
                    p._grad = p._grad.astype(dt)
        for b in self.buffers():
            if b.array.dtype.kind == "f" and b.array.dtype != dt:
                b.array = b.array.astype(dt)
        return self

    def cpu(self: _M) -> _M:
        return self

    def float(self: _M) -> _M:
        return self.to(np.float32)

    def double(self: _M) -> _M:
        return self.to(np.float64)

    # ------------------------------------------------------------------ state dict
    def _state_items(self, prefix=""):
        """(key, Tensor) for every parameter and persistent buffer, PyTorch's order: a
        module's own parameters, its buffers, then each child. A Parameter (or module)
        shared under several names appears under each of them, as in PyTorch."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, b
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_items(prefix + name + ".")

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> Dict[str, Any]:
        """OrderedDict key -> a Tensor (no graph) sharing memory with the parameter (or
        buffer), PyTorch's keys and order: as in PyTorch, an in-place edit of a value
        changes the model, and a snapshot needs ``{k: v.clone() for k, v in sd.items()}``
        or ``copy.deepcopy(sd)``. A tensor shared under several keys gives one Tensor
        under each. keep_vars=True gives the parameters themselves."""
        views = {}
        out = OrderedDict()
        for k, t in self._state_items(prefix):
            if keep_vars:
                out[k] = t
                continue
            if id(t) not in views:
                views[id(t)] = const(t.array)
            out[k] = views[id(t)]
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> Any:
        """Copy arrays into the parameters and buffers in place, cast to each one's dtype.

        Checks every key and shape before changing anything; with strict=True missing or
        unexpected keys are a ValueError. Values may be ndarrays, Tensors or anything
        np.asarray accepts (e.g. CPU torch tensors). A tensor shared under several keys
        (tied weights) takes the value of a key that differs from its current value, so
        an edit under either name is loaded. Returns (missing_keys, unexpected_keys).
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{fn}: expected a mapping name -> array, got "
                            f"{type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise ValueError(f"{fn}: " + "; ".join(parts) + f" (expected keys {list(own)})")
        staged = OrderedDict()  # id(tensor) -> (tensor, array); tied: a changed value wins
        for k, p in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if isinstance(v, Tensor):
                v = v.array
            elif not isinstance(v, np.ndarray) and hasattr(v, "detach"):  # a torch tensor
                v = v.detach().cpu().numpy()
            arr = np.asarray(v)
            if arr.dtype.kind not in "fiub":
                raise TypeError(f"{fn}: '{k}' must hold real numbers, got dtype {arr.dtype}")
            if arr.shape != p.array.shape:
                raise ValueError(f"{fn}: shape mismatch for '{k}': the checkpoint has "
                                 f"{arr.shape}, the module has {p.array.shape}")
            if id(p) in staged and np.array_equal(arr, p.array):
                continue  # an unchanged alias of a tied tensor must not undo an edit
            staged[id(p)] = (p, arr)
        for p, arr in staged.values():
            np.copyto(p.array, arr, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> Any:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with_kwargs) runs
        before forward; it may return new args (a tuple, or one value)."""
        return _add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False) -> Any:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs
        after forward; it may return a new output."""
        return _add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> Any:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect
        to the module's Tensor inputs have been computed (tuples of Tensors, None for an
        input that needs no gradient); it may return a new grad_input tuple."""
        return _add_hook(self._backward_hooks, hook, prepend, False)

    register_backward_hook = register_full_backward_hook

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if _any_hooks:
            d = self.__dict__
            if d.get("_forward_pre_hooks") or d.get("_forward_hooks") or \
                    d.get("_backward_hooks"):
                return _hooks.call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


# ---------------------------------------------------------------------------- layers
class Linear(Module):
    """y = x @ weight.T + bias.  weight (out_features, in_features), bias (out_features,)

    Initialised as PyTorch: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        self.in_features = _int_arg("Linear", "in_features", in_features, 0)
        self.out_features = _int_arg("Linear", "out_features", out_features, 0)
        dt = _as_dtype("Linear", dtype if dtype is not None else get_default_dtype())
        self.weight = Parameter(alloc("Linear", "weight", (self.out_features, self.in_features),
                                      dt))
        if bias:
            self.bias = Parameter(alloc("Linear", "bias", (self.out_features,), dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: TensorLike) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _padding_mode(fn, padding_mode, allowed=_PADDING_MODES):
    if padding_mode not in allowed:
        raise ValueError(f"{fn}: padding_mode={padding_mode!r} is not supported (only "
                         f"{', '.join(repr(m) for m in allowed)})")
    return padding_mode


def _mode_pad(conv):
    """F.pad's amounts (last dim first) for a conv with a non-'zeros' padding_mode:
    PyTorch's _reversed_padding_repeated_twice ('same': dilation * (k - 1) split with the
    extra element on the right)."""
    if conv.padding == "valid":
        return (0,) * (2 * len(conv.kernel_size))
    out = []
    for i in reversed(range(len(conv.kernel_size))):
        if conv.padding == "same":
            total = conv.dilation[i] * (conv.kernel_size[i] - 1)
            out += [total // 2, total - total // 2]
        else:
            out += [conv.padding[i]] * 2
    return tuple(out)


class Conv2d(Module):
    """2-D convolution (cross-correlation), NCHW; weight (out, in / groups, kh, kw), bias (out,).

    Initialised as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * kh * kw.
    padding: int, pair, "valid" or "same" (stride 1); padding_mode: "zeros" (default),
    "reflect", "replicate" or "circular" (F.pad with that mode, then no padding).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: Any = 1,
                 padding: Any = 0, dilation: IntPair = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = type(self).__name__
        self.in_channels = _int_arg(fn, "in_channels", in_channels, 1)
        self.out_channels = _int_arg(fn, "out_channels", out_channels, 1)
        self.groups = _int_arg(fn, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{fn}: groups={self.groups} must divide in_channels "
                             f"({self.in_channels}) and out_channels ({self.out_channels})")
        self.kernel_size = pair(fn, "kernel_size", kernel_size, 1)
        self.stride = pair(fn, "stride", stride, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{fn}: padding must be an int, a pair, 'valid' or 'same', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{fn}: padding='same' needs stride 1, got {self.stride}")
            self.padding: Union[str, Tuple[int, ...]] = padding
        else:
            self.padding = pair(fn, "padding", padding, 0)
        self.dilation = pair(fn, "dilation", dilation, 1)
        self.padding_mode = _padding_mode(fn, padding_mode)
        dt = _as_dtype(fn, dtype if dtype is not None else get_default_dtype())
        self.weight = Parameter(alloc(fn, "weight", (self.out_channels, self.in_channels //
                                                     self.groups) + self.kernel_size, dt))
        if bias:
            self.bias = Parameter(alloc(fn, "bias", (self.out_channels,), dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.array[0].size
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: TensorLike) -> Tensor:
        if self.padding_mode != "zeros":  # pad explicitly, then a convolution without padding
            return F.conv2d(F.pad(x, _mode_pad(self), mode=self.padding_mode), self.weight,
                            self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class MaxPool2d(Module):
    """F.max_pool2d as a layer (PyTorch's arguments and defaults)."""

    def __init__(self, kernel_size: IntPair, stride: Any = None, padding: Any = 0,
                 dilation: IntPair = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        fn = "MaxPool2d"
        self.kernel_size = pair(fn, "kernel_size", kernel_size, 1)
        self.stride = pair(fn, "stride", stride, 1) if stride is not None else self.kernel_size
        self.padding = pair(fn, "padding", padding, 0)
        self.dilation = pair(fn, "dilation", dilation, 1)
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x: TensorLike) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """F.avg_pool2d as a layer (PyTorch's arguments and defaults)."""

    def __init__(self, kernel_size: IntPair, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None) -> None:
        super().__init__()
        fn = "AvgPool2d"
        self.kernel_size = pair(fn, "kernel_size", kernel_size, 1)
        self.stride = pair(fn, "stride", stride, 1) if stride is not None else self.kernel_size
        self.padding = pair(fn, "padding", padding, 0)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: TensorLike) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class ReLU(Module):
    """max(x, 0). ``inplace=True`` is accepted (the result is a new tensor either way)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: TensorLike) -> Tensor:
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, x: TensorLike) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: TensorLike) -> Tensor:
        return F.tanh(x)


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = _int_arg("Flatten", "start_dim", start_dim, -(1 << 30))
        self.end_dim = _int_arg("Flatten", "end_dim", end_dim, -(1 << 30))

    def forward(self, x: TensorLike) -> Tensor:
        x = as_tensor(x, "Flatten", "x")
        nd = x.array.ndim
        for d in (self.start_dim, self.end_dim):
            if not -max(nd, 1) <= d < max(nd, 1):
                raise ValueError(f"Flatten: dim {d} is out of range for input shape "
                                 f"{x.array.shape}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... (or by an OrderedDict)."""

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} must be an nn.Module, got "
                                    f"{type(m).__name__}")
                self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, numbers.Integral):
            raise TypeError(f"Sequential: index must be an int or a slice, got {idx!r}")
        if not -len(items) <= idx < len(items):
            raise IndexError(f"Sequential: index {idx} is out of range for {len(items)} modules")
        return items[idx][1]

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x: TensorLike) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x
