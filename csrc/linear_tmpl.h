/* linear_tmpl.h — the dense layer for one dtype; included by linear.c with T and SUF
 * defined (the template idiom of cpu.h). */

/* out[n, o] = sum_c inp[n, c] * weight[o, c] + bias[o]
 * one GEMM, op(B) = weight^T, the bias added at write-out (bias may be NULL) */
void CR_FN(cr_linear_forward)(T *out, const T *inp, const T *weight, const T *bias,
                             int64_t N, int64_t C, int64_t OC) {
    CR_FN(cr_gemm)(0, 1, N, OC, C, (T)1, inp, C, weight, C, (T)0, out, OC, bias, NULL,
                  CR_ACT_NONE);
}

/* dinp[n, c]    += sum_o dout[n, o] * weight[o, c]     (dinp = dout @ weight)
 * dweight[o, c] += sum_n dout[n, o] * inp[n, c]        (dweight = dout^T @ inp)
 * dbias[o]      += sum_n dout[n, o]
 * Any of dinp, dweight, dbias may be NULL (not needed). Each output is written by one
 * loop nest whose threads own disjoint parts of it, so results are deterministic.
 * accumulate = 0 overwrites instead of adding (the buffers' old contents, even NaN, are
 * ignored): for fresh outputs that saves reading them, and reading fresh zeroed pages
 * before writing them costs a second page fault each (1 ms at 1024x1024). */
void CR_FN(cr_linear_backward)(T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,
                              const T *weight, int64_t N, int64_t C, int64_t OC,
                              int accumulate) {
    const T beta = accumulate ? (T)1 : (T)0;
    if (dinp)
        CR_FN(cr_gemm)(0, 0, N, C, OC, (T)1, dout, OC, weight, C, beta, dinp, C, NULL,
                      NULL, CR_ACT_NONE);
    if (dweight)
        CR_FN(cr_gemm)(1, 0, OC, C, N, (T)1, dout, OC, inp, C, beta, dweight, C, NULL,
                      NULL, CR_ACT_NONE);
    if (dbias && OC > 0) {
        /* columns split into chunks of 64 owned by one thread each; rows summed in
         * order into a local vector (so the sum never depends on the thread count) */
        enum { CH = 64 };
        int64_t nch = (OC + CH - 1) / CH;
        const int nt = cr_threads_for((double)N * (double)OC, 32768.0);
        #pragma omp parallel for num_threads(nt) schedule(static) if(nt > 1)
        for (int64_t ch = 0; ch < nch; ch++) {
            int64_t o0 = ch * CH, w = OC - o0 < CH ? OC - o0 : CH;
            T acc[CH];
            for (int64_t o = 0; o < w; o++) acc[o] = 0;
            for (int64_t n = 0; n < N; n++) {
                const T *dout_n = dout + n * OC + o0;
                for (int64_t o = 0; o < w; o++) acc[o] += dout_n[o];
            }
            for (int64_t o = 0; o < w; o++)
                dbias[o0 + o] = accumulate ? dbias[o0 + o] + acc[o] : acc[o];
        }
    }
}
