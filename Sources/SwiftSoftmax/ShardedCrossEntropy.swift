import SoftmaxCore
import SoftmaxScalarKernels

// Vocabulary-parallel cross-entropy: the class axis cut into shards. Each shard's statistics
// (CrossEntropyStatistics) come from its logits alone; once merged they give every sample's
// loss, and with the logits of a shard, that shard's gradient. Loss and gradient are the
// one-piece kernels' own per-sample arithmetic (SoftmaxCore's CrossEntropyArithmetic.swift,
// docs/design.md, "Cross-entropy"), fed from the merged statistics: m and S come from the
// softmax statistics, A = (1-ε) w_y + (ε/C) Σ_j w_j from `weightSum`, and Σ_j w_j (m - x_j)
// from the merged `shift`, built from non-negative terms only.

/// Integer-target arguments shared by the sharded cross-entropy calls.
public struct ShardedTargets: Sendable {
    /// The number of classes of the whole axis (every shard's count summed).
    public var numClasses: Int
    /// The class index of this shard's first class (0 for the loss, which sees no logits).
    public var classOffset: Int
    /// Samples whose label equals it contribute nothing (PyTorch's ignore_index).
    public var ignoreIndex: Int64
    /// ε in [0, 1], spread over `numClasses` (the whole axis, never a shard's count).
    public var labelSmoothing: Double

    /// The arguments of a loss over `numClasses` classes, for the shard starting at `classOffset`.
    public init(numClasses: Int, classOffset: Int = 0, ignoreIndex: Int64 = -100, labelSmoothing: Double = 0) {
        self.numClasses = numClasses
        self.classOffset = classOffset
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
    }
}

/// The cross-entropy statistics of one shard of the class axis for every sample.
///
/// `logits` is the shard, `[outer, n, inner]` with its `n` classes along the middle axis: the
/// classes `targets.classOffset ..< classOffset + n` of `targets.numClasses`. `labels` holds
/// `outer · inner` global class indices (or `ignoreIndex`); `weight` is nil (all 1) or the
/// `numClasses` weights of the whole axis. `statistics` receives `outer · inner` values.
///
/// ```swift
/// // Classes [0, 2] in one shard and [4] in another; the label is class 2 (the second shard).
/// let targets = ShardedTargets(numClasses: 3)
/// var a = CrossEntropyStatistics.empty, b = CrossEntropyStatistics.empty
/// try crossEntropyStatistics([0, 2] as [Double], labels: [2], shape: RowShape(n: 2),
///                            targets: targets, into: &a)
/// var t2 = targets; t2.classOffset = 2
/// try crossEntropyStatistics([4] as [Double], labels: [2], shape: RowShape(n: 1), targets: t2, into: &b)
/// var loss = 0.0
/// try crossEntropy(statistics: [a.merged(with: b)], labels: [2], count: 1, targets: targets,
///                  reduction: .sum, loss: &loss)   // 0.14293 = -log(0.8668)
/// ```
///
/// - Throws: `.labelOutOfRange` (a label outside `[0, numClasses)` that is not ignoreIndex),
///   `.invalidShape` (the shard does not fit in `numClasses`), `.invalidArgument`,
///   `.nullPointer`, `.overlappingBuffers`, before anything is written.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func crossEntropyStatistics<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, labels: UnsafePointer<Int64>?, weight: UnsafePointer<Double>? = nil,
    shape: RowShape, targets: ShardedTargets, into statistics: UnsafeMutablePointer<CrossEntropyStatistics>?
) throws(SoftmaxError) {
    let statBytes = shape.slices * MemoryLayout<CrossEntropyStatistics>.stride
    try checkShard(shape, targets)
    try Check.pointer(logits, count: shape.count, "logits")
    try Check.pointer(statistics, count: shape.slices, "statistics")
    try Check.disjoint(statistics, statBytes, "statistics", logits, shape.count * MemoryLayout<T>.stride, "logits", allowAlias: false)
    try Check.disjoint(statistics, statBytes, "statistics", labels, shape.slices * 8, "labels", allowAlias: false)
    try Check.disjoint(statistics, statBytes, "statistics", weight, targets.numClasses * 8, "weight", allowAlias: false)
    try checkLabels(labels, shape.slices, targets)
    guard shape.slices > 0, let statistics, let labels else { return }
    guard shape.n > 0, let logits else {
        statistics.update(repeating: .empty, count: shape.slices)
        return
    }
    let k = Tier.kernels
    let off = targets.classOffset
    forEachShardChunk(logits, shape) { range, access in
        for s in range {
            let r = access.row(s)
            let soft = chunkStatistics(k, r.x, nil, r.start, shape.n, T(1))
            let x = r.x + r.start
            var st = CrossEntropyStatistics(softmax: soft)
            let label = labels[s]
            if label != targets.ignoreIndex && label >= off && label < off + shape.n {
                st.target = x[Int(label) - off].double
                st.found = 1
            }
            let m = soft.max
            var shift = CompensatedSumWithSpecials()
            var wsum = CompensatedSum()
            for j in 0..<shape.n {
                let w = weight.map { $0[off + j] } ?? 1
                wsum.add(w)
                let v = x[j].double
                if w == 0 || v == m || m.isNaN { continue }
                let d = twoSum(m, -v)
                if !d.hi.isFinite {
                    shift.add(w * d.hi)
                    continue
                }
                let p = twoProduct(w, d.hi)
                shift.add(p.hi)
                shift.add(p.lo + w * d.lo)
            }
            if m.isNaN {
                st.shiftHi = .nan
            } else if shift.naive.isFinite {
                let p = shift.compensated.pair
                (st.shiftHi, st.shiftLo) = (p.hi, p.lo)
            } else {
                st.shiftHi = shift.naive
            }
            st.weightSum = wsum.value
            statistics[s] = st
        }
    }
}

