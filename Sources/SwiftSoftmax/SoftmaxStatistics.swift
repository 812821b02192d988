import SoftmaxCore

/// What one chunk of a softmax axis contributes to the whole: its maximum and its sum of
/// exponentials relative to that maximum (Milakov & Gimelshein's online normaliser).
///
/// Statistics of chunks merge associatively (`merged(with:temperature:)`), so an axis cut into
/// chunks that live in different buffers, threads, processes or machines can be normalised
/// without ever being assembled: compute each chunk's statistics, merge them in any order or
/// tree, then finish each chunk with `softmax(_:mask:statistics:into:shape:temperature:)`,
/// `logSoftmax(…statistics:…)` or `logSumExp(statistics:…)`.
///
/// The sum is kept as an unevaluated double-double `sumHi + sumLo` for Float and Double input
/// alike, and a merge rescales it by `exp((m - M) / T)` of the *exact* difference of the
/// maxima, in double-double: merged statistics give the same results as the one-piece call
/// (within its 2-ulp accuracy) however the axis was cut.
///
/// Special values follow the library's policy, so that merging reproduces the one-piece
/// result: a chunk with a NaN has `max` NaN (and poisons every merge it enters); a chunk with
/// `k` entries of +inf has `max` +inf and `sumHi` k; an empty, all -inf or fully masked chunk
/// has `(-inf, 0, 0)`, and two of those merge to `(-inf, 0, 0)`, never NaN.
///
/// The layout is three Doubles, the C header's `ssm_softmax_stats`.
///
/// ```swift
/// let a = try softmaxStatistics([0, 2] as [Double])
/// let b = try softmaxStatistics([4] as [Double])
/// let s = a.merged(with: b)                  // the statistics of [0, 2, 4]
/// try softmax([4] as [Double], statistics: s) // [0.8668]
/// ```
@frozen
public struct SoftmaxStatistics: Equatable, Sendable, CustomStringConvertible {
    /// The largest unmasked entry (NaN if the chunk has an unmasked NaN, -inf if none).
    public var max: Double
    /// `sumHi + sumLo = Σ exp((x - max) / T)` for a finite `max`; the number of +inf entries
    /// when `max` is +inf; 0 when it is -inf.
    public var sumHi: Double
    /// The low part of the double-double sum.
    public var sumLo: Double

    /// Statistics from their parts (they are checked where they are used).
    public init(max: Double, sumHi: Double, sumLo: Double = 0) {
        self.max = max
        self.sumHi = sumHi
        self.sumLo = sumLo
    }

    /// The statistics of nothing: `(-inf, 0, 0)`, the identity of `merged`.
    public static let empty = SoftmaxStatistics(max: -.infinity, sumHi: 0, sumLo: 0)
    static let nan = SoftmaxStatistics(max: .nan, sumHi: .nan, sumLo: .nan)

    /// `SoftmaxStatistics(max: m, sum: hi + lo)`, as error messages print it.
    public var description: String { "SoftmaxStatistics(max: \(max), sum: \(sumHi) + \(sumLo))" }

    /// The statistics of two chunks together, at temperature `temperature` (the one both were
    /// computed with). Commutative bit for bit; associative to double-double precision.
    public func merged(with other: SoftmaxStatistics, temperature: Double = 1) -> SoftmaxStatistics {
        if max.isNaN || other.max.isNaN { return .nan }
        let m = Swift.max(max, other.max)
        // Two empty chunks: exp(-inf - -inf) would be NaN.
        if m == -.infinity { return .empty }
        let s = DoubleDouble.add(rescaled(to: m, temperature), other.rescaled(to: m, temperature))
        return SoftmaxStatistics(max: m, sumHi: s.hi, sumLo: s.lo)
    }

    /// The sum relative to a maximum `m >= max`: `sum · exp((max - m) / T)` in double-double.
    func rescaled(to m: Double, _ t: Double) -> DoubleDouble.DD {
        if max == m { return (sumHi, sumLo) }  // also +inf against +inf: the counts add
        if max == -.infinity || m == .infinity { return (0, 0) }
        let d = twoSum(max, -m)  // exact: the maxima's difference is not rounded before exp
        guard d.hi.isFinite else { return (0, 0) }  // a difference beyond Double: exp is 0
        let q = t == 1 ? d : divide(d, by: t)
        if q.hi < -746 { return (0, 0) }
        return DoubleDouble.mul((sumHi, sumLo), DoubleDouble.exp(q))
    }

    /// Whether the parts are ones `softmaxStatistics` or a merge can produce; the finalisers
    /// refuse others rather than divide by a sum below the maximum's own term.
    var isWellFormed: Bool {
        if max.isNaN { return true }
        if max == -.infinity { return sumHi == 0 && sumLo == 0 }
        guard sumHi.isFinite, sumLo.isFinite, abs(sumLo) <= abs(sumHi) else { return false }
        if max == .infinity { return sumHi >= 1 && sumHi == sumHi.rounded() && sumLo == 0 }
        return sumHi >= 1
    }

    /// What the row kernels take: the merged maximum with its special-value flags, and the sum.
    var kernelStats: RowChunkStats {
        RowChunkStats(max: max.isNaN ? -.infinity : max, nan: max.isNaN,
                      infCount: max == .infinity ? sumHi : 0)
    }

    var kernelSum: CompensatedSum {
        var c = CompensatedSum()
        c.sum = max.isNaN ? .nan : sumHi
        c.compensation = max.isNaN ? .nan : sumLo
        return c
    }
}

/// `(hi + lo) / t` as a double-double (one Newton correction of the rounded quotient).
@inline(__always)
func divide(_ a: DoubleDouble.DD, by t: Double) -> DoubleDouble.DD {
    let q = a.hi / t
    let p = twoProduct(q, t)
    return twoSum(q, ((a.hi - p.hi) - p.lo + a.lo) / t)
}
