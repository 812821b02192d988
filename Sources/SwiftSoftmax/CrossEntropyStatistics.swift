import SoftmaxCore

/// What one shard of the class axis contributes to one sample's cross-entropy, for a
/// vocabulary-parallel loss: the class axis (C classes) is cut into shards held by different
/// workers, each computes these per sample, they merge associatively, and the merged
/// statistics give the loss (`crossEntropy(statistics:…)`) and each shard its gradient
/// (`crossEntropyGradient(…)`), equal to the one-piece `crossEntropy` within its accuracy.
///
/// - `softmax`: the shard's softmax statistics (temperature 1).
/// - `target`, `found`: the target class's logit and 1 in the shard that holds it, 0 and 0 in
///   the others (merging adds them, so a merged `found` of 1 proves every shard took part).
/// - `shiftHi + shiftLo = Σ_c w_c (max - x_c)` over the shard's classes, relative to the
///   shard's own maximum: every term is >= 0, so label smoothing's `Σ_c w_c (-log p_c)` is
///   rebuilt without the cancellation a plain `Σ w_c x_c` would suffer. Equal infinities give
///   0 (an entry at a maximum of +inf sits at the maximum), as do zero weights.
/// - `weightSum`: Σ_c w_c over the shard's classes (C when there are no weights).
///
/// Label smoothing spreads ε over the GLOBAL class count C, which every call takes as
/// `numClasses`: Megatron-LM's vocabulary-parallel loss once divided by the shard's own class
/// count, which weights the smoothing term by the number of shards.
///
/// The layout is eight Doubles, the C header's `ssm_ce_stats`.
@frozen
public struct CrossEntropyStatistics: Equatable, Sendable {
    /// The shard's softmax statistics (temperature 1).
    public var softmax: SoftmaxStatistics
    /// The target class's logit in the shard that holds it, else 0.
    public var target: Double
    /// 1 in the shard that holds the target class, else 0; merged, the number of such shards.
    public var found: Double
    /// Σ_c w_c (max - x_c) over the shard's classes, high part.
    public var shiftHi: Double
    /// ... and its low part.
    public var shiftLo: Double
    /// Σ_c w_c over the shard's classes.
    public var weightSum: Double

    /// Statistics from their parts (`empty` is the statistics of no classes).
    public init(softmax: SoftmaxStatistics, target: Double = 0, found: Double = 0,
                shiftHi: Double = 0, shiftLo: Double = 0, weightSum: Double = 0) {
        self.softmax = softmax
        self.target = target
        self.found = found
        self.shiftHi = shiftHi
        self.shiftLo = shiftLo
        self.weightSum = weightSum
    }

    /// The statistics of no classes: the identity of `merged`.
    public static let empty = CrossEntropyStatistics(softmax: .empty)

    /// The statistics of two shards together. Commutative bit for bit; associative to
    /// double-double precision.
    public func merged(with o: CrossEntropyStatistics) -> CrossEntropyStatistics {
        let s = softmax.merged(with: o.softmax)
        let d = addShifts(shift(to: s.max), o.shift(to: s.max))
        return CrossEntropyStatistics(softmax: s, target: target + o.target, found: found + o.found,
                                      shiftHi: d.hi, shiftLo: d.lo, weightSum: weightSum + o.weightSum)
    }

    /// Σ_c w_c (m - x_c) for a maximum m >= this shard's: the shard's own sum plus
    /// W · (m - max), the difference exact.
    func shift(to m: Double) -> DoubleDouble.DD {
        let own: DoubleDouble.DD = (shiftHi, shiftLo)
        let mine = softmax.max
        if m.isNaN || mine.isNaN { return (.nan, 0) }
        if mine == m || weightSum == 0 { return own }
        let d = twoSum(m, -mine)
        guard d.hi.isFinite else { return addShifts(own, (weightSum * .infinity, 0)) }
        if !(weightSum * d.hi).isFinite { return addShifts(own, (weightSum * d.hi, 0)) }
        return addShifts(own, DoubleDouble.mul((weightSum, 0), (d.hi, d.lo)))
    }
}

/// Double-double addition that follows IEEE arithmetic once an infinity or NaN enters (where
/// the error terms would turn into NaN).
func addShifts(_ a: DoubleDouble.DD, _ b: DoubleDouble.DD) -> DoubleDouble.DD {
    if a.hi.isFinite && b.hi.isFinite { return DoubleDouble.add(a, b) }
    return (a.hi + b.hi, 0)
}
