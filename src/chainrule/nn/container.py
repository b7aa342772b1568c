"""Containers (PyTorch's names and semantics): ModuleList, ModuleDict, ParameterList,
ParameterDict, and Identity. Children and parameters register under their index ("0",
"1", ...) or key, which gives state_dict keys like "layers.0.weight"."""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

import numbers
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..autograd import Tensor
from .modules import Module, Parameter

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import TensorLike

__all__ = ["Identity", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(fn, idx, n):
    if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, numbers.Integral):
        raise TypeError(f"{fn}: index must be an int or a slice, got {idx!r}")
    if not -n <= idx < n:
        raise IndexError(f"{fn}: index {idx} is out of range for {n} entries")
    return int(idx) % n


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: TensorLike) -> Any:
        return input


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ... (no forward of its own)."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, fn, m):
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList.{fn}: expected an nn.Module, got {type(m).__name__}")
        return m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index("ModuleList", idx, len(self)))]

    def __setitem__(self, idx, module):
        i = _index("ModuleList", idx, len(self))
        self.add_module(str(i), self._check("__setitem__", module))

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index("ModuleList", idx, len(mods))]
        self._reset(mods)

    def _reset(self, mods):
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        self.add_module(str(len(self)), self._check("append", module))
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, self._check("insert", module))
        self._reset(mods)

    def pop(self, idx=-1):
        m = self[idx]
        del self[idx]
        return m


class ModuleDict(Module):
    """An ordered dict of modules, registered as children under their keys."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: value for '{key}' must be an nn.Module, got "
                            f"{type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def clear(self):
        for k in list(self._modules):
            del self[k]

    def pop(self, key):
        m = self._modules[key]
        del self[key]
        return m

    def update(self, modules):
        items = modules.items() if isinstance(modules, Mapping) else modules
        for kv in items:
            if len(kv) != 2:
                raise ValueError(f"ModuleDict.update: expected (key, module) pairs, got "
                                 f"{kv!r:.60}")
            self[kv[0]] = kv[1]


def _as_parameter(v):
    if isinstance(v, Parameter) or v is None:
        return v
    if isinstance(v, (Tensor, np.ndarray)):
        return Parameter(v)
    return v


def _param_repr(p):
    if not isinstance(p, Tensor):
        return f"Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.array.shape)
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"{kind} containing: [chainrule.{p.array.dtype} of size {size}]"


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ...; Tensors and arrays are wrapped
    into Parameters."""

    def __init__(self, values=None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _set(self, i, v):
        v = _as_parameter(v)
        if isinstance(v, Parameter) or v is None:
            self.register_parameter(str(i), v)
        else:
            object.__setattr__(self, str(i), v)
            self._parameters.pop(str(i), None)
        self.__dict__.setdefault("_len", 0)
        object.__setattr__(self, "_len", max(self._len, i + 1))

    def __len__(self):
        return self.__dict__.get("_len", 0)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index("ParameterList", idx, len(self))))

    def __setitem__(self, idx, value):
        self._set(_index("ParameterList", idx, len(self)), value)

    def __iter__(self):
        return iter([self[i] for i in range(len(self))])

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self._set(len(self), value)
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"({i}): {_param_repr(p)}" for i, p in enumerate(self))

    def __repr__(self):
        body = self.extra_repr()
        return f"ParameterList(\n    " + body.replace("\n", "\n    ") + "\n)" if body \
            else "ParameterList()"


class ParameterDict(Module):
    """An ordered dict of Parameters registered under their keys."""

    def __init__(self, parameters=None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", OrderedDict())
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        v = _as_parameter(value)
        self._keys[key] = None
        if isinstance(v, Parameter) or v is None:
            self.register_parameter(key, v)
        else:
            self._parameters.pop(key, None)
            object.__setattr__(self, key, v)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def clear(self):
        for k in list(self._keys):
            del self[k]

    def update(self, parameters):
        items = parameters.items() if isinstance(parameters, Mapping) else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self):
        return "\n".join(f"({k}): {_param_repr(p)}" for k, p in self.items())

    def __repr__(self):
        body = self.extra_repr()
        return f"ParameterDict(\n    " + body.replace("\n", "\n    ") + "\n)" if body \
            else "ParameterDict()"
