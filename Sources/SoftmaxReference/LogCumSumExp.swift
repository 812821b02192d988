import SoftmaxCore

extension Reference {
    /// The running log-sum-exp along the middle axis of an [outer, n, inner] array, slice by
    /// slice in double-double (`LogCumSumExpScan.precise`): the specification of every tier's
    /// `logcumsumexp`, within about half an ulp of the exact value. `y` may be `x` exactly.
    public static func logCumSumExp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int
    ) {
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * n * inner + j
                LogCumSumExpScan.precise(x + base, stride: inner, y + base, stride: inner, count: n)
            }
        }
    }
}
