#include "CSoftmaxSupport.h"

#include <string.h>

/* The tier table, Sources/Tiers/tiers.def (docs/design.md, "CPU tiers"), with only the rows
 * built for this architecture (and this kind of build): the same rows Package.swift makes
 * kernel targets of. */
#if defined(__x86_64__)
#define SSM_HOST_ARCH "x86_64"
#elif defined(__aarch64__)
#define SSM_HOST_ARCH "aarch64"
#else
#define SSM_HOST_ARCH "other"
#endif

struct ssm_tier_row {
    const char *name, *arch, *target_cpu, *features;
};

static const struct ssm_tier_row table[] = {
#define SSM_TIER(name, arch, target_cpu, features) {#name, #arch, target_cpu, features},
#include "../Tiers/tiers.def"
#undef SSM_TIER
};
enum { table_rows = sizeof table / sizeof table[0] };

/* SSM_PORTABLE_BUILD: Package.swift's build without unsafe flags (a package depended on by
 * version), which compiles only the rows that need no -target-cpu (docs/design.md, "Builds"). */
static int built_here(const struct ssm_tier_row *row) {
#ifdef SSM_PORTABLE_BUILD
    if (row->target_cpu[0] != 0) return 0;
#endif
    return strcmp(row->arch, "any") == 0 || strcmp(row->arch, SSM_HOST_ARCH) == 0;
}

/* The i-th row built here, or NULL. */
static const struct ssm_tier_row *row_at(int i) {
    for (int k = 0; k < table_rows; k++)
        if (built_here(&table[k]) && i-- == 0) return &table[k];
    return NULL;
}

/* 1 if the CPU has the feature `name` (len bytes), 0 if not, -1 if this detection does not
 * know the name. __builtin_cpu_supports takes only literals, hence the list; a tier that needs
 * a feature missing here adds it here. */
static int has_feature(const char *name, size_t len) {
#define SSM_FEATURE(f) \
    if (len == sizeof(f) - 1 && memcmp(name, f, len) == 0) return __builtin_cpu_supports(f) ? 1 : 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    SSM_FEATURE("avx2")
    SSM_FEATURE("fma")
    SSM_FEATURE("avx512f")
    SSM_FEATURE("avx512bw")
    SSM_FEATURE("avx512dq")
    SSM_FEATURE("avx512vl")
#endif
#undef SSM_FEATURE
    return -1;
}

__attribute__((visibility("hidden"))) int ssm_support_tier_count(void) {
    int n = 0;
    for (int k = 0; k < table_rows; k++) n += built_here(&table[k]);
    return n;
}

__attribute__((visibility("hidden"))) const char *ssm_support_tier_name(int i) {
    const struct ssm_tier_row *row = row_at(i);
    return row ? row->name : "";
}

__attribute__((visibility("hidden"))) int ssm_support_tier_runs(int i) {
    const struct ssm_tier_row *row = row_at(i);
    if (!row) return 0;
    int runs = 1;
    for (const char *p = row->features; *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (len == 0) break;
        int has = has_feature(p, len);
        if (has < 0) return -1;
        runs &= has;
        p += len;
    }
    return runs;
}
