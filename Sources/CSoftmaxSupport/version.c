#include "CSoftmaxSupport.h"

/* The public header holds the one version number; the Swift code reads it from here. */
#include "../../include/swiftsoftmax.h"

__attribute__((visibility("hidden"))) const char *ssm_support_version(void) { return SSM_VERSION_STRING; }
