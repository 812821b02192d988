import SoftmaxCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Softmax over an axis split into chunks: statistics per chunk, their merge, and the
// finalisers that turn one chunk and the merged statistics into that chunk's part of the
// one-piece result. The work runs on the row kernels' chunk steps (`rowChunkStats`,
// `rowChunkExpSum`, `rowChunkFinish`, `rowLogSumExp`), the same ones that split long rows, so a
// chunk's exp terms are the bits the one-piece call computes.

/// The softmax statistics of every slice of a chunk `x` (`[outer, n, inner]`, `n` being this
/// chunk's share of the softmax axis): `outer · inner` values written to `statistics`.
///
/// `mask` (one byte per element, non-zero = used) may be nil for none. `temperature` must be
/// the one the finalisers will use. A chunk with `n == 0` gives the empty statistics.
///
/// ```swift
/// let x: [Float] = [0, 2, 4, 1]          // two rows of a chunk of two classes
/// var s = [SoftmaxStatistics](repeating: .empty, count: 2)
/// try softmaxStatistics(x, into: &s, shape: RowShape(outer: 2, n: 2))
/// // s[0] = (max 2, sum 1 + e^-2), s[1] = (max 4, sum 1 + e^-3)
/// ```
///
/// `precise` is for statistics that will give a logsumexp: a logsumexp that cancels to near 0
/// (`max + log(sum)` with a negative maximum) amplifies the roundings of the exp terms, so
/// with `precise` a chunk whose maximum is <= 0 sums its terms with a double-double exp
/// (about 100 times slower; chunks with a positive maximum, where no such cancellation can
/// happen, take the fast path). Softmax and log-softmax never need it.
///
/// - Throws: `.nullPointer`, `.overlappingBuffers` (statistics overlapping `x` or `mask`),
///   `.invalidArgument` (temperature not finite and > 0), before anything is written.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func softmaxStatistics<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>? = nil,
    into statistics: UnsafeMutablePointer<SoftmaxStatistics>?, shape: RowShape, temperature: T = 1,
    precise: Bool = false
) throws(SoftmaxError) {
    let statBytes = shape.slices * MemoryLayout<SoftmaxStatistics>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(statistics, count: shape.slices, "statistics")
    try Check.disjoint(statistics, statBytes, "statistics", x, shape.count * MemoryLayout<T>.stride, "x", allowAlias: false)
    try Check.disjoint(statistics, statBytes, "statistics", mask, shape.count, "mask", allowAlias: false)
    try Check.temperature(temperature)
    guard shape.slices > 0, let statistics else { return }
    guard shape.n > 0, let x else {
        statistics.update(repeating: .empty, count: shape.slices)
        return
    }
    let k = Tier.kernels
    Threads.forEachChunk(units: shape.slices, costPerUnit: shape.n * (precise ? 100 : 2)) { range in
        SliceAccess.with(x, mask, shape) { access in
            for s in range {
                let r = access.row(s)
                statistics[s] = precise
                    ? preciseChunkStatistics(k, r.x, r.mask, r.start, shape.n, temperature)
                    : chunkStatistics(k, r.x, r.mask, r.start, shape.n, temperature)
            }
        }
    }
}

/// `chunkStatistics` with every exp term of a chunk whose maximum is <= 0 in double-double
/// (for Float data, exp in Double of the exact difference, already far below Float's ulp).
func preciseChunkStatistics<T: SoftmaxScalar>(
    _ k: any SoftmaxKernelSet.Type, _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ start: Int, _ count: Int, _ t: T
) -> SoftmaxStatistics {
    let st = k.rowChunkStats(x, mask: mask, start: start, count: count)
    let m = st.max
    // Special chunks, and a positive maximum (max + log(sum) > max > 0 cannot cancel).
    guard !st.nan, m.isFinite, m <= 0 else { return chunkStatistics(k, x, mask, start, count, t) }
    let td = t.double
    var sum: DoubleDouble.DD = (0, 0)
    for j in start..<start + count {
        if let mask, mask[j] == 0 { continue }
        let v = x[j].double
        if v == m {
            sum = DoubleDouble.add(sum, (1, 0))
            continue
        }
        var d = twoSum(v, -m)
        guard d.hi.isFinite else { continue }  // a -inf entry
        if td != 1 { d = divide(d, by: td) }
        if d.hi < -746 { continue }  // below the smallest subnormal
        if T.self == Float.self {
            let e = exp(d.hi)
            sum = DoubleDouble.add(sum, (e + e * d.lo, 0))
        } else {
            sum = DoubleDouble.add(sum, DoubleDouble.exp(d))
        }
    }
    return SoftmaxStatistics(max: m, sumHi: sum.hi, sumLo: sum.lo)
}

