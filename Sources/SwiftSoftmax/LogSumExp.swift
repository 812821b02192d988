import SoftmaxCore
import SoftmaxScalarKernels

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

/// `log|Σ b·exp(x)|` along the middle axis of an `[outer, n, inner]` array, with scale factors
/// `b` of the same shape, one result per slice written to `out` (`outer · inner` values).
///
/// The scale factors may be zero or negative, so the sum may cancel: it is formed in
/// double-double, so that the result stays within 2 ulp of the exact `log|Σ b·exp(x)|`
/// wherever that sum is not 0 and cancels to no less than about 2^-45 of `Σ|b·exp(x)|`
/// (docs/accuracy.md, "Scale factors"). An entry whose `b` is 0 takes no part, whatever its
/// `x` (as in SciPy). `sign`, when given, receives the sign of each sum (1, -1, 0 for an exact
/// or empty 0, NaN for NaN), and `out` the log of its magnitude; without `sign`, a negative sum
/// gives NaN. Special values: docs/design.md, "Scaled logsumexp".
///
/// ```swift
/// let x: [Double] = [1, 2], b: [Double] = [1, -1]
/// var out = [0.0], sign = [0.0]
/// try logSumExp(x, scaledBy: b, into: &out, sign: &sign, shape: RowShape(n: 2))
/// // out = [1.5413248546129181] (log(e^2 - e)), sign = [-1]
/// ```
///
/// - Throws: `.nullPointer`, `.overlappingBuffers` (an output overlapping an input or the other
///   output), before any write.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, scaledBy b: UnsafePointer<T>?, into out: UnsafeMutablePointer<T>?,
    sign: UnsafeMutablePointer<T>? = nil, shape: RowShape
) throws(SoftmaxError) {
    try scaledLogSumExp(x, b, nil, out, sign, shape, masked: false)
}

/// `log|Σ b·exp(x)|` over the entries where `mask` is non-zero (see
/// `logSumExp(_:scaledBy:into:sign:shape:)`).
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, scaledBy b: UnsafePointer<T>?, mask: UnsafePointer<UInt8>?,
    into out: UnsafeMutablePointer<T>?, sign: UnsafeMutablePointer<T>? = nil, shape: RowShape
) throws(SoftmaxError) {
    try scaledLogSumExp(x, b, mask, out, sign, shape, masked: true)
}

func scaledLogSumExp<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, _ b: UnsafePointer<T>?, _ mask: UnsafePointer<UInt8>?,
    _ out: UnsafeMutablePointer<T>?, _ sign: UnsafeMutablePointer<T>?, _ shape: RowShape, masked: Bool
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride
    let inBytes = shape.count * size, outBytes = shape.slices * size
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(b, count: shape.count, "b")
    if masked { try Check.pointer(mask, count: shape.count, "mask") }
    try Check.pointer(out, count: shape.slices, "out")
    for (p, name) in [(UnsafeRawPointer(out), "out"), (UnsafeRawPointer(sign), "sign")] {
        try Check.disjoint(p, outBytes, name, x, inBytes, "x", allowAlias: false)
        try Check.disjoint(p, outBytes, name, b, inBytes, "b", allowAlias: false)
        if masked { try Check.disjoint(p, outBytes, name, mask, shape.count, "mask", allowAlias: false) }
    }
    try Check.disjoint(sign, outBytes, "sign", out, outBytes, "out", allowAlias: false)
    guard shape.slices > 0, let out else { return }
    withDummy(x) { x in
        withDummy(b) { b in
            Threads.forEachChunk(units: shape.slices, costPerUnit: max(1, shape.n) * 60) { r in
                ScalarKernels.logSumExpScaled(x, b, mask: masked ? mask : nil, out, sign: sign,
                                              n: shape.n, inner: shape.inner, slices: r)
            }
        }
    }
}
