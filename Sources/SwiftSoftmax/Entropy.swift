import SoftmaxCore

/// The Shannon entropy H = -Σ P_i log P_i of P = softmax(x / T), one value per slice, and
/// optionally its gradient in the same call.
///
/// `logits` is `[outer, n, inner]` with the distributions along `n`; `out` receives the
/// `outer · inner` entropies (in nats). `gradient` (optional, shaped like the logits; may be
/// `logits` itself) receives the gradient of Σ_slices H: `-P_j (log P_j + H) / T`.
///
/// H is computed as `log S + U / S` with `S = Σ e^{s_i}`, `U = Σ e^{s_i}·(-s_i)`,
/// `s = (x - max) / T`: two non-negative parts, so a one-hot-like slice keeps the relative
/// precision of its tiny entropy (docs/design.md, "KL divergence, entropy and NLL").
///
/// Special values (docs/design.md, "Special values"): NaN gives NaN (NaN gradient); k entries
/// at +inf give log k (the uniform limit) and a zero gradient; an all -inf or empty slice has
/// no mass: 0, zero gradient.
///
/// ```swift
/// let x: [Double] = [0, 0, 0, 0]
/// var h = [0.0]
/// try entropy(x, into: &h, shape: RowShape(n: 4))   // log 4 = 1.3863
/// ```
///
/// - Throws: before anything is written: `.invalidArgument` for a temperature that is not
///   finite and > 0; `.nullPointer`; `.overlappingBuffers`.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func entropy<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, into out: UnsafeMutablePointer<T>?, shape: RowShape,
    temperature: T = 1, gradient: UnsafeMutablePointer<T>? = nil
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride, count = shape.count, bytes = count * size
    let slices = shape.slices, outBytes = slices * size
    try Check.pointer(logits, count: count, "logits")
    try Check.pointer(out, count: slices, "out")
    try Check.temperature(temperature)
    try Check.disjoint(out, outBytes, "out", logits, bytes, "logits", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", logits, bytes, "logits", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", out, outBytes, "out", allowAlias: false)
    guard slices > 0, let out else { return }
    guard count > 0, let logits else {
        // Empty distributions: an empty sum, 0.
        out.update(repeating: 0, count: slices)
        return
    }
    let problem = EntropyProblem(logits: logits, n: shape.n, inner: shape.inner,
                                 temperature: temperature.double, out: out, gradient: gradient)
    _ = sliceBlocks(slices, inner: shape.inner, cost: shape.n * (gradient == nil ? 6 : 10)) { r in
        Tier.kernels.entropy(problem, slices: r)
        return CompensatedSumWithSpecials()
    }
}

/// The entropy of one distribution given by its logits.
///
/// ```swift
/// try entropy([0, 0, 0, 0] as [Float])   // 1.3863
/// ```
public func entropy<T: SoftmaxScalar>(_ logits: [T], temperature: T = 1) throws(SoftmaxError) -> T {
    let shape = try RowShape(n: logits.count)
    var out = T.zero
    try logits.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try entropy(xb.baseAddress, into: &out, shape: shape, temperature: temperature)
    }
    return out
}