/// Runs `body(samples, access)` for chunks of a shard's samples on the worker threads, `access`
/// giving each sample's row contiguous (a column gathered into the thread's scratch).
@inline(__always)
private func forEachShardChunk<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>, _ shape: RowShape, _ body: (Range<Int>, SliceAccess<T>) -> Void
) {
    Threads.forEachChunk(units: shape.slices, costPerUnit: shape.n * 3) { range in
        SliceAccess.with(logits, nil, shape) { access in body(range, access) }
    }
}

/// Merges two arrays of cross-entropy statistics elementwise; `out` may be `a` or `b`.
///
/// - Throws: `.nullPointer`, `.overlappingBuffers`, `.invalidArgument` for malformed statistics.
public func mergeCrossEntropyStatistics(
    _ a: UnsafePointer<CrossEntropyStatistics>?, _ b: UnsafePointer<CrossEntropyStatistics>?,
    into out: UnsafeMutablePointer<CrossEntropyStatistics>?, count: Int
) throws(SoftmaxError) {
    guard count >= 0 else { throw SoftmaxError(.invalidShape, "count must be non-negative, got \(count)") }
    let bytes = count * MemoryLayout<CrossEntropyStatistics>.stride
    try Check.pointer(a, count: count, "a")
    try Check.pointer(b, count: count, "b")
    try Check.pointer(out, count: count, "out")
    try Check.disjoint(out, bytes, "out", a, bytes, "a", allowAlias: true)
    try Check.disjoint(out, bytes, "out", b, bytes, "b", allowAlias: true)
    guard count > 0, let a, let b, let out else { return }
    try checkStatistics(a, count, "a")
    try checkStatistics(b, count, "b")
    for i in 0..<count { out[i] = a[i].merged(with: b[i]) }
}

