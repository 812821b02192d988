import SoftmaxCore

/// How per-sample losses are combined (PyTorch's `reduction`). The raw values are the C ABI's
/// `ssm_reduction`.
public enum Reduction: Int32, Sendable, CaseIterable {
    /// One loss per sample.
    case none = 0
    /// The weighted mean: Σ l_n / Σ w[y_n] over non-ignored samples (integer targets), or
    /// Σ l_n / (number of samples) (probability targets).
    case mean = 1
    /// Σ l_n.
    case sum = 2

    /// The reduction with C code `code`; throws `.invalidArgument` for any other value.
    public init(code: Int32) throws(SoftmaxError) {
        guard let r = Reduction(rawValue: code) else {
            throw SoftmaxError(.invalidArgument, "reduction must be 0 (none), 1 (mean) or 2 (sum), got \(code)")
        }
        self = r
    }
}

/// Cross-entropy of logits against integer class labels, with PyTorch's semantics, and
/// optionally its gradient in the same pass.
///
/// The logits are `[outer, n, inner]` with the classes along `n` (PyTorch's `(N, C, d1, …)` is
/// `outer = N, n = C, inner = d1·d2·…`); `labels` is `[outer, inner]`. With `p = softmax(x)`:
///
/// - `l = (1 - ε) · (-w[y] log p[y]) + (ε / C) · Σ_c (-w[c] log p[c])`, and `l = 0` for a sample
///   whose label equals `ignoreIndex` (in both terms);
/// - `.mean` divides Σ l by Σ w[y] over the non-ignored samples (NaN when all are ignored),
///   `.sum` returns Σ l, `.none` writes one loss per sample into `loss` (`outer · inner` values);
/// - `gradient` (optional, shaped like the logits; may be `logits` itself) receives the gradient
///   of the reduced loss; for `.none` that of Σ l. Ignored samples get 0.
///
/// Losses are computed in log space: `-log p[y] = log1p(Σ_{c≠max} e^{x_c - m}) + (m - x_y)`, so
/// a confident correct prediction keeps full relative precision (logits `[0, 25]`, label 1:
/// `log1p(e^-25) ≈ 1.3888e-11`, where `-log(softmax)` gives 0). The target class's gradient is
/// `-(Σ of the other exponentials) / S`, never `p - 1`. All -inf logits give a zero gradient.
///
/// ```swift
/// let logits: [Double] = [0, 2, 4]
/// let label: [Int64] = [2]
/// var loss = 0.0
/// var grad = [Double](repeating: 0, count: 3)
/// try crossEntropy(logits, labels: label, shape: RowShape(n: 3), loss: &loss, gradient: &grad)
/// // loss = -log(0.8668) = 0.14293; grad = [0.0159, 0.1173, -0.1332]
/// ```
///
/// The options large-vocabulary training uses (docs/design.md, "Cross-entropy options"):
///
/// - `sampleWeight` (`outer · inner` values, finite, >= 0) multiplies each sample's loss; `.mean`
///   then divides by Σ w[y_n]·sampleWeight[n] over the non-ignored samples;
/// - `zLoss` (finite, >= 0) adds `zLoss · lse²` to each sample's loss, with the same weight
///   w[y]·sampleWeight[n] (lse: the sample's logsumexp), and its gradient `2 z lse p` in the same pass;
/// - `softcap` (finite, > 0) replaces the logits by `cap · tanh(x / cap)` inside the pass, the
///   gradient taken back through it (factor `1 - tanh²`);
/// - `lse` (`outer · inner` values) receives each sample's logsumexp (of the capped logits),
///   ignored samples included.
///
/// - Throws: before anything is written: `.labelOutOfRange` naming the first label outside
///   `[0, n)` that is not `ignoreIndex` and its position; `.invalidArgument` when
///   `labelSmoothing` is not in [0, 1], a sample weight is negative or not finite, `zLoss` is
///   negative or not finite, `softcap` is not finite and > 0; `.nullPointer`;
///   `.overlappingBuffers`; `.invalidShape`.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func crossEntropy<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, labels: UnsafePointer<Int64>?, weight: UnsafePointer<T>? = nil,
    shape: RowShape, ignoreIndex: Int64 = -100, labelSmoothing: T = 0, reduction: Reduction = .mean,
    loss: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>? = nil,
    sampleWeight: UnsafePointer<T>? = nil, zLoss: Double = 0, softcap: Double? = nil,
    lse: UnsafeMutablePointer<T>? = nil
) throws(SoftmaxError) {
    try Check.pointer(labels, count: shape.slices, "labels")
    try checkLossArguments(logits, nil, weight, shape, labelSmoothing, reduction, loss, gradient)
    let options = try CrossEntropyOptions(shape, sampleWeight, zLoss, softcap, lse, logits: logits, targets: nil,
                                          labels: labels, weight: weight, loss: loss, lossCount: lossCount(shape, reduction),
                                          gradient: gradient)
    try Check.disjoint(loss, lossCount(shape, reduction) * MemoryLayout<T>.stride, "loss",
                       labels, shape.slices * 8, "labels", allowAlias: false)
    try Check.disjoint(gradient, shape.count * MemoryLayout<T>.stride, "gradient",
                       labels, shape.slices * 8, "labels", allowAlias: false)
    // Labels are checked, and the mean's denominator summed, before anything is written.
    var denominator = CompensatedSum()
    if let labels {
        let n = Int64(shape.n)
        for k in 0..<shape.slices {
            let label = labels[k]
            if label == ignoreIndex { continue }
            guard label >= 0 && label < n else {
                throw SoftmaxError(.labelOutOfRange,
                                   "labels[\(k)] = \(label) is outside [0, \(shape.n)) and is not ignore_index (\(ignoreIndex))")
            }
            let w = weight.map { $0[Int(label)].double } ?? 1
            denominator.add(sampleWeight.map { w * $0[k].double } ?? w)
        }
    }
    try runCrossEntropy(logits, labels, nil, weight, shape, ignoreIndex, labelSmoothing, reduction,
                        loss, gradient, denominator: denominator.value, options)
}

