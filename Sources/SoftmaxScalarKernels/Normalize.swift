import SoftmaxCore

extension ScalarKernels {
    /// Sum-normalisation x / sum(x) of slices `slices`, with IEEE semantics for zero or
    /// non-finite sums (as NumPy's `x / x.sum()`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func normalize<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, n: Int, inner: Int, slices: Range<Int>
    ) {
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let sum = ScalarPass.rsum(x, s)
            let total = sum.hi + sum.lo
            for i in 0..<n {
                let k = s.offset(i)
                y[k] = T(rounding: x[k].double / total)
            }
        }
    }
}
