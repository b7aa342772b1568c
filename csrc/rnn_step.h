/* rnn_step.h — the two per-step kernels of the recurrence, for one element type and one
 * instruction set; included by rnn_tmpl.h once per ISA with STEP(name) (the name with the
 * type and ISA suffixes) and STEP_ATTR (a target attribute, or nothing) defined. */

/* One forward step for n rows of the batch (all H columns):
 * h_t = act(h_prev @ w_hh^T + h_t + b_hh), h_t holding x_t @ w_ih^T + b_ih on entry.
 * h_prev, h_t (n x H), rows of a thread's slice; Bp all packed panels of w_hh^T. */
STEP_ATTR
static void STEP(forward_step)(T *h_t, const T *h_prev, const T *Bp, const T *b_hh,
                              int act, int64_t n_rows, int64_t H) {
    T tile[RNN_MR * NR] __attribute__((aligned(64)));
    T tmp[3][VL] __attribute__((aligned(64)));
    const int64_t nb = (H + NR - 1) / NR;
    for (int64_t jb = 0; jb < nb; jb++) {
        const T *panel = Bp + jb * H * NR;
        const int64_t j0 = jb * NR;
        for (int64_t i0 = 0; i0 < n_rows; i0 += RNN_MR) {
            CR_FN(tile_mm)(tile, h_prev, H, i0, n_rows, panel, H);
            const int64_t rows = n_rows - i0 < RNN_MR ? n_rows - i0 : RNN_MR;
            for (int64_t i = 0; i < rows; i++) {
                T *out = h_t + (i0 + i) * H;
                for (int64_t c0 = 0; c0 < NR && j0 + c0 < H; c0 += VL) {
                    const int64_t j = j0 + c0, n = H - j < VL ? H - j : VL;
                    VREAL v = *(const VREAL *)(tile + i * NR + c0);
                    if (n == VL) {
                        v += CR_FN(vload)(out + j);
                        if (b_hh) v += CR_FN(vload)(b_hh + j);
                        CR_FN(vstore)(out + j, CR_FN(vact)(v, act));
                    } else { /* last, partial vector of the row */
                        memset(tmp, 0, sizeof tmp);
                        memcpy(tmp[0], out + j, (size_t)n * sizeof(T));
                        if (b_hh) memcpy(tmp[1], b_hh + j, (size_t)n * sizeof(T));
                        v += *(const VREAL *)tmp[0];
                        if (b_hh) v += *(const VREAL *)tmp[1];
                        *(VREAL *)tmp[2] = CR_FN(vact)(v, act);
                        memcpy(out + j, tmp[2], (size_t)n * sizeof(T));
                    }
                }
            }
        }
    }
}

/* One backward step for n rows of the batch (all H columns):
 * dh = dhs_t + da_next @ w_hh  (da_next NULL at t = T: no recurrence yet),
 * rowsq[i] = sum_j dh[i][j]^2 (if rowsq), da_t = dh * act'(h_t).   All (n x H). */
STEP_ATTR
static void STEP(backward_step)(T *da_t, T *rowsq, const T *da_next, const T *dhs_t,
                               const T *h_t, const T *Bp, int act, int64_t n_rows,
                               int64_t H) {
    T tile[RNN_MR * NR] __attribute__((aligned(64)));
    T tmp[2][VL] __attribute__((aligned(64)));
    const int64_t nb = (H + NR - 1) / NR;
    if (rowsq) memset(rowsq, 0, (size_t)n_rows * sizeof(T));
    for (int64_t jb = 0; jb < nb; jb++) {
        const T *panel = Bp + jb * H * NR;
        const int64_t j0 = jb * NR;
        for (int64_t i0 = 0; i0 < n_rows; i0 += RNN_MR) {
            if (da_next) CR_FN(tile_mm)(tile, da_next, H, i0, n_rows, panel, H);
            else memset(tile, 0, sizeof tile);
            const int64_t rows = n_rows - i0 < RNN_MR ? n_rows - i0 : RNN_MR;
            for (int64_t i = 0; i < rows; i++) {
                const int64_t row = (i0 + i) * H;
                VREAL sq = CR_FN(vsplat)(0);
                for (int64_t c0 = 0; c0 < NR && j0 + c0 < H; c0 += VL) {
                    const int64_t j = j0 + c0, n = H - j < VL ? H - j : VL;
                    VREAL dh = *(const VREAL *)(tile + i * NR + c0), h;
                    if (n == VL) {
                        dh += CR_FN(vload)(dhs_t + row + j);
                        h = CR_FN(vload)(h_t + row + j);
                    } else { /* partial vector: lanes past H stay 0 (zero-padded panel) */
                        memset(tmp, 0, sizeof tmp);
                        memcpy(tmp[0], dhs_t + row + j, (size_t)n * sizeof(T));
                        memcpy(tmp[1], h_t + row + j, (size_t)n * sizeof(T));
                        dh += *(const VREAL *)tmp[0];
                        h = *(const VREAL *)tmp[1];
                    }
                    sq += dh * dh;
                    VREAL da = dh * CR_FN(vact_grad)(h, act);
                    if (n == VL) {
                        CR_FN(vstore)(da_t + row + j, da);
                    } else {
                        *(VREAL *)tmp[0] = da;
                        memcpy(da_t + row + j, tmp[0], (size_t)n * sizeof(T));
                    }
                }
                if (rowsq) {
                    T s = 0;
                    for (int c = 0; c < VL; c++) s += sq[c];
                    rowsq[i0 + i] += s;
                }
            }
        }
    }
}