/// Cross-entropy of logits against probability targets (soft labels) shaped like the logits,
/// with PyTorch's semantics, and optionally its gradient in the same pass.
///
/// `l = -Σ_c w[c] q'[c] log p[c]` with `q' = q (1 - ε) + ε / C`. `.mean` divides Σ l by the number
/// of samples (`outer · inner`), whatever the weights, or by Σ sampleWeight when given.
/// `gradient` may be `logits` or `targets` itself. Terms with `q'[c] w[c] = 0` contribute 0 even
/// where `log p[c] = -inf`. The options are those of the integer-label form, the z-loss weighted
/// by the sample weight alone (a probability target has no one class weight).
///
/// ```swift
/// let logits: [Float] = [0, 2, 4]
/// let q: [Float] = [0, 0.5, 0.5]
/// var loss: Float = 0
/// try crossEntropy(logits, targets: q, shape: RowShape(n: 3), loss: &loss)   // 1.1429
/// ```
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func crossEntropy<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, targets: UnsafePointer<T>?, weight: UnsafePointer<T>? = nil,
    shape: RowShape, labelSmoothing: T = 0, reduction: Reduction = .mean,
    loss: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>? = nil,
    sampleWeight: UnsafePointer<T>? = nil, zLoss: Double = 0, softcap: Double? = nil,
    lse: UnsafeMutablePointer<T>? = nil
) throws(SoftmaxError) {
    try Check.pointer(targets, count: shape.count, "targets")
    try checkLossArguments(logits, targets, weight, shape, labelSmoothing, reduction, loss, gradient)
    let options = try CrossEntropyOptions(shape, sampleWeight, zLoss, softcap, lse, logits: logits, targets: targets,
                                          labels: nil, weight: weight, loss: loss, lossCount: lossCount(shape, reduction),
                                          gradient: gradient)
    var denominator = Double(shape.slices)
    if let sampleWeight {
        var sum = CompensatedSum()
        for k in 0..<shape.slices { sum.add(sampleWeight[k].double) }
        denominator = sum.value
    }
    try runCrossEntropy(logits, nil, targets, weight, shape, 0, labelSmoothing, reduction,
                        loss, gradient, denominator: denominator, options)
}

