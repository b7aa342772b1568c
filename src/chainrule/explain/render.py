"""Render a worked solution (the items built by ``steps.build``) as text, Markdown or LaTeX.

An item is a Heading, a Note or an Eq. An Eq is ``lhs = part = part ...``; each part is a
list of tokens: a Sym (a symbol with a text and a TeX spelling), an operator string, or a
number / ndarray. Text output aligns matrices in columns and centres operators on them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Sym", "Eq", "Heading", "Note", "render", "fmt_num"]


class Sym:
    """A symbol: its text spelling and its TeX spelling (derived from the text if omitted:
    ``relu(`` becomes an operator name with an opening parenthesis, other text \\text{})."""

    def __init__(self, text, tex=None):
        self.text, self.tex = text, tex if tex is not None else _default_tex(text)


def _default_tex(text):
    if len(text) == 1 and text.isalpha():
        return text
    name = text[:-1].rstrip("'")
    if text.endswith("(") and name.replace("_", "").isalnum():
        primes = text[len(name):-1]
        return r"\operatorname{" + _tex_escape(name) + "}" + primes + r"\left("
    return r"\text{" + _tex_escape(text) + "}"


class Eq:
    def __init__(self, lhs, *parts, key=None):
        self.lhs, self.parts, self.key = lhs, [p if isinstance(p, list) else [p]
                                               for p in parts if p is not None], key


class Heading:
    def __init__(self, level, text):
        self.level, self.text = level, text


class Note:
    def __init__(self, text):
        self.text = text


_OPS_TEXT = {"*": " * ", "@": " @ ", "+": " + ", "-": " - ", "/": " / ", "(": "(", ")": ")",
             ",": ", "}
_OPS_TEX = {"*": r" \odot ", "@": r" \, ", "+": " + ", "-": " - ", "/": " / ",
            "(": r"\left(", ")": r"\right)", ",": ",\\ "}


def _tex_escape(s):
    for a, b in (("\\", "\0"), ("{", r"\{"), ("}", r"\}"), ("\0", r"\textbackslash{}"),
                 ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"),
                 ("^", r"\^{}"), ("->", r"$\rightarrow$"), ("<", r"\textless{}"),
                 (">", r"\textgreater{}")):
        s = s.replace(a, b)
    return s


def fmt_num(v) -> str:
    """Integers without a point, others with up to 6 significant digits; never '-0'."""
    v = float(v)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)) and abs(v) < 1e15:
        s = str(int(round(v)))
    else:
        s = f"{v:.6g}"
    return "0" if s in ("-0", "-0.0") else s


def _squeeze_lead(a):
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        return a.reshape(())
    while a.ndim > 1 and a.shape[0] == 1:
        a = a[0]
    return a


def _is_inline(a):
    return _squeeze_lead(a).ndim <= 1


# ----------------------------------------------------------------------------- text
def _mat_lines(a):
    """A 0-, 1- or 2-D array as aligned lines; higher ranks as labelled 2-D slices."""
    a = _squeeze_lead(a)
    if a.ndim == 0:
        return [fmt_num(a)]
    if a.ndim == 1:
        return ["[ " + "  ".join(fmt_num(v) for v in a) + " ]"]
    rows = a.reshape(-1, a.shape[-1])  # every row of every 2-D slice: one column width
    cells = [[fmt_num(v) for v in row] for row in rows]
    w = [max(len(r[j]) for r in cells) for j in range(rows.shape[1])]
    lines = ["[ " + "  ".join(c.rjust(w[j]) for j, c in enumerate(r)) + " ]" for r in cells]
    if a.ndim == 2:
        return lines
    out, h = [], a.shape[-2]
    for n, idx in enumerate(np.ndindex(a.shape[:-2])):
        lab = "(" + ",".join(str(i) for i in idx) + ") "
        out += [(lab if k == 0 else " " * len(lab)) + b
                for k, b in enumerate(lines[n * h:(n + 1) * h])]
    return out


def _token_text(tok, paren):
    if isinstance(tok, Sym):
        return [tok.text]
    if isinstance(tok, str):
        return [_OPS_TEXT.get(tok, tok)]
    lines = _mat_lines(tok)
    if paren and len(lines) == 1 and lines[0].startswith("-"):
        return [f"({lines[0]})"]
    return lines


def _hcat(blocks):
    """Join multi-line blocks side by side, each centred vertically."""
    h = max(len(b) for b in blocks)
    out = [""] * h
    for b in blocks:
        w = max(len(s) for s in b)
        top = (h - len(b)) // 2
        for r in range(h):
            s = b[r - top] if 0 <= r - top < len(b) else ""
            out[r] += s.ljust(w)
    return [s.rstrip() for s in out]


def eq_text(eq):
    blocks = [[eq.lhs.text]]
    for part in eq.parts:
        blocks.append([" = "])
        many = len(part) > 1
        for tok in part:
            blocks.append(_token_text(tok, many))
    return "\n".join(_hcat(blocks))


def _text(items):
    out = []
    for it in items:
        if isinstance(it, Heading):
            out += ["", it.text, ("=" if it.level == 1 else "-") * len(it.text)]
        elif isinstance(it, Note):
            out.append(it.text)
        else:
            s = eq_text(it)
            if "\n" in s and out and out[-1] != "":
                out.append("")
            out.append(s)
            if "\n" in s:
                out.append("")
    return "\n".join(out).lstrip("\n").replace("\n\n\n", "\n\n") + "\n"


def _markdown(items):
    out, block = [], []

    def flush():
        while block and block[-1] == "":
            block.pop()
        if block:
            out.extend(["```text", *block, "```", ""])
            block.clear()
    for it in items:
        if isinstance(it, Heading):
            flush()
            out += ["#" * (it.level + 1) + " " + it.text, ""]
        elif isinstance(it, Note):
            flush()
            out += [it.text, ""]
        else:
            s = eq_text(it)
            if "\n" in s and block and block[-1] != "":
                block.append("")
            block.append(s)
            if "\n" in s:
                block.append("")
    flush()
    return "# Worked solution\n\n" + "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- latex
def _tex_mat(a):
    a = _squeeze_lead(a)
    if a.ndim == 0:
        return fmt_num(a)
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2:
        rows = [" & ".join(fmt_num(v) for v in row) for row in a]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
    parts = []
    for idx in np.ndindex(a.shape[:-2]):
        lab = ",".join(str(i) for i in idx)
        parts.append(r"\underset{(" + lab + r")}{" + _tex_mat(a[idx]) + "}")
    return r"\left\{ " + r",\ ".join(parts) + r" \right\}"


def _token_tex(tok, paren):
    if isinstance(tok, Sym):
        return tok.tex
    if isinstance(tok, str):
        return _OPS_TEX.get(tok, _tex_escape(tok))
    s = _tex_mat(tok)
    return f"({s})" if paren and s.startswith("-") else s


def _scalar(tok):
    return not isinstance(tok, (Sym, str)) and np.size(tok) == 1


def eq_tex(eq):
    """\\[ lhs = part = ... \\]; '*' is a Hadamard product, or a plain product next to a
    number."""
    parts = [eq.lhs.tex]
    for part in eq.parts:
        many, out = len(part) > 1, []
        for k, t in enumerate(part):
            near = part[k - 1:k] + part[k + 1:k + 2]
            if isinstance(t, str) and t == "*" and any(_scalar(n) for n in near):
                out.append(r" \cdot ")
            else:
                out.append(_token_tex(t, many))
        parts.append("".join(out))
    return r"\[ " + " = ".join(parts) + r" \]"


def _latex(items):
    out = [r"\documentclass{article}", r"\usepackage{amsmath}",
           r"\usepackage[margin=1.5cm,a3paper]{geometry}", r"\allowdisplaybreaks",
           r"\setcounter{MaxMatrixCols}{40}", r"\begin{document}", ""]
    for it in items:
        if isinstance(it, Heading):
            out.append((r"\section*{" if it.level == 1 else r"\subsection*{")
                       + _tex_escape(it.text) + "}")
        elif isinstance(it, Note):
            out.append(r"\noindent " + _tex_escape(it.text) + r"\par")
        else:
            out.append(eq_tex(it))
    out += ["", r"\end{document}"]
    return "\n".join(out) + "\n"


def render(trace, fmt):
    from .steps import build
    items = build(trace)
    return {"text": _text, "md": _markdown, "latex": _latex}[fmt](items)
