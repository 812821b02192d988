import SoftmaxCore

/// Softmax along the middle axis of a C-contiguous `[outer, n, inner]` array:
/// `y = exp((x - max) / T) / sum(exp((x - max) / T))`.
///
/// `y` may be `x` itself (in place) but must not overlap it otherwise. Special values: a NaN
/// makes its whole slice NaN; k entries of +inf get 1/k each and the rest 0; an all -inf slice
/// gives 0 everywhere.
///
/// ```swift
/// let x: [Float] = [0, 2, 4, 1, 1, 1]           // two rows of three
/// var y = [Float](repeating: 0, count: 6)
/// try softmax(x, into: &y, shape: RowShape(outer: 2, n: 3))
/// // [0.0159, 0.1173, 0.8668, 0.3333, 0.3333, 0.3333]
/// ```
///
/// - Throws: `SoftmaxError` (`.nullPointer`, `.overlappingBuffers`, `.invalidArgument` for a
///   temperature that is not finite and positive) before anything is written.
public func softmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try softmaxFamily(x, nil, y, shape, temperature, masked: false, log: false)
}

/// Log-softmax along the middle axis: `(x - max)/T - log(sum(exp((x - max)/T)))`, computed in
/// log space (never as `log(softmax)`), so log-probabilities near 0 keep full relative precision.
///
/// ```swift
/// let x: [Double] = [0, 2, 4]
/// var y = [Double](repeating: 0, count: 3)
/// try logSoftmax(x, into: &y, shape: RowShape(n: 3))  // [-4.1429, -2.1429, -0.1429]
/// ```
public func logSoftmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try softmaxFamily(x, nil, y, shape, temperature, masked: false, log: true)
}

/// Softmax over the entries where `mask` is non-zero; masked-out entries get probability 0.
/// `mask` has one byte per element of `x`. A fully masked slice gives 0 everywhere.
public func softmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>?, into y: UnsafeMutablePointer<T>?,
    shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try softmaxFamily(x, mask, y, shape, temperature, masked: true, log: false)
}

/// Log-softmax over the entries where `mask` is non-zero; masked-out entries get -inf.
public func logSoftmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>?, into y: UnsafeMutablePointer<T>?,
    shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try softmaxFamily(x, mask, y, shape, temperature, masked: true, log: true)
}

// The public entry points forward here; the work is specialised for Float and Double here, where
// it happens, and a generic call reaches the specialisation by a type check.
@_specialize(where T == Float)
@_specialize(where T == Double)
func softmaxFamily<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?,
    _ shape: RowShape, _ temperature: T, masked: Bool, log: Bool
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(y, count: shape.count, "y")
    if masked { try Check.pointer(mask, count: shape.count, "mask") }
    try Check.disjoint(y, bytes, "y", x, bytes, "x", allowAlias: true)
    if masked { try Check.disjoint(y, bytes, "y", mask, shape.count, "mask", allowAlias: false) }
    try Check.temperature(temperature)
    guard shape.count > 0, let x, let y else { return }
    let m = masked ? mask : nil
    if LongRows.applies(shape) {
        LongRows.softmax(x, m, y, shape, temperature, log: log)
        return
    }
    let k = Tier.kernels
    let units = k.units(outer: shape.outer, n: shape.n, inner: shape.inner)
    Threads.forEachChunk(units: units, costPerUnit: shape.count / max(1, units) * 3) { r in
        k.softmax(x, y, mask: m, outer: shape.outer, n: shape.n, inner: shape.inner, units: r, temperature: temperature, log: log)
    }
}
