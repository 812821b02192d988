import SoftmaxCore
import SoftmaxScalarKernels

extension Reference {
    /// Sum-normalisation x / sum(x) of slices `slices`: the specification of every tier's
    /// `normalize`. `y` may be `x` exactly.
    ///
    /// The sum is `CompensatedSumWithSpecials`, summed in order and rounded once to a Double;
    /// each result is the Double quotient rounded once into T. Zero or non-finite sums follow
    /// IEEE arithmetic (as NumPy's `x / x.sum()`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func normalize<T: SoftmaxScalar>(
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
