/* conv_im2col_tmpl.h — im2col / col2im for one dtype; included by conv_im2col.c with T and
 * SUF defined (the template idiom of cpu.h). */

/* im2col of CRS rows [row0, row1) and output rows [p0, p1) of one image im (C, H, W):
 *   col[(row - row0)*ld + (p - p0)*Q + q] = im[c, p*sh - ph + r*dh, q*sw - pw + s*dw]
 * (0 outside the image), with row = (c*R + r)*S + s.
 * The in-image ranges of p and q are computed once per row, so the inner loop is a plain
 * copy; it is kept a loop (not memcpy) because a libc call per row of Q = 8..32 values
 * cost more than the copy itself (CONV_NO_MEMCPY stops GCC turning it back into one). */
CONV_NO_MEMCPY void CR_FN(conv_im2col_rows)(T *restrict col, int64_t ld,
                                               const T *restrict im, const cr_conv2d_dims *d,
                                               int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    int64_t c = row0 / (R * S), r = (row0 / S) % R, s = row0 % S; /* (c, r, s) of row */
    for (int64_t row = row0; row < row1; row++, next_crs(&c, &r, &s, R, S)) {
        const int64_t off_w = s * d->dw - d->pw, off_h = r * d->dh - d->ph;
        int64_t qlo, qhi, plo, phi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        valid_range(off_h, d->sh, p1, H, &plo, &phi);
        if (plo < p0) plo = p0;
        if (phi < plo) phi = plo;
        T *col_row = col + (row - row0) * ld;
        for (int64_t i = 0; i < (plo - p0) * Q; i++) col_row[i] = 0;
        for (int64_t i = (phi - p0) * Q; i < (p1 - p0) * Q; i++) col_row[i] = 0;
        for (int64_t p = plo; p < phi; p++) {
            T *restrict dst = col_row + (p - p0) * Q;
            /* src[q*sw] = im[c, ih, q*sw + off_w] */
            const T *restrict src = im + (c * H + p * d->sh + off_h) * W + off_w;
            for (int64_t q = 0; q < qlo; q++) dst[q] = 0;
            if (sw == 1) {
                for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q];
            } else {
                for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q * sw];
            }
            for (int64_t q = qhi; q < Q; q++) dst[q] = 0;
        }
    }
}

/* The adjoint of im2col_rows: im[c, ih, iw] += col[...] for every in-range (row, p, q);
 * entries of col that fall on the padding are dropped. */
CONV_NO_MEMCPY void CR_FN(conv_col2im_rows)(T *restrict im, const T *col, int64_t ld, const cr_conv2d_dims *d,
                                int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    int64_t c = row0 / (R * S), r = (row0 / S) % R, s = row0 % S; /* (c, r, s) of row */
    for (int64_t row = row0; row < row1; row++, next_crs(&c, &r, &s, R, S)) {
        const int64_t off_w = s * d->dw - d->pw;
        int64_t qlo, qhi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        const int64_t off_h = r * d->dh - d->ph;
        int64_t plo, phi;
        valid_range(off_h, d->sh, p1, H, &plo, &phi);
        if (plo < p0) plo = p0;
        const T *col_row = col + (row - row0) * ld;
        for (int64_t p = plo; p < phi; p++) {
            const T *restrict src = col_row + (p - p0) * Q;
            /* dst[q*sw] = im[c, ih, q*sw + off_w] */
            T *restrict dst = im + (c * H + p * d->sh + off_h) * W + off_w;
            if (sw == 1) {
                for (int64_t q = qlo; q < qhi; q++) dst[q] += src[q];
            } else {
                for (int64_t q = qlo; q < qhi; q++) dst[q * sw] += src[q];
            }
        }
    }
}

/* im2col / col2im of one image split by channel over nt threads (each channel's rows
 * read/write only that channel's plane, so col2im stays race-free and deterministic). */
void CR_FN(conv_im2col_par)(T *col, int64_t ld, const T *im, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CR_FN(conv_im2col_rows)(col + c * RS * ld, ld, im, d, c * RS, (c + 1) * RS, p0, p1);
}

void CR_FN(conv_col2im_par)(T *im, const T *col, int64_t ld, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CR_FN(conv_col2im_rows)(im, col + c * RS * ld, ld, d, c * RS, (c + 1) * RS, p0, p1);
}

void CR_FN(cr_im2col)(T *col, const T *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CR_FN(conv_im2col_rows)(col, (p1 - p0) * d->Q, im, d, 0, d->C * d->R * d->S, p0, p1);
}

void CR_FN(cr_col2im)(T *im, const T *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CR_FN(conv_col2im_rows)(im, col, (p1 - p0) * d->Q, d, 0, d->C * d->R * d->S, p0, p1);
}
