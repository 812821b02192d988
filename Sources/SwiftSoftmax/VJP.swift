import SoftmaxCore

/// The softmax vector-Jacobian product `dx = y ⊙ (g - ⟨g, y⟩) / T` along the middle axis of
/// an `[outer, n, inner]` array, where `y = softmax(x / T)` and `g = ∂loss/∂y`.
///
/// The Jacobian is symmetric, so this is also the Jacobian-vector product. `dx` may be `y` or
/// `g` itself (in place) but must not overlap them otherwise. Entries with `y = 0` (masked or
/// -inf logits) get exactly 0, so fully masked slices give zero gradients, never NaN.
///
/// ```swift
/// let y: [Double] = [0.25, 0.75]
/// let g: [Double] = [1, 0]
/// var dx = [Double](repeating: 0, count: 2)
/// try softmaxVJP(y, g, into: &dx, shape: RowShape(n: 2))   // [0.1875, -0.1875]
/// ```
///
/// - Throws: `.nullPointer`, `.overlappingBuffers`, `.invalidArgument` (temperature), before any write.
public func softmaxVJP<T: SoftmaxScalar>(
    _ y: UnsafePointer<T>?, _ g: UnsafePointer<T>?, into dx: UnsafeMutablePointer<T>?,
    shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try vjpFamily(y, "y", g, dx, shape, temperature, log: false)
}

/// The log-softmax vector-Jacobian product `dx = (g - exp(logy) Σg) / T` along the middle axis,
/// where `logy = log_softmax(x / T)` and `g = ∂loss/∂logy`.
///
/// `Σg` is compensated. A slice whose `logy` is all -inf (masked or all -inf logits) gives zero
/// gradients. `dx` may be `logy` or `g` itself.
///
/// ```swift
/// let logy: [Double] = [-4.142931628499899, -2.142931628499899, -0.142931628499899]
/// let g: [Double] = [0, 0, -1]          // the gradient of -logy[2]
/// var dx = [Double](repeating: 0, count: 3)
/// try logSoftmaxVJP(logy, g, into: &dx, shape: RowShape(n: 3))   // p - onehot(2)
/// ```
public func logSoftmaxVJP<T: SoftmaxScalar>(
    _ logy: UnsafePointer<T>?, _ g: UnsafePointer<T>?, into dx: UnsafeMutablePointer<T>?,
    shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try vjpFamily(logy, "logy", g, dx, shape, temperature, log: true)
}

// The public entry points forward here; the work is specialised for Float and Double here, where
// it happens, and a generic call reaches the specialisation by a type check.
@_specialize(where T == Float)
@_specialize(where T == Double)
func vjpFamily<T: SoftmaxScalar>(
    _ y: UnsafePointer<T>?, _ yName: String, _ g: UnsafePointer<T>?, _ dx: UnsafeMutablePointer<T>?,
    _ shape: RowShape, _ temperature: T, log: Bool
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    try Check.pointer(y, count: shape.count, yName)
    try Check.pointer(g, count: shape.count, "g")
    try Check.pointer(dx, count: shape.count, "dx")
    try Check.disjoint(dx, bytes, "dx", y, bytes, yName, allowAlias: true)
    try Check.disjoint(dx, bytes, "dx", g, bytes, "g", allowAlias: true)
    try Check.temperature(temperature)
    guard shape.count > 0, let y, let g, let dx else { return }
    let k = Tier.kernels
    let units = k.units(outer: shape.outer, n: shape.n, inner: shape.inner)
    Threads.forEachChunk(units: units, costPerUnit: shape.count / max(1, units) * 3) { r in
        k.vjp(y, g, dx, outer: shape.outer, n: shape.n, inner: shape.inner, units: r, temperature: temperature, log: log)
    }
}
