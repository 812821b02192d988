#include "CSoftmaxSupport.h"

#include <string.h>

/* One buffer per thread, so concurrent callers each read their own explanation. */
static _Thread_local char last_error[512];

__attribute__((visibility("hidden"))) void ssm_support_set_error(const char *message) {
    if (!message) { last_error[0] = '\0'; return; }
    strncpy(last_error, message, sizeof last_error - 1);
    last_error[sizeof last_error - 1] = '\0';
}

__attribute__((visibility("hidden"))) const char *ssm_support_error(void) { return last_error; }
