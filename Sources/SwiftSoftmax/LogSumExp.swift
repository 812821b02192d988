import SoftmaxCore

/// `log(sum(exp(x)))` along the middle axis of an `[outer, n, inner]` array, one result per
/// slice written to `out` (`outer · inner` values, in C order).
///
/// The result is `max + log1p(sum of the other terms)`, added in double-double, so it stays
/// accurate when it is close to 0. An empty or all -inf slice gives -inf, any +inf gives +inf,
/// any NaN gives NaN.
///
/// ```swift
/// let x: [Float] = [1000, 1000, 0, 0]   // two rows of two
/// var out = [Float](repeating: 0, count: 2)
/// try logSumExp(x, into: &out, shape: RowShape(outer: 2, n: 2))  // [1000.6931, 0.6931]
/// ```
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into out: UnsafeMutablePointer<T>?, shape: RowShape
) throws(SoftmaxError) {
    try logSumExpFamily(x, nil, out, shape, masked: false)
}

/// `log(sum(exp(x)))` over the entries where `mask` is non-zero.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>?, into out: UnsafeMutablePointer<T>?,
    shape: RowShape
) throws(SoftmaxError) {
    try logSumExpFamily(x, mask, out, shape, masked: true)
}

func logSumExpFamily<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>?,
    _ shape: RowShape, masked: Bool
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(out, count: shape.slices, "out")
    if masked { try Check.pointer(mask, count: shape.count, "mask") }
    try Check.disjoint(out, shape.slices * size, "out", x, shape.count * size, "x", allowAlias: false)
    if masked { try Check.disjoint(out, shape.slices * size, "out", mask, shape.count, "mask", allowAlias: false) }
    guard shape.slices > 0, let out else { return }
    withDummy(x) { x in
        if LongRows.applies(shape) {
            LongRows.logSumExp(x, masked ? mask : nil, out, shape)
            return
        }
        let k = Tier.kernels
        let units = k.units(outer: shape.outer, n: shape.n, inner: shape.inner)
        Threads.forEachChunk(units: units, costPerUnit: max(1, shape.count / max(1, units)) * 2) { r in
            k.logsumexp(x, out, mask: masked ? mask : nil, outer: shape.outer, n: shape.n, inner: shape.inner, units: r)
        }
    }
}

/// An empty reduction still produces results; its input pointer may be null, and the kernels
/// never read through it, but they take a non-optional pointer.
func withDummy<T: SoftmaxScalar>(_ p: UnsafePointer<T>?, _ body: (UnsafePointer<T>) -> Void) {
    if let p { body(p); return }
    var zero = T.zero
    withUnsafePointer(to: &zero) { body($0) }
}
