import SoftmaxCore

/// The Kullback–Leibler divergence KL(P ‖ Q) between P = softmax(p / T) and Q = softmax(q / T),
/// one per slice, reduced by `reduction`, and optionally its gradients with respect to both
/// logits in the same call.
///
/// Both arrays are `[outer, n, inner]` with the distributions along `n`. Per slice,
/// `KL = Σ_i P_i (log P_i - log Q_i)`; `.none` writes the `outer · inner` divergences into `loss`,
/// `.sum` their sum and `.mean` their mean over the slices. `gradientP` and `gradientQ`
/// (optional, shaped like the logits; each may be its own input) receive the gradients of the
/// reduced value (for `.none`, of the sum): `P_j (d_j - KL) / T` and `(Q_j - P_j) / T` with
/// `d = log P - log Q`.
///
/// The divergence is computed as `Σ_i P_i φ(d_i)` with `φ(d) = e^{-d} - 1 + d >= 0` (equal to
/// `Σ P d` because `Σ P e^{-d} = Σ Q = 1`), a sum of non-negative terms with φ evaluated without
/// cancellation, so nearly equal distributions keep the relative precision of their tiny
/// divergence (docs/design.md, "KL divergence, entropy and NLL").
///
/// Special values (docs/design.md, "Special values"): a NaN in either slice gives NaN (and NaN
/// gradients); entries at +inf take the limit (probability 1/k on k entries); a class with
/// P_i = 0 contributes 0 (whatever Q_i); a class with Q_i = 0 < P_i makes the divergence +inf
/// (its P-gradient NaN where P > 0); an all -inf `p` slice has no mass: 0, zero gradients.
///
/// ```swift
/// let p: [Double] = [0, 1, 2], q: [Double] = [2, 1, 0]
/// var kl = 0.0
/// try klDivergence(p, q, shape: RowShape(n: 3), reduction: .sum, loss: &kl)   // 1.1504
/// ```
///
/// - Throws: before anything is written: `.invalidArgument` for a temperature that is not
///   finite and > 0; `.nullPointer`; `.overlappingBuffers`.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func klDivergence<T: SoftmaxScalar>(
    _ p: UnsafePointer<T>?, _ q: UnsafePointer<T>?, shape: RowShape, temperature: T = 1,
    reduction: Reduction = .mean, loss: UnsafeMutablePointer<T>?,
    gradientP: UnsafeMutablePointer<T>? = nil, gradientQ: UnsafeMutablePointer<T>? = nil
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride, count = shape.count, bytes = count * size
    let lossCount = reduction == .none ? shape.slices : 1, lossBytes = lossCount * size
    try Check.pointer(p, count: count, "p_logits")
    try Check.pointer(q, count: count, "q_logits")
    try Check.pointer(loss, count: lossCount, "loss")
    try Check.temperature(temperature)
    try Check.disjoint(loss, lossBytes, "loss", p, bytes, "p_logits", allowAlias: false)
    try Check.disjoint(loss, lossBytes, "loss", q, bytes, "q_logits", allowAlias: false)
    try Check.disjoint(gradientP, bytes, "grad_p", p, bytes, "p_logits", allowAlias: true)
    try Check.disjoint(gradientP, bytes, "grad_p", q, bytes, "q_logits", allowAlias: false)
    try Check.disjoint(gradientP, bytes, "grad_p", loss, lossBytes, "loss", allowAlias: false)
    try Check.disjoint(gradientQ, bytes, "grad_q", q, bytes, "q_logits", allowAlias: true)
    try Check.disjoint(gradientQ, bytes, "grad_q", p, bytes, "p_logits", allowAlias: false)
    try Check.disjoint(gradientQ, bytes, "grad_q", loss, lossBytes, "loss", allowAlias: false)
    try Check.disjoint(gradientQ, bytes, "grad_q", gradientP, bytes, "grad_p", allowAlias: false)
    let slices = shape.slices
    guard count > 0, let p, let q else {
        // No slices, or empty distributions (divergence 0 each): the sum is 0, the mean 0/slices.
        if let loss {
            if reduction == .none { loss.update(repeating: 0, count: slices) } else {
                loss[0] = reduction == .sum ? 0 : T(rounding: 0 / Double(slices))
            }
        }
        return
    }
    let problem = KLDivergenceProblem(
        p: p, q: q, n: shape.n, inner: shape.inner, temperature: temperature.double,
        perSlice: reduction == .none ? loss : nil, gradientP: gradientP, gradientQ: gradientQ,
        gradientDivisor: reduction == .mean ? Double(slices) : 1)
    let wantGrad = gradientP != nil || gradientQ != nil
    let total = sliceBlocks(slices, inner: shape.inner, cost: shape.n * (wantGrad ? 14 : 8)) { r in
        Tier.kernels.klDivergence(problem, slices: r)
    }
    guard reduction != .none, let loss else { return }
    loss[0] = T(rounding: reduced(total, reduction, denominator: Double(slices)))
}

/// The divergence of two distributions given by their logits, `.sum` (one row) by default.
///
/// ```swift
/// try klDivergence([0, 1, 2] as [Double], [2, 1, 0])   // 1.1504
/// ```
public func klDivergence<T: SoftmaxScalar>(_ p: [T], _ q: [T], temperature: T = 1) throws(SoftmaxError) -> T {
    guard p.count == q.count else {
        throw SoftmaxError(.invalidShape, "q_logits: expected \(p.count) values (p_logits' count), got \(q.count)")
    }
    let shape = try RowShape(n: p.count)
    var out = T.zero
    try p.withUnsafeBufferPointer { (pb) throws(SoftmaxError) in
        try q.withUnsafeBufferPointer { (qb) throws(SoftmaxError) in
            try klDivergence(pb.baseAddress, qb.baseAddress, shape: shape, temperature: temperature,
                             reduction: .sum, loss: &out)
        }
    }
    return out
}

/// Runs `body` over blocks of slices on the worker threads and sums their partial results in
/// block order. Blocks depend only on the shape (`blockSize`), never on the thread count, so the
/// sum is bitwise identical for any number of threads.
func sliceBlocks(
    _ slices: Int, inner: Int, cost: Int, minimumBlock: Int = 1, _ body: (Range<Int>) -> CompensatedSumWithSpecials
) -> CompensatedSumWithSpecials {
    let block = max(blockSize(slices, inner: inner), minimumBlock)
    let blocks = (slices + block - 1) / block
    return withUnsafeTemporaryAllocation(of: CompensatedSumWithSpecials.self, capacity: blocks) { partial in
        let base = partial.baseAddress!
        Threads.forEachChunk(units: blocks, costPerUnit: max(1, block * cost)) { r in
            for b in r {
                let lo = b * block
                (base + b).initialize(to: body(lo..<min(slices, lo + block)))
            }
        }
        var t = CompensatedSumWithSpecials()
        for b in 0..<blocks { t.add(base[b]) }
        return t
    }
}

/// The sum (`.sum`) or the sum divided by `denominator` (`.mean`), the compensated sum's pair
/// divided and rounded once.
func reduced(_ total: CompensatedSumWithSpecials, _ reduction: Reduction, denominator: Double) -> Double {
    let (hi, lo) = total.pair
    if reduction == .sum { return hi + lo }
    guard hi.isFinite, denominator != 0, denominator.isFinite else { return hi / denominator }
    let qt = hi / denominator
    let pr = twoProduct(qt, denominator)
    return qt + ((hi - pr.hi) - pr.lo + lo) / denominator
}