/// The cross-entropy of one row of logits against one label.
///
/// ```swift
/// try crossEntropy([0, 2, 4] as [Double], label: 2)   // 0.14293 = -log(0.8668)
/// ```
public func crossEntropy<T: SoftmaxScalar>(_ logits: [T], label: Int64) throws(SoftmaxError) -> T {
    let shape = try RowShape(n: logits.count)
    var out = T.zero
    var lab = label
    try logits.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try crossEntropy(xb.baseAddress, labels: &lab, shape: shape, loss: &out)
    }
    return out
}

/// The options of one call, checked (before anything is written).
private struct CrossEntropyOptions<T: SoftmaxScalar> {
    var sampleWeight: UnsafePointer<T>?
    var zLoss: Double
    /// 0 for none.
    var softcap: Double
    var lse: UnsafeMutablePointer<T>?

    init(
        _ shape: RowShape, _ sampleWeight: UnsafePointer<T>?, _ zLoss: Double, _ softcap: Double?,
        _ lse: UnsafeMutablePointer<T>?, logits: UnsafePointer<T>?, targets: UnsafePointer<T>?,
        labels: UnsafePointer<Int64>?, weight: UnsafePointer<T>?, loss: UnsafeMutablePointer<T>?, lossCount: Int,
        gradient: UnsafeMutablePointer<T>?
    ) throws(SoftmaxError) {
        guard zLoss.isFinite, zLoss >= 0 else {
            throw SoftmaxError(.invalidArgument, "z_loss must be finite and >= 0, got \(zLoss)")
        }
        if let softcap, !(softcap.isFinite && softcap > 0) {
            throw SoftmaxError(.invalidArgument, "softcap must be finite and > 0, got \(softcap)")
        }
        let size = MemoryLayout<T>.stride
        let slices = shape.slices, perSample = slices * size, bytes = shape.count * size
        if let sampleWeight {
            for k in 0..<slices {
                let v = sampleWeight[k]
                guard v.isFinite, v >= 0 else {
                    throw SoftmaxError(.invalidArgument, "sample_weight[\(k)] must be finite and >= 0, got \(v)")
                }
            }
            try Check.disjoint(loss, lossCount * size, "loss", sampleWeight, perSample, "sample_weight", allowAlias: false)
            try Check.disjoint(gradient, bytes, "gradient", sampleWeight, perSample, "sample_weight", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", sampleWeight, perSample, "sample_weight", allowAlias: false)
        }
        if let lse {
            try Check.disjoint(lse, perSample, "lse", logits, bytes, "logits", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", targets, bytes, "targets", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", labels, slices * 8, "labels", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", weight, shape.n * size, "weight", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", loss, lossCount * size, "loss", allowAlias: false)
            try Check.disjoint(lse, perSample, "lse", gradient, bytes, "gradient", allowAlias: false)
        }
        self.sampleWeight = sampleWeight
        self.zLoss = zLoss
        self.softcap = softcap ?? 0
        self.lse = lse
    }
}

private func lossCount(_ shape: RowShape, _ reduction: Reduction) -> Int {
    reduction == .none ? shape.slices : 1
}

private func checkLossArguments<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, _ targets: UnsafePointer<T>?, _ weight: UnsafePointer<T>?,
    _ shape: RowShape, _ labelSmoothing: T, _ reduction: Reduction,
    _ loss: UnsafeMutablePointer<T>?, _ gradient: UnsafeMutablePointer<T>?
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride
    let bytes = shape.count * size
    let lossBytes = lossCount(shape, reduction) * size
    try Check.pointer(logits, count: shape.count, "logits")
    try Check.pointer(loss, count: lossCount(shape, reduction), "loss")
    guard labelSmoothing.isFinite, labelSmoothing >= 0, labelSmoothing <= 1 else {
        throw SoftmaxError(.invalidArgument, "label_smoothing must be in [0, 1], got \(labelSmoothing)")
    }
    try Check.disjoint(loss, lossBytes, "loss", logits, bytes, "logits", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", targets, bytes, "targets", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", weight, shape.n * size, "weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", logits, bytes, "logits", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", targets, bytes, "targets", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", weight, shape.n * size, "weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", loss, lossBytes, "loss", allowAlias: false)
}

