/* A small C program using libswiftsoftmax: the article's softmax, then the cross-entropy of a
 * small batch with its gradient, checking every status.
 *
 * Installed library (make install PREFIX=...):
 *   cc app.c $(pkg-config --cflags --libs swiftsoftmax) -o app
 * From the checkout (make examples does this):
 *   cc -Iinclude examples/c/app.c -L.build/release -lswiftsoftmax -Wl,-rpath,$PWD/.build/release
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <swiftsoftmax.h>

/* Stops the program with the library's explanation when a call fails. */
static void check(ssm_status status, const char *what) {
    if (status != SSM_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, ssm_status_message(status),
                ssm_last_error_message());
        exit(1);
    }
}

int main(void) {
    printf("swiftsoftmax %s, CPU tier %s\n", ssm_version(), ssm_isa());

    /* The article's scores s = [0, 2, 4]: one row of three classes. */
    const double s[3] = {0.0, 2.0, 4.0};
    double p[3];
    check(ssm_softmax_f64(s, p, 1, 3, 1, 1.0), "softmax");
    printf("softmax([0, 2, 4]) = [%.4f, %.4f, %.4f]\n", p[0], p[1], p[2]);

    /* A batch of two samples, three classes; true classes 2 and 0. */
    const double logits[2 * 3] = {0.0, 2.0, 4.0,
                                  1.0, 0.5, -1.0};
    const int64_t labels[2] = {2, 0};
    double loss, grad[2 * 3];
    check(ssm_cross_entropy_f64(logits, labels, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN,
                                &loss, grad),
          "cross_entropy");
    printf("mean cross-entropy = %.6f\n", loss);
    for (int i = 0; i < 2; i++)
        printf("  dloss/dlogits[%d] = [%+.4f, %+.4f, %+.4f]\n", i, grad[3 * i], grad[3 * i + 1],
               grad[3 * i + 2]);

    /* Errors are reported, not crashed on: a label outside [0, 3). */
    const int64_t bad[2] = {2, 7};
    ssm_status st = ssm_cross_entropy_f64(logits, bad, NULL, 2, 3, 1, -100, 0.0,
                                          SSM_REDUCTION_MEAN, &loss, NULL);
    printf("label 7 of 3 classes: status %d (%s): %s\n", (int)st, ssm_status_message(st),
           ssm_last_error_message());
    return st == SSM_LABEL_OUT_OF_RANGE ? 0 : 1;
}