/// The cross-entropy of every sample from the statistics merged over all shards: PyTorch's
/// semantics, as `crossEntropy(_:labels:…)` computes them in one piece. `loss` receives
/// `count` values for `.none`, else one (the mean divides by Σ w[y] over the non-ignored
/// samples, NaN when every sample is ignored). Losses are Double whatever the logits' type;
/// round them once to it.
///
/// - Throws: `.invalidArgument` when a non-ignored sample's target was found in no shard or in
///   several (the statistics are not merged over exactly the whole axis), or for
///   label_smoothing outside [0, 1]; `.labelOutOfRange`; `.nullPointer`; `.overlappingBuffers`.
public func crossEntropy(
    statistics: UnsafePointer<CrossEntropyStatistics>?, labels: UnsafePointer<Int64>?,
    weight: UnsafePointer<Double>? = nil, count: Int, targets: ShardedTargets,
    reduction: Reduction = .mean, loss: UnsafeMutablePointer<Double>?
) throws(SoftmaxError) {
    guard count >= 0 else { throw SoftmaxError(.invalidShape, "count must be non-negative, got \(count)") }
    let outCount = reduction == .none ? count : 1
    try checkShard(RowShape(n: 0), targets)
    try Check.pointer(statistics, count: count, "statistics")
    try Check.pointer(labels, count: count, "labels")
    try Check.pointer(loss, count: outCount, "loss")
    try Check.disjoint(loss, outCount * 8, "loss", statistics, count * MemoryLayout<CrossEntropyStatistics>.stride,
                       "statistics", allowAlias: false)
    try Check.disjoint(loss, outCount * 8, "loss", labels, count * 8, "labels", allowAlias: false)
    try Check.disjoint(loss, outCount * 8, "loss", weight, targets.numClasses * 8, "weight", allowAlias: false)
    try checkLabels(labels, count, targets)
    if let statistics, let labels { try checkCoverage(statistics, labels, count, targets) }
    guard let loss else { return }
    var total = CompensatedSumWithSpecials()
    var denominator = CompensatedSum()
    let coefficients = CrossEntropyCoefficients(smoothing: targets.labelSmoothing, classes: targets.numClasses)
    for i in 0..<count {
        let label = labels![i]
        if label == targets.ignoreIndex {
            if reduction == .none { loss[i] = 0 }
            continue
        }
        let wy = weight.map { $0[Int(label)] } ?? 1
        denominator.add(wy)
        let l = sampleLoss(statistics![i], wy, coefficients)
        if reduction == .none { loss[i] = l }
        total.add(l)
    }
    switch reduction {
    case .none: break
    case .sum: loss[0] = total.value
    case .mean: loss[0] = total.value / denominator.value
    }
}

/// The mean's denominator of integer-target cross-entropy: Σ w[y] over the samples whose label
/// is not `ignoreIndex` (their count without weights). Pass it to `crossEntropyGradient` for
/// `.mean` when the samples are spread over several calls (sum the parts).
public func crossEntropyDenominator(
    labels: UnsafePointer<Int64>?, weight: UnsafePointer<Double>? = nil, count: Int, targets: ShardedTargets
) throws(SoftmaxError) -> Double {
    guard count >= 0 else { throw SoftmaxError(.invalidShape, "count must be non-negative, got \(count)") }
    try checkShard(RowShape(n: 0), targets)
    try Check.pointer(labels, count: count, "labels")
    try checkLabels(labels, count, targets)
    var d = CompensatedSum()
    for i in 0..<count where labels![i] != targets.ignoreIndex {
        d.add(weight.map { $0[Int(labels![i])] } ?? 1)
    }
    return d.value
}

