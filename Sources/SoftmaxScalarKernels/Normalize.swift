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
            var sum = CompensatedSum()
            var naive = 0.0  // carries inf/NaN, which the compensation would turn into NaN
            for i in 0..<n {
                let v = x[s.offset(i)].double
                sum.add(v)
                naive += v
            }
            let total = naive.isFinite ? sum.value : naive
            for i in 0..<n {
                let k = s.offset(i)
                y[k] = T(rounding: x[k].double / total)
            }
        }
    }
}