/// Samples per block of the reduction: blocks depend only on the shape, never on the thread
/// count, so sums (and results) are bitwise identical for any number of threads.
/// Samples per partial sum: at most 1024 partial sums, in whole groups of eight samples (the
/// kernels' vector width), and never depending on the thread count.
/// Samples per unit of work: about a thousandth of them, a multiple of eight, and for a
/// non-last class axis at least the kernels' block of columns (512), which they walk together.
func blockSize(_ slices: Int, inner: Int) -> Int {
    let block = ((slices + 1023) / 1024 + 7) / 8 * 8
    return inner > 1 ? max(block, 512) : block
}

private func runCrossEntropy<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, _ labels: UnsafePointer<Int64>?, _ targets: UnsafePointer<T>?,
    _ weight: UnsafePointer<T>?, _ shape: RowShape, _ ignoreIndex: Int64, _ labelSmoothing: T,
    _ reduction: Reduction, _ loss: UnsafeMutablePointer<T>?, _ gradient: UnsafeMutablePointer<T>?,
    denominator: Double, _ options: CrossEntropyOptions<T>
) throws(SoftmaxError) {
    let slices = shape.slices
    guard slices > 0, shape.n > 0, let logits else {
        // No samples, or no classes (the logits may then be null): every per-sample loss is an
        // empty sum, 0; the sum is 0 and the mean 0 / denominator (NaN without samples, or when
        // every label is ignored, as it must be without classes). The gradient is empty.
        if let loss {
            if reduction == .none {
                loss.update(repeating: 0, count: slices)
            } else {
                loss[0] = reduction == .sum ? 0 : T(rounding: 0 / denominator)
            }
        }
        // The logsumexp of no classes is -inf.
        options.lse?.update(repeating: T(rounding: -Double.infinity), count: slices)
        return
    }
    let divisor: Double
    switch reduction {
    case .mean: divisor = denominator == 0 ? .infinity : denominator  // all ignored: zero gradient
    case .sum, .none: divisor = 1
    }
    let problem = CrossEntropyProblem(
        logits: logits, labels: labels, targets: targets, weight: weight, n: shape.n,
        inner: shape.inner, ignoreIndex: ignoreIndex, smoothing: labelSmoothing.double,
        perSample: reduction == .none ? loss : nil,
        gradient: shape.count > 0 ? gradient : nil, gradientDivisor: divisor,
        sampleWeight: options.sampleWeight, zLoss: options.zLoss, softcap: options.softcap, lse: options.lse)
    let block = blockSize(slices, inner: shape.inner)
    let blocks = (slices + block - 1) / block
    let cost = max(1, block * shape.n * (gradient == nil ? 3 : 5))
    let total = withUnsafeTemporaryAllocation(of: CompensatedSumWithSpecials.self, capacity: blocks) { partial in
        let base = partial.baseAddress!
        Threads.forEachChunk(units: blocks, costPerUnit: cost) { r in
            for b in r {
                let lo = b * block
                (base + b).initialize(to: Tier.kernels.crossEntropy(problem, slices: lo..<min(slices, lo + block)))
            }
        }
        var t = CompensatedSumWithSpecials()
        for b in 0..<blocks { t.add(base[b]) }
        return t
    }
    guard reduction != .none, let loss else { return }
    loss[0] = T(rounding: reduction == .sum ? total.value : total.value / denominator)
}
