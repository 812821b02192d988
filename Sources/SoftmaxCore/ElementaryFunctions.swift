#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Scalar elementary functions in Double. The kernels call these through one name each, so a
// vectorised version can replace one without touching the algorithms.

@inlinable @inline(__always) package func expD(_ x: Double) -> Double { exp(x) }
@inlinable @inline(__always) package func logD(_ x: Double) -> Double { log(x) }
@inlinable @inline(__always) package func log1pD(_ x: Double) -> Double { log1p(x) }
@inlinable @inline(__always) package func tanhD(_ x: Double) -> Double { tanh(x) }

/// exp(hi + lo) for a small correction lo (|lo| <= ulp(hi)): exp(hi) * (1 + lo).
@inlinable @inline(__always) package func expPair(_ hi: Double, _ lo: Double) -> Double {
    let e = expD(hi)
    return e.addingProduct(e, lo)
}

/// log(1 + (hi + lo)) as a double-double, for hi >= 0 and |lo| tiny next to 1 + hi.
@inlinable @inline(__always) package func log1pPair(_ hi: Double, _ lo: Double) -> (hi: Double, lo: Double) {
    let l = log1pD(hi)
    // d/ds log1p(s) = 1/(1+s): first-order correction for the low part of the sum.
    return (l, lo / (1 + hi))
}
