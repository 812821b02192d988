import SoftmaxCore

/// The running log-sum-exp `y[k] = log(Σ_{i<=k} exp(x[i]))` along the middle axis of an
/// `[outer, n, inner]` array (`torch.logcumsumexp`, `jax.lax.cumlogsumexp`); `y` has the shape
/// of `x` and may be `x` (in place).
///
/// Each result is within 2 ulps of the exact value, also where it cancels to near 0 (a negative
/// running maximum whose log-sum nearly offsets it). Special values (docs/design.md, "Special
/// values"): -inf entries are left out, so a leading run of -inf gives -inf; from the first
/// +inf on, every result is +inf; from the first NaN on, every result is NaN (the earlier ones
/// are unaffected, as in PyTorch).
///
/// ```swift
/// let x: [Double] = [-.infinity, 0, 0, 1000]
/// var y = [Double](repeating: 0, count: 4)
/// try logCumSumExp(x, into: &y, shape: RowShape(n: 4))   // [-inf, 0, 0.6931, 1000]
/// ```
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logCumSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, shape: RowShape
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(y, count: shape.count, "y")
    try Check.disjoint(y, bytes, "y", x, bytes, "x", allowAlias: true)
    guard shape.count > 0, let x, let y else { return }
    let k = Tier.kernels
    let units = k.scanUnits(outer: shape.outer, n: shape.n, inner: shape.inner)
    // About 40 operations an element: far more than a pass of the softmax family.
    Threads.forEachChunk(units: units, costPerUnit: shape.count / max(1, units) * 40) { r in
        k.logcumsumexp(x, y, outer: shape.outer, n: shape.n, inner: shape.inner, units: r)
    }
}
