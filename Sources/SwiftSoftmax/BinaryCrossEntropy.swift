import SoftmaxCore

/// Binary cross-entropy between logits and targets in [0, 1], with the semantics of PyTorch's
/// `binary_cross_entropy_with_logits`, and optionally its gradient in the same pass.
///
/// The arrays are `shape.outer` rows of `shape.n` classes (`shape.inner` must be 1). Per element,
/// with σ the logistic sigmoid, `u = 1 - t` and `v = pw·t`:
///
/// - `l = -w · [v · log σ(x) + u · log(1 - σ(x))]`, computed as
///   `w · (m·|x| + (u + v)·log1p(e^-|x|))` (`m = u` for x >= 0, `v` below), a sum of terms >= 0:
///   confident logits keep full relative precision (x = 40, t = 1: `4.25e-18`, where
///   `-log(sigmoid(x))` gives 0) and a large |x| with a positive weight never gives NaN;
/// - `weight` (optional): one weight per element; `posWeight` (optional): one per class
///   (element (r, c) takes `posWeight[c]`), PyTorch's `pos_weight` along the last dimension;
/// - `.mean` divides Σ l by the element count, `.sum` returns Σ l, `.none` writes every `l`;
/// - `gradient` (optional, one value per element; may be `logits` or `targets` itself)
///   receives the gradient of the reduced loss (for `.none` that of Σ l),
///   `w · [u·σ(x) - v·σ(-x)]` over one denominator, never through `σ(x) - 1`.
///
/// Unlike PyTorch, the arguments are checked: targets must lie in [0, 1] (NaN refused) and
/// weights be finite and >= 0, the domain where the loss is a sum of non-negative terms. A zero
/// weight, or a zero coefficient of an infinite logit, contributes 0 (the limit; PyTorch's
/// `0·inf` is NaN). NaN logits give NaN.
///
/// ```swift
/// let x: [Double] = [0, 40, -3]
/// let t: [Double] = [1, 1, 0.25]
/// var loss = 0.0
/// var grad = [Double](repeating: 0, count: 3)
/// try binaryCrossEntropyWithLogits(x, targets: t, shape: RowShape(n: 3), loss: &loss, gradient: &grad)
/// // loss = (0.6931 + 4.25e-18 + 0.7986) / 3 = 0.4972; grad = [-0.1667, -1.42e-18, -0.0677]
/// ```
///
/// - Throws: before anything is written: `.invalidArgument` naming the first target outside
///   [0, 1] or weight that is negative or not finite, and its position; `.invalidShape` when
///   `shape.inner != 1`; `.nullPointer`; `.overlappingBuffers`.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func binaryCrossEntropyWithLogits<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, targets: UnsafePointer<T>?, weight: UnsafePointer<T>? = nil,
    posWeight: UnsafePointer<T>? = nil, shape: RowShape, reduction: Reduction = .mean,
    loss: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>? = nil
) throws(SoftmaxError) {
    guard shape.inner == 1 else {
        throw SoftmaxError(.invalidShape, "shape \(shape): binary cross-entropy takes rows of classes (inner = 1)")
    }
    let count = shape.count, size = MemoryLayout<T>.stride
    let bytes = count * size, pwBytes = shape.n * size
    let lossCount = reduction == .none ? count : 1
    let lossBytes = lossCount * size
    try Check.pointer(logits, count: count, "logits")
    try Check.pointer(targets, count: count, "target")
    try Check.pointer(loss, count: lossCount, "loss")
    try Check.disjoint(loss, lossBytes, "loss", logits, bytes, "logits", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", targets, bytes, "target", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", weight, bytes, "weight", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", posWeight, pwBytes, "pos_weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", logits, bytes, "logits", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", targets, bytes, "target", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", weight, bytes, "weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", posWeight, pwBytes, "pos_weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", loss, lossBytes, "loss", allowAlias: false)
    if let targets, let k = firstOutside(targets, count, upTo: 1) {
        throw SoftmaxError(.invalidArgument, "target[\(k)] = \(targets[k]) is outside [0, 1]")
    }
    if let weight, let k = firstOutside(weight, count, upTo: .greatestFiniteMagnitude) {
        throw SoftmaxError(.invalidArgument, "weight[\(k)] = \(weight[k]): weights must be finite and >= 0")
    }
    if let posWeight, let k = firstOutside(posWeight, shape.n, upTo: .greatestFiniteMagnitude) {
        throw SoftmaxError(.invalidArgument, "pos_weight[\(k)] = \(posWeight[k]): weights must be finite and >= 0")
    }
    guard count > 0, let logits, let targets else {
        // No elements: the sum is 0 and the mean 0/0 = NaN, as PyTorch's mean of nothing.
        if let loss, reduction != .none { loss[0] = reduction == .sum ? 0 : .nan }
        return
    }
    let problem = BinaryCrossEntropyProblem(
        logits: logits, targets: targets, weight: weight, posWeight: posWeight, n: shape.n,
        perElement: reduction == .none ? loss : nil, gradient: gradient,
        gradientDivisor: reduction == .mean ? Double(count) : 1)
    // Blocks depend only on the element count (at most 1024 partial sums, whole vectors, at
    // least 1024 elements: each block ends in a scalar fold of its lanes), never on the thread
    // count, so the reduced loss is bitwise identical for any number of threads.
    let block = max(1024, ((count + 1023) / 1024 + 7) / 8 * 8)
    let blocks = (count + block - 1) / block
    let total = withUnsafeTemporaryAllocation(of: CompensatedSumWithSpecials.self, capacity: blocks) { partial in
        let base = partial.baseAddress!
        Threads.forEachChunk(units: blocks, costPerUnit: block * (gradient == nil ? 12 : 20)) { r in
            for b in r {
                let lo = b * block
                (base + b).initialize(to: Tier.kernels.binaryCrossEntropyWithLogits(problem, range: lo..<min(count, lo + block)))
            }
        }
        var t = CompensatedSumWithSpecials()
        for b in 0..<blocks { t.add(base[b]) }
        return t
    }
    guard reduction != .none, let loss else { return }
    let (hi, lo) = total.pair
    if reduction == .sum || !hi.isFinite {
        loss[0] = T(rounding: reduction == .sum ? hi + lo : hi / Double(count))
    } else {
        // The compensated sum divided by the count, rounded once.
        let n = Double(count), q = hi / n
        let p = twoProduct(q, n)
        loss[0] = T(rounding: q + ((hi - p.hi) - p.lo + lo) / n)
    }
}

/// The first index whose value is not in [0, upper] (NaN included), or nil. The check must be
/// done before the kernel writes anything (the gradient may be the targets' own buffer), so it
/// is a pass of its own; its blocks go to the worker threads (a serial pass was an eighth of a
/// two-thread call), and the first failing block names the element, the same for any thread
/// count.
private func firstOutside<T: SoftmaxScalar>(_ p: UnsafePointer<T>, _ count: Int, upTo upper: T) -> Int? {
    let block = 1 << 15
    let blocks = (count + block - 1) / block
    guard blocks > 1 else { return firstOutside(p, 0..<count, upTo: upper) }
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: blocks) { found in
        let base = found.baseAddress!
        Threads.forEachChunk(units: blocks, costPerUnit: block / 4) { r in
            for b in r {
                (base + b).initialize(to: firstOutside(p, b * block..<min(count, (b + 1) * block), upTo: upper) ?? -1)
            }
        }
        return found.first { $0 >= 0 }
    }
}

