"""One layer and direction of an LSTM with projections (nn.LSTM(..., proj_size=P)), as one
autograd node: PyTorch's semantics (Sak et al. 2014, "LSTM RNN architectures for large
scale acoustic modeling"):

    z_t = x_t W_ih^T + b_ih + r_{t-1} W_hh^T + b_hh         (N, 4H), gates i, f, g, o
    c_t = f * c_{t-1} + i * g,   m_t = o * tanh(c_t)       (N, H)
    r_t = m_t W_hr^T                                        (N, P), the layer's output h_t

The fused C kernel's recurrence multiplies the H-wide state, so it cannot take the
P-wide one; this node runs the recurrence step by step on ops.matmul (the input
projection of all steps as one GEMM, as the kernel does) with the gate math in NumPy, and
its backward is the full BPTT written out the same way. Saved for the backward: the
activated gates (T, N, 4H), c_1..c_T (T, N, H), tanh(c_t) (T, N, H) and r_1..r_T.
"""
import numpy as np

from .. import ops
from ..autograd.function import make


def _sigmoid(z):
    return ops.sigmoid_forward(z)


def proj_layer(x, h0, c0, w_ih, w_hh, w_hr, b_ih, b_hh, reverse, on_norms, on_gates=None):
    """x (T, N, I), h0 (N, P), c0 (N, H) Tensors; w_ih (4H, I), w_hh (4H, P), w_hr (P, H),
    b_ih / b_hh (4H,) or None. -> Tensor (T, N, P + H): row t holds [r_t, c_t] in x's
    time order (the caller splits it: the outputs, h_n and c_n)."""
    xd = np.ascontiguousarray(x.array[::-1]) if reverse else x.array
    wid, whd, wrd = w_ih.array, w_hh.array, w_hr.array
    has_bias = b_ih is not None
    T, N, I = xd.shape
    P, H = wrd.shape
    dt = xd.dtype
    xp = ops.matmul(xd.reshape(T * N, I), wid, trans_b=True).reshape(T, N, 4 * H)
    if has_bias:
        xp += b_ih.array + b_hh.array
    gates = np.empty((T, N, 4 * H), dt)
    cs = np.empty((T, N, H), dt)
    tcs = np.empty((T, N, H), dt)
    rs = np.empty((T, N, P), dt)
    r, c = h0.array, c0.array
    for t in range(T):
        z = xp[t] + ops.matmul(r, whd, trans_b=True)
        a = gates[t]
        a[:, :2 * H] = _sigmoid(z[:, :2 * H])
        a[:, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])
        a[:, 3 * H:] = _sigmoid(z[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = cs[t] = f * c + i * g
        tcs[t] = np.tanh(c)
        r = rs[t] = ops.matmul(o * tcs[t], wrd, trans_b=True)
    if on_gates is not None:
        on_gates(gates)
    out = np.concatenate([rs, cs], axis=2)
    if reverse:
        out = np.ascontiguousarray(out[::-1])
    parents = (x, h0, c0, w_ih, w_hh, w_hr) + ((b_ih, b_hh) if has_bias else ())
    h0d, c0d = h0.array, c0.array

    def backward(gout):
        g = gout[::-1] if reverse else gout
        drs_ext, dcs_ext = g[:, :, :P], g[:, :, P:]
        dz_all = np.empty((T, N, 4 * H), dt)
        dw_hh = np.zeros_like(whd)
        dw_hr = np.zeros_like(wrd)
        dr_next = np.zeros((N, P), dt)
        dc_next = np.zeros((N, H), dt)
        norms = np.zeros(T, np.float64)
        for t in range(T - 1, -1, -1):
            dr = drs_ext[t] + dr_next
            norms[t] = np.sqrt(np.sum(np.square(dr, dtype=np.float64)))
            a = gates[t]
            i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            tc = tcs[t]
            m = o * tc
            dw_hr += ops.matmul(dr, m, trans_a=True)
            dm = ops.matmul(dr, wrd)
            dc = dcs_ext[t] + dc_next + dm * o * (1 - tc * tc)
            c_prev = cs[t - 1] if t else c0d
            dz = dz_all[t]
            dz[:, :H] = dc * gg * i * (1 - i)
            dz[:, H:2 * H] = dc * c_prev * f * (1 - f)
            dz[:, 2 * H:3 * H] = dc * i * (1 - gg * gg)
            dz[:, 3 * H:] = dm * tc * o * (1 - o)
            dc_next = dc * f
            r_prev = rs[t - 1] if t else h0d
            dw_hh += ops.matmul(dz, r_prev, trans_a=True)
            dr_next = ops.matmul(dz, whd)
        dz2 = dz_all.reshape(T * N, 4 * H)
        dx = ops.matmul(dz2, wid).reshape(T, N, I)
        dw_ih = ops.matmul(dz2, xd.reshape(T * N, I), trans_a=True)
        if on_norms is not None:
            on_norms(norms[::-1].copy() if reverse else norms)
        if reverse:
            dx = np.ascontiguousarray(dx[::-1])
        grads = (dx, dr_next, dc_next, dw_ih, dw_hh, dw_hr)
        if has_bias:
            db = dz2.sum(axis=0)
            grads += (db, db.copy())
        return grads

    return make(out, parents, backward)