/// One row piece's statistics from the kernels' first two passes.
func chunkStatistics<T: SoftmaxScalar>(
    _ k: any SoftmaxKernelSet.Type, _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ start: Int, _ count: Int, _ t: T
) -> SoftmaxStatistics {
    let st = k.rowChunkStats(x, mask: mask, start: start, count: count)
    if st.nan { return .nan }
    if st.max == .infinity { return SoftmaxStatistics(max: .infinity, sumHi: st.infCount) }
    // Empty, all -inf or fully masked: the exp pass is skipped, as it would count masked
    // entries as maximal terms of an empty slice.
    if st.max == -.infinity { return .empty }
    // Precise: the statistics are merged and may end in a logsumexp that cancels.
    let p = k.rowChunkExpSum(x, mask: mask, y: nil, start: start, count: count, stats: st, temperature: t,
                             precise: true).pair
    return SoftmaxStatistics(max: st.max, sumHi: p.hi, sumLo: p.lo)
}

/// Merges two arrays of softmax statistics elementwise: `out[i] = a[i] ⊕ b[i]`. `out` may be
/// `a` or `b` itself. The merge is commutative bit for bit and associative to double-double
/// precision, so any order or tree of merges gives the same finished results.
///
/// ```swift
/// var a = [SoftmaxStatistics(max: 2, sumHi: 1.1353352832366128)]   // [0, 2]
/// let b = [SoftmaxStatistics(max: 4, sumHi: 1)]                    // [4]
/// try mergeSoftmaxStatistics(a, b, into: &a, count: 1)             // the statistics of [0, 2, 4]
/// ```
///
/// - Throws: `.nullPointer`, `.overlappingBuffers` (out partially overlapping an input),
///   `.invalidArgument` for a temperature that is not finite and > 0 or for statistics that no
///   chunk can have (naming the first, e.g. a finite maximum with a sum below 1).
public func mergeSoftmaxStatistics(
    _ a: UnsafePointer<SoftmaxStatistics>?, _ b: UnsafePointer<SoftmaxStatistics>?,
    into out: UnsafeMutablePointer<SoftmaxStatistics>?, count: Int, temperature: Double = 1
) throws(SoftmaxError) {
    let bytes = max(0, count) * MemoryLayout<SoftmaxStatistics>.stride
    guard count >= 0 else { throw SoftmaxError(.invalidShape, "count must be non-negative, got \(count)") }
    try Check.pointer(a, count: count, "a")
    try Check.pointer(b, count: count, "b")
    try Check.pointer(out, count: count, "out")
    try Check.disjoint(out, bytes, "out", a, bytes, "a", allowAlias: true)
    try Check.disjoint(out, bytes, "out", b, bytes, "b", allowAlias: true)
    try Check.temperature(temperature)
    guard count > 0, let a, let b, let out else { return }
    try checkStatistics(a, count, "a")
    try checkStatistics(b, count, "b")
    for i in 0..<count { out[i] = a[i].merged(with: b[i], temperature: temperature) }
}

/// Softmax of a chunk of the axis from the merged statistics of the whole axis: the chunk's
/// part of the one-piece softmax. `statistics` holds `outer · inner` values (the merge over
/// every chunk, computed at the same temperature); `mask` may be nil.
///
/// ```swift
/// let left: [Double] = [0, 2], right: [Double] = [4]
/// let s = try softmaxStatistics(left).merged(with: try softmaxStatistics(right))
/// var y = [Double](repeating: 0, count: 2)
/// try softmax(left, statistics: [s], into: &y, shape: RowShape(n: 2))   // [0.0159, 0.1173]
/// ```
///
/// - Throws: as `softmax(_:into:shape:temperature:)`, and `.invalidArgument` for malformed
///   statistics, `.overlappingBuffers` when `y` overlaps `statistics`.
public func softmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>? = nil, statistics: UnsafePointer<SoftmaxStatistics>?,
    into y: UnsafeMutablePointer<T>?, shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try finishFromStatistics(x, mask, statistics, y, shape, temperature, log: false)
}

/// Log-softmax of a chunk of the axis from the merged statistics of the whole axis.
///
/// ```swift
/// let s = try softmaxStatistics([0, 2] as [Double]).merged(with: try softmaxStatistics([4] as [Double]))
/// var y = [0.0]
/// try logSoftmax([4] as [Double], statistics: [s], into: &y, shape: RowShape(n: 1))  // [-0.1429]
/// ```
public func logSoftmax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, mask: UnsafePointer<UInt8>? = nil, statistics: UnsafePointer<SoftmaxStatistics>?,
    into y: UnsafeMutablePointer<T>?, shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    try finishFromStatistics(x, mask, statistics, y, shape, temperature, log: true)
}

