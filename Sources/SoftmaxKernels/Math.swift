#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Scalar elementary functions in Double. The row kernels call these through one name each, so the
// vectorised versions replace them without touching the algorithms.

@inline(__always) func expD(_ x: Double) -> Double { exp(x) }
@inline(__always) func logD(_ x: Double) -> Double { log(x) }
@inline(__always) func log1pD(_ x: Double) -> Double { log1p(x) }

/// exp(hi + lo) for a small correction lo (|lo| <= ulp(hi)): exp(hi) * (1 + lo).
@inline(__always) func expPair(_ hi: Double, _ lo: Double) -> Double {
    let e = expD(hi)
    return e.addingProduct(e, lo)
}

/// log(1 + (hi + lo)) as a double-double, for hi >= 0 and |lo| tiny next to 1 + hi.
@inline(__always) func log1pPair(_ hi: Double, _ lo: Double) -> (hi: Double, lo: Double) {
    let l = log1pD(hi)
    // d/ds log1p(s) = 1/(1+s): first-order correction for the low part of the sum.
    return (l, lo / (1 + hi))
}