/// `firstOutside` of the elements `range`: eight lanes at a time without a branch per element,
/// then the failing range searched.
private func firstOutside<T: SoftmaxScalar>(_ p: UnsafePointer<T>, _ range: Range<Int>, upTo upper: T) -> Int? {
    let zero = SIMD8<Double>(repeating: 0), top = SIMD8<Double>(repeating: upper.double)
    var outside = SIMDMask<SIMD8<Int64>>(repeating: false)
    let end = range.upperBound
    var i = range.lowerBound
    while i + 8 <= end {
        let v = T.load8(p + i)
        outside .|= .!((v .>= zero) .& (v .<= top))
        i += 8
    }
    var bad = any(outside)
    for j in i..<end where !(p[j] >= 0 && p[j] <= upper) { bad = true }
    guard bad else { return nil }
    return range.first { !(p[$0] >= 0 && p[$0] <= upper) }
}

/// The binary cross-entropy with logits of one row against its targets, reduced by `reduction`
/// (`.mean` or `.sum`).
///
/// ```swift
/// try binaryCrossEntropyWithLogits([0, 40] as [Double], targets: [1, 1], reduction: .sum)   // 0.6931
/// ```
public func binaryCrossEntropyWithLogits<T: SoftmaxScalar>(
    _ logits: [T], targets: [T], reduction: Reduction = .mean
) throws(SoftmaxError) -> T {
    guard logits.count == targets.count else {
        throw SoftmaxError(.invalidShape, "target: expected \(logits.count) values (the logits' count), got \(targets.count)")
    }
    guard reduction != .none else {
        throw SoftmaxError(.invalidArgument, "reduction: one row reduces to one value: use .mean or .sum")
    }
    let shape = try RowShape(n: logits.count)
    var out = T.zero
    try logits.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try targets.withUnsafeBufferPointer { (tb) throws(SoftmaxError) in
            try binaryCrossEntropyWithLogits(xb.baseAddress, targets: tb.baseAddress, shape: shape,
                                             reduction: reduction, loss: &out)
        }
    }
    return out
}
