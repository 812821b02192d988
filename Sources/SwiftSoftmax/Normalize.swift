import SoftmaxCore

/// Sum-normalisation `x / sum(x)` along the middle axis: the article's "standard
/// normalisation", kept for comparison with softmax. It is not offset-invariant and maps 0 to 0.
/// The sum is compensated; a zero or non-finite sum follows IEEE arithmetic, as NumPy does.
///
/// ```swift
/// let x: [Double] = [0, 2, 4]
/// var y = [Double](repeating: 0, count: 3)
/// try normalize(x, into: &y, shape: RowShape(n: 3))   // [0, 1/3, 2/3]
/// ```
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func normalize<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, shape: RowShape
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(y, count: shape.count, "y")
    try Check.disjoint(y, bytes, "y", x, bytes, "x", allowAlias: true)
    guard shape.count > 0, let x, let y else { return }
    let k = Tier.kernels
    let units = k.units(outer: shape.outer, n: shape.n, inner: shape.inner)
    Threads.forEachChunk(units: units, costPerUnit: shape.count / max(1, units) * 2) { r in
        k.normalize(x, y, outer: shape.outer, n: shape.n, inner: shape.inner, units: r)
    }
}
