import SoftmaxCore

extension ScalarKernels {
    /// Elementwise logistic sigmoid (or its logarithm when `log`) of `x[range]`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func sigmoid<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, range: Range<Int>, log: Bool
    ) {
        for k in range {
            let v = x[k].double
            // exp of the non-positive -|v| never overflows; the branch picks the stable form.
            let e = expD(-abs(v))
            let r: Double
            if log {
                r = (v < 0 ? v : 0) - log1pD(e)
            } else {
                // num / (1 + e) with 1 + e kept exactly as s + c (Fast2Sum, e <= 1) and the
                // quotient corrected by its exact remainder: only exp's error and one rounding.
                let num = v >= 0 ? 1 : e
                let s = 1 + e
                let c = (1 - s) + e
                let q = num / s
                r = q + (num.addingProduct(-q, s) - q * c) / s
            }
            y[k] = T(rounding: v.isNaN ? v : r)
        }
    }
}
