import SoftmaxCore

/// The negative log-likelihood loss of log-probabilities at integer class labels, with
/// PyTorch's semantics (`torch.nn.functional.nll_loss`).
///
/// `logProbs` is `[outer, n, inner]` with the classes along `n`; `labels` is `[outer, inner]`.
/// Per sample `l = -w[y] · logProbs[y]`, and `l = 0` where the label equals `ignoreIndex`;
/// `.none` writes the `outer · inner` losses into `loss`, `.sum` their sum, `.mean` their sum
/// divided by Σ w[y] over the non-ignored samples (NaN when every sample is ignored). The sums
/// are compensated. A zero weight contributes 0 even at a log-probability of -inf (the limit;
/// PyTorch's `0·inf` is NaN).
///
/// ```swift
/// let logp: [Double] = [-0.5, -1.5, -2.5]
/// var loss = 0.0
/// try nllLoss(logp, labels: [Int64(1)], shape: RowShape(n: 3), loss: &loss)   // 1.5
/// ```
///
/// - Throws: before anything is written: `.labelOutOfRange` naming the first label outside
///   `[0, n)` that is not `ignoreIndex` and its position; `.nullPointer`; `.overlappingBuffers`.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func nllLoss<T: SoftmaxScalar>(
    _ logProbs: UnsafePointer<T>?, labels: UnsafePointer<Int64>?, weight: UnsafePointer<T>? = nil,
    shape: RowShape, ignoreIndex: Int64 = -100, reduction: Reduction = .mean,
    loss: UnsafeMutablePointer<T>?
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride, slices = shape.slices
    let lossCount = reduction == .none ? slices : 1, lossBytes = lossCount * size
    try Check.pointer(logProbs, count: shape.count, "log_probs")
    try Check.pointer(labels, count: slices, "labels")
    try Check.pointer(loss, count: lossCount, "loss")
    try Check.disjoint(loss, lossBytes, "loss", logProbs, shape.count * size, "log_probs", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", labels, slices * 8, "labels", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", weight, shape.n * size, "weight", allowAlias: false)
    // Labels are checked, and the mean's denominator summed, before anything is written.
    var denominator = CompensatedSum()
    if let labels {
        let n = Int64(shape.n)
        // One branch-free vector pass (the tier's) finds whether any label is bad and counts the
        // others; only a bad one takes the loop that names it.
        let (valid, counted) = Tier.kernels.checkLabels(labels, count: slices, classes: shape.n, ignoreIndex: ignoreIndex)
        if !valid {
            for k in 0..<slices where labels[k] != ignoreIndex && !(labels[k] >= 0 && labels[k] < n) {
                throw SoftmaxError(.labelOutOfRange,
                                   "labels[\(k)] = \(labels[k]) is outside [0, \(shape.n)) and is not ignore_index (\(ignoreIndex))")
            }
        }
        if let weight {
            for k in 0..<slices where labels[k] != ignoreIndex { denominator.add(weight[Int(labels[k])].double) }
        } else {
            denominator.add(Double(counted))
        }
    }
    guard slices > 0, shape.count > 0, let logProbs, let labels else {
        // No samples, or no classes (every label is then ignored): losses 0, the mean 0/0.
        if let loss {
            if reduction == .none { loss.update(repeating: 0, count: slices) } else {
                loss[0] = reduction == .sum ? 0 : .nan
            }
        }
        return
    }
    let problem = NLLLossProblem(logProbs: logProbs, labels: labels, weight: weight, n: shape.n,
                                 inner: shape.inner, ignoreIndex: ignoreIndex,
                                 perSample: reduction == .none ? loss : nil)
    // Blocks of at least 512 samples: a block of a few samples spent more on its call than on
    // its gathers. A gather from a large array is a cache miss, about 3 ns: cost 8 a sample.
    let total = sliceBlocks(slices, inner: 1, cost: 8, minimumBlock: 512) { r in Tier.kernels.nllLoss(problem, slices: r) }
    guard reduction != .none, let loss else { return }
    loss[0] = T(rounding: reduced(total, reduction, denominator: denominator.value))
}