/// The gradient of the loss with respect to one shard's logits, from the merged statistics:
/// `(A p_j - c_j) / divisor`, where `divisor` is the mean's denominator over the whole batch
/// (`crossEntropyDenominator`) for `.mean` and 1 for `.sum` or `.none`. Ignored samples and
/// all -inf rows get 0; a NaN row NaN. `gradient` is shaped like `logits` and may be it.
///
/// - Throws: as `crossEntropyStatistics`, and `.invalidArgument` for a divisor that is not
///   > 0 (+inf gives a zero gradient, as when every sample of a mean is ignored).
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func crossEntropyGradient<T: SoftmaxScalar>(
    _ logits: UnsafePointer<T>?, labels: UnsafePointer<Int64>?, weight: UnsafePointer<Double>? = nil,
    shape: RowShape, targets: ShardedTargets, statistics: UnsafePointer<CrossEntropyStatistics>?,
    divisor: Double = 1, into gradient: UnsafeMutablePointer<T>?
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    try checkShard(shape, targets)
    try Check.pointer(logits, count: shape.count, "logits")
    try Check.pointer(gradient, count: shape.count, "gradient")
    try Check.pointer(statistics, count: shape.slices, "statistics")
    try Check.disjoint(gradient, bytes, "gradient", logits, bytes, "logits", allowAlias: true)
    try Check.disjoint(gradient, bytes, "gradient", labels, shape.slices * 8, "labels", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", weight, targets.numClasses * 8, "weight", allowAlias: false)
    try Check.disjoint(gradient, bytes, "gradient", statistics,
                       shape.slices * MemoryLayout<CrossEntropyStatistics>.stride, "statistics", allowAlias: false)
    guard divisor > 0 else {
        throw SoftmaxError(.invalidArgument, "divisor must be > 0 (the mean's denominator, or 1), got \(divisor)")
    }
    try checkLabels(labels, shape.slices, targets)
    if let statistics, let labels { try checkCoverage(statistics, labels, shape.slices, targets) }
    guard shape.count > 0, let logits, let gradient, let labels, let statistics else { return }
    let inv = 1 / divisor
    let k = Tier.kernels
    let coefficients = CrossEntropyCoefficients(smoothing: targets.labelSmoothing, classes: targets.numClasses)
    forEachShardChunk(logits, shape) { range, access in
        for si in range {
            let r = access.row(si)
            let g = access.output(si, gradient).y + r.start
            shardGradient(k, r, g, n: shape.n, label: labels[si], wy: weight.map { w in { w[$0] } } ?? { _ in 1 },
                          st: statistics[si], targets: targets, coefficients, inv: inv)
            access.store(si, gradient)
        }
    }
}

/// The gradient of one sample over one shard's row `r` (contiguous from `r.start`), written to
/// `g` (which may be the row): the one-piece kernels' formulas from the merged statistics, the
/// vector kernel's label form for integer targets without smoothing (exp terms stored by the
/// row pass, then scaled), the scalar kernel's coefficient form otherwise. `coefficients` are
/// those of `targets`, made once per call rather than once per row.
@inline(__always)
private func shardGradient<T: SoftmaxScalar>(
    _ k: any SoftmaxKernelSet.Type, _ r: (x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, start: Int),
    _ g: UnsafeMutablePointer<T>, n: Int, label: Int64, wy weightOf: (Int) -> Double,
    st: CrossEntropyStatistics, targets: ShardedTargets, _ coefficients: CrossEntropyCoefficients, inv: Double
) {
    let x = r.x + r.start
    let m = st.softmax.max
    if label == targets.ignoreIndex || m == -.infinity || m.isNaN {
        let fill = label != targets.ignoreIndex && m.isNaN ? T.nan : T.zero
        for j in 0..<n { g[j] = fill }
        return
    }
    let off = targets.classOffset
    let y = Int(label)
    let wy = weightOf(y)
    let cy = coefficients.target(weight: wy)
    let a = coefficients.total(target: cy, weightSum: st.weightSum)
    @inline(__always) func coef(_ j: Int) -> Double {
        coefficients.label(isTarget: off + j == y, target: cy, weight: weightOf(off + j))
    }
    if m == .infinity {
        let count = st.softmax.sumHi
        for j in 0..<n {
            let p = x[j] == .infinity ? 1 / count : 0
            g[j] = T(rounding: CoefficientGradient.limit(total: a, probability: p, coef(j)) * inv)
        }
        return
    }
    let sum = (hi: st.softmax.sumHi, lo: st.softmax.sumLo)
    let rest = twoSum(sum.hi - 1, sum.lo)
    if !coefficients.smoothed {
        let local = y - off
        let holdsTarget = local >= 0 && local < n
        let z = holdsTarget ? scaledShift(x[local].double, m, 1) : (hi: 0.0, lo: 0.0)
        _ = k.rowChunkExpSum(r.x, mask: nil, y: g - r.start, start: r.start, count: n,
                             stats: st.softmax.kernelStats, temperature: T(1), precise: false)
        let d = labelGradient(weight: wy * inv, sum: sum, rest: rest, targetShift: z.hi,
                              targetExp: z.hi == 0 ? 1 : expShifted(z))
        for j in 0..<n { g[j] = T(rounding: g[j].double * d.scale) }
        if holdsTarget { g[local] = T(rounding: d.target) }
        return
    }
    let grad = CoefficientGradient(total: a, rest: rest)
    for j in 0..<n {
        let v = x[j].double
        let c = coef(j)
        // The shard knows the maximum but not which shard holds its first occurrence: every
        // class at the maximum takes the maximal class's form.
        g[j] = T(rounding: (v == m && grad.confident ? grad.atMaximum(c, others: a - c)
                                                     : grad.below(expTerm: expShifted(scaledShift(v, m, 1)), c)) * inv)
    }
}

/// One sample's loss from its merged statistics (not ignored, target found), with the
/// coefficients of the targets' smoothing over the whole class axis.
func sampleLoss(_ st: CrossEntropyStatistics, _ wy: Double, _ coefficients: CrossEntropyCoefficients) -> Double {
    let m = st.softmax.max
    if m.isNaN { return .nan }
    let cy = coefficients.target(weight: wy)
    let spread = coefficients.spread
    if m == -.infinity {
        // Every logit -inf: -log p is +inf wherever the target has weight.
        return cy != 0 || (spread != 0 && st.weightSum != 0) ? .infinity : 0
    }
    let l: DoubleDouble.DD
    if m == .infinity {
        l = (logD(st.softmax.sumHi), 0)  // k logits at +inf share the probability
    } else {
        let rest = twoSum(st.softmax.sumHi - 1, st.softmax.sumLo)
        l = log1pPair(rest.hi, rest.lo)
    }
    if !coefficients.smoothed && m.isFinite {
        return labelLoss(weight: wy, logSum: l, shift: scaledShift(st.target, m, 1))
    }
    var shift = CompensatedSumWithSpecials()
    if cy != 0 && st.target != m { shift.addShift(coefficient: cy, scaledShift(st.target, m, 1)) }
    if spread != 0 && st.shiftHi != 0 {
        shift.add(spread * st.shiftHi)
        if st.shiftLo != 0 { shift.add(spread * st.shiftLo) }
    }
    return coefficientLoss(total: coefficients.total(target: cy, weightSum: st.weightSum), logSum: l, shift: shift.value)
}

private func checkShard(_ shape: RowShape, _ t: ShardedTargets) throws(SoftmaxError) {
    guard t.numClasses >= 0, t.classOffset >= 0, t.classOffset <= t.numClasses,
          shape.n <= t.numClasses - t.classOffset else {
        throw SoftmaxError(.invalidShape, "classes [\(t.classOffset), \(t.classOffset) + \(shape.n)) of the shard "
                           + "do not fit in num_classes = \(t.numClasses)")
    }
    guard t.labelSmoothing.isFinite, t.labelSmoothing >= 0, t.labelSmoothing <= 1 else {
        throw SoftmaxError(.invalidArgument, "label_smoothing must be in [0, 1], got \(t.labelSmoothing)")
    }
}

private func checkLabels(_ labels: UnsafePointer<Int64>?, _ count: Int, _ t: ShardedTargets) throws(SoftmaxError) {
    try Check.pointer(labels, count: count, "labels")
    guard let labels else { return }
    let n = Int64(t.numClasses)
    for k in 0..<count {
        let label = labels[k]
        if label == t.ignoreIndex { continue }
        guard label >= 0 && label < n else {
            throw SoftmaxError(.labelOutOfRange,
                               "labels[\(k)] = \(label) is outside [0, \(t.numClasses)) and is not ignore_index (\(t.ignoreIndex))")
        }
    }
}

/// Statistics must be well formed, and merged over exactly the whole class axis: each
/// non-ignored sample's target found once.
private func checkCoverage(
    _ s: UnsafePointer<CrossEntropyStatistics>, _ labels: UnsafePointer<Int64>, _ count: Int, _ t: ShardedTargets
) throws(SoftmaxError) {
    for i in 0..<count {
        guard s[i].softmax.isWellFormed else {
            throw SoftmaxError(.invalidArgument, "statistics[\(i)] = \(s[i].softmax) is not a shard's softmax statistics")
        }
        if labels[i] != t.ignoreIndex && s[i].found != 1 {
            throw SoftmaxError(.invalidArgument,
                               "statistics[\(i)]: the target class \(labels[i]) was found in \(shardCount(s[i].found)) shards, "
                               + "not 1: merge the statistics of every shard of the class axis exactly once")
        }
    }
}

private func shardCount(_ v: Double) -> String {
    v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
}

/// Refuses cross-entropy statistics whose softmax part no shard produces.
func checkStatistics(_ s: UnsafePointer<CrossEntropyStatistics>, _ count: Int, _ name: String) throws(SoftmaxError) {
    for i in 0..<count where !s[i].softmax.isWellFormed || !(s[i].found >= 0) {
        throw SoftmaxError(.invalidArgument, "\(name)[\(i)] is not a shard's cross-entropy statistics (\(s[i].softmax))")
    }
}