/// `log Σ exp(x / T)` of each slice from its merged statistics: `count` results in `out`
/// (rounded once to `T`). With temperature 1 it equals `logSumExp(_:into:shape:)` of the
/// whole axis.
///
/// ```swift
/// let s = try softmaxStatistics([1000] as [Double]).merged(with: try softmaxStatistics([1000] as [Double]))
/// var out = 0.0
/// try logSumExp(statistics: [s], into: &out, count: 1)   // 1000.6931471805599
/// ```
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func logSumExp<T: SoftmaxScalar>(
    statistics: UnsafePointer<SoftmaxStatistics>?, into out: UnsafeMutablePointer<T>?, count: Int,
    temperature: T = 1
) throws(SoftmaxError) {
    guard count >= 0 else { throw SoftmaxError(.invalidShape, "count must be non-negative, got \(count)") }
    try Check.pointer(statistics, count: count, "statistics")
    try Check.pointer(out, count: count, "out")
    let bytes = count * MemoryLayout<SoftmaxStatistics>.stride
    try Check.disjoint(out, count * MemoryLayout<T>.stride, "out", statistics, bytes, "statistics", allowAlias: false)
    try Check.temperature(temperature)
    guard count > 0, let statistics, let out else { return }
    try checkStatistics(statistics, count, "statistics")
    let k = Tier.kernels
    let t = temperature.double
    for i in 0..<count {
        let s = statistics[i]
        if t == 1 || !s.max.isFinite {
            out[i] = T(rounding: k.rowLogSumExp(stats: s.kernelStats, sum: s.kernelSum))
        } else {
            // max / T + log(sum), both in double-double (the sum is already of exp((x - max)/T)).
            let rest = twoSum(s.sumHi - 1, s.sumLo)
            let l = DoubleDouble.log1p(rest, first: log1p(rest.hi))
            let r = DoubleDouble.add(divide((s.max, 0), by: t), l)
            out[i] = T(rounding: r.hi + r.lo)
        }
    }
}

// The two public entry points forward here; the work is specialised here, where it happens.
@_specialize(where T == Float)
@_specialize(where T == Double)
func finishFromStatistics<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, _ mask: UnsafePointer<UInt8>?, _ stats: UnsafePointer<SoftmaxStatistics>?,
    _ y: UnsafeMutablePointer<T>?, _ shape: RowShape, _ temperature: T, log: Bool
) throws(SoftmaxError) {
    let bytes = shape.count * MemoryLayout<T>.stride
    let statBytes = shape.slices * MemoryLayout<SoftmaxStatistics>.stride
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(y, count: shape.count, "y")
    try Check.pointer(stats, count: shape.slices, "statistics")
    try Check.disjoint(y, bytes, "y", x, bytes, "x", allowAlias: true)
    try Check.disjoint(y, bytes, "y", mask, shape.count, "mask", allowAlias: false)
    try Check.disjoint(y, bytes, "y", stats, statBytes, "statistics", allowAlias: false)
    try Check.temperature(temperature)
    guard shape.count > 0, let x, let y, let stats else { return }
    try checkStatistics(stats, shape.slices, "statistics")
    let k = Tier.kernels
    Threads.forEachChunk(units: shape.slices, costPerUnit: shape.n * 3) { range in
        SliceAccess.with(x, mask, shape) { access in
            for s in range {
                let r = access.row(s)
                let o = access.output(s, y)
                let st = stats[s].kernelStats
                let sum = stats[s].kernelSum
                if !log {
                    // The exp terms relative to the merged maximum, then scaled by the merged sum.
                    _ = k.rowChunkExpSum(r.x, mask: r.mask, y: o.y, start: r.start,
                                         count: shape.n, stats: st, temperature: temperature, precise: false)
                }
                k.rowChunkFinish(r.x, mask: r.mask, y: o.y, start: r.start,
                                 count: shape.n, stats: st, sum: sum, temperature: temperature, log: log)
                access.store(s, y)
            }
        }
    }
}

/// Refuses statistics that no chunk or merge produces, naming the first.
func checkStatistics(_ s: UnsafePointer<SoftmaxStatistics>, _ count: Int, _ name: String) throws(SoftmaxError) {
    for i in 0..<count where !s[i].isWellFormed {
        throw SoftmaxError(.invalidArgument,
                           "\(name)[\(i)] = \(s[i]) is not a chunk's softmax statistics "
                           + "(a finite max needs a sum >= 1, +inf a whole count, -inf a zero sum)")
    }
}
