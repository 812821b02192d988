import SoftmaxCore

// Float rows too long for the L2 cache to hold with their results, at temperature 1: the
// maximum and exp-sum passes segment by segment, the next segment fetched during the exp pass,
// and the row's sum from its segments' sums, each taken in its segment's own form
// (docs/design.md, "Walks"; docs/performance.md, "Float rows"). A row split between threads
// (`floatRowBySegments`) takes the same steps per segment, so the same bits.

/// The shortest Float rows taken by segments, where the API splits a row between threads
/// (four chunks). A longer row taken whole reads itself again from the L3 cache or memory in
/// each pass, and its maximum's pass, two operations a vector, waits on every line: 32×262144
/// softmax cost 37% more per element than 256×32768 on one thread, 56% more on two.
let segmentedRow = 4 * rowChunkLength

/// A segment of such a row: one chunk of the exp pass's sum (`rowChunkLength`), 64 KiB, so that
/// it, its results and the next segment stay in the L2 cache between the passes. (Two chunks
/// measured 3–8% slower.)
let rowSegment = rowChunkLength

extension Kernels {
    public static func floatRowBySegments(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, log: Bool,
        parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
    ) -> Bool {
        #if SSM_FMA
        return n >= segmentedRow && softmaxRowBySegmentsFloat(x, y, n, log: log, parallel: parallel)
        #else
        return false
        #endif
    }

    public static func floatRowLogSumExpBySegments(
        _ x: UnsafePointer<Float>, n: Int, parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
    ) -> Double? {
        #if SSM_FMA
        return n >= segmentedRow ? logsumexpRowBySegmentsFloat(x, n, parallel: parallel) : nil
        #else
        return nil
        #endif
    }
}

#if SSM_FMA
/// What a row's passes left of one segment: its extremes, its shift (0 where its terms are
/// exp(x) itself, `unshiftedBias`), its sum as a Double pair, and the factor that brings that
/// sum to the row's maximum: exp(shift - max).
struct SegmentSum {
    var max: Float
    var min: Float
    var shift: Float = 0
    var hi: Double = 0
    var lo: Double = 0
    var unshifted = false
    var factor: Double = 1
}

/// The passes over a row's segment k: its maximum's (unless `extremes` gives its maximum and
/// minimum), then its exp pass (terms stored to `y` when given) in the form a whole row with
/// its extremes would take (`softmaxRowsFloat`): its terms exp(x) where `unshifted` allows and
/// `unshiftedBias` agrees, else shifted by `softmaxShift` of its extremes, or for log results
/// by its maximum with the maximal terms counted apart. `next` is fetched during the exp pass,
/// which is bound by its arithmetic, so that the next maximum's pass, bound by memory, finds
/// it in the cache. Nil where the segment holds a special value (NaN, an infinity, or only
/// -inf entries).
@inline(__always)
func segmentExpSum(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, segment k: Int, log: Bool, unshifted: Bool,
    extremes: (max: Float, min: Float)? = nil, next: UnsafeRawPointer? = nil
) -> SegmentSum? {
    let start = k * rowSegment, length = Swift.min(rowSegment, n - start)
    var m: Float, smallest: Float
    if let extremes {
        (m, smallest) = extremes
    } else {
        let (stats, least) = rmaxFloat(x + start, length, findNaN: !scaleKeepsNaN)
        guard !stats.nan, stats.max.isFinite else { return nil }
        (m, smallest) = (Float(stats.max), least)
    }
    let bias = unshifted ? unshiftedBias(max: m, min: smallest, n: length) : nil
    let shift = log || bias != nil ? m : softmaxShift(max: m, min: smallest)
    let sum = raddstoreexpminusmaxFloat(x + start, y.map { $0 + start }, length, max: shift, min: smallest,
                                        topsApart: log && bias == nil, unshiftedBias: bias, ahead: PrefetchAhead(read: next))
    // Where the exp keeps NaN, NaN shows here (as in `softmaxRowsFloat`).
    guard !sum.sum.isNaN else { return nil }
    // A one-chunk sum has no compensation: its pair is (sum, 0).
    let p = sum.compensation == 0 ? (hi: sum.sum, lo: 0) : sum.pair
    return SegmentSum(max: m, min: smallest, shift: bias == nil ? shift : 0, hi: p.hi, lo: p.lo, unshifted: bias != nil)
}

/// A row's sum from its segments' (in segment order): its maximum, and S - 1, S being the sum
/// relative to that maximum, as a compensated Double sum, each segment's factor set: exactly 1
/// where its shift is the maximum, else a Double exp within an ulp, far below the sum's own
/// error. A confident row's small rest stays as exact as its segments have it: the maximal
/// term, exactly 1 where a segment is shifted by the maximum, cancels the -1; where only an
/// unshifted segment holds it, its term (rounded to Float, 2^-24 off) is replaced by 1, as
/// `restOfSums` replaces it (`unshiftedTop`); softmax segments shifted by a power of two above
/// their maximum keep their sum as it is, as a whole row's.
@inline(__always)
func segmentsTotal(_ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int) -> (max: Float, rest: CompensatedSum, unshiftedTop: Bool) {
    var top = -Float.infinity
    for k in 0..<count { top = Swift.max(top, segments[k].max) }
    let unshiftedFactor = expD(-Double(top))
    var exactTop = false, roundedTop = false
    var rest = CompensatedSum()
    for k in 0..<count {
        let s = segments[k]
        exactTop = exactTop || (!s.unshifted && s.shift == top)
        roundedTop = roundedTop || (s.unshifted && s.max == top)
        let f = s.unshifted ? unshiftedFactor : s.shift == top ? 1 : expD(Double(s.shift) - Double(top))
        segments[k].factor = f
        rest.add(s.hi * f)
        rest.add(s.lo * f)
    }
    let unshiftedTop = !exactTop && roundedTop
    if unshiftedTop {
        let term = vexpf(FV(repeating: top), FV(repeating: 0), exact: true, normal: true)[0]
        rest.add(-Double(term) * unshiftedFactor)
    } else {
        rest.add(-1)
    }
    return (top, rest, unshiftedTop)
}

/// Whether a log row's rest must be summed again with every segment shifted: its maximal term
/// came from an unshifted segment, whose sum's error (about 2^-21 of its largest term a chunk)
/// is too large a share of a rest below `unshiftedRestFloor`, as for a whole row.
@inline(__always)
func resumLogRest(_ total: (max: Float, rest: CompensatedSum, unshiftedTop: Bool), _ n: Int) -> Bool {
    total.unshiftedTop && total.rest.value < unshiftedRestFloor(n)
}

/// max + log(S) as a Float pair (ch, cl) for `vlogfinalizeFloat`, from a log row's total; nil
/// where its rest is below 2^-90 (`hasTinyRest`), which the general walk sums in Double lanes.
@inline(__always)
func logShiftsOfTotal(_ top: Float, _ rest: Double) -> (ch: Float, cl: Float)? {
    guard rest >= 0x1p-90 else { return nil }
    let r = vlog1pForFloat(DV(repeating: rest))
    let lh = narrow(r)
    let shifts = logShifts(max: FHalf(repeating: top), lh: lh, ll: narrow(r - widen(lh)))
    return (shifts.ch[0], shifts.cl[0])
}

/// Softmax (or log-softmax when `log`) of one Float row of at least `segmentedRow` entries into
/// y, which is not x (a row handed to the general walk midway must still be whole in x): each
/// segment's two passes in turn (`segmentExpSum`, fetching the next segment, or the next row's
/// first), then softmax's terms scaled segment by segment (each by its factor over the sum, as
/// a Float pair), or log-softmax's last pass over the row. False where the row needs the
/// general walk.
@inline(never)
func softmaxSegmentedRowFloat(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool,
                              nextRow: UnsafePointer<Float>?) -> Bool {
    let count = (n + rowSegment - 1) / rowSegment
    return withUnsafeTemporaryAllocation(of: SegmentSum.self, capacity: count) { buffer in
        let segments = buffer.baseAddress!
        @inline(__always) func sums(unshifted: Bool) -> Bool {
            interleavedSums(x, log ? nil : y, n, log: log, unshifted: unshifted, segments, count, nextRow: nextRow)
        }
        guard sums(unshifted: true) else { return false }
        return finishSegmentedRow(x, y, n, log: log, segments, count, resum: { sums(unshifted: false) },
                                  parallel: { count, body in body(0..<count) })
    }
}

/// Each segment's two passes in turn (`segmentExpSum`) into `segments`, each fetching the next
/// segment, the last the next row's first; false where a segment holds a special value.
@inline(__always)
func interleavedSums(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, log: Bool, unshifted: Bool,
    _ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int, nextRow: UnsafePointer<Float>?
) -> Bool {
    for k in 0..<count {
        let next = k + 1 < count ? UnsafeRawPointer(x + (k + 1) * rowSegment) : nextRow.map { UnsafeRawPointer($0) }
        guard let s = segmentExpSum(x, y, n, segment: k, log: log, unshifted: unshifted, next: next) else { return false }
        segments[k] = s
    }
    return true
}

/// The rest of a segmented row after its exp passes: the total (and, for a log row that needs
/// it, `resum` summing the segments again shifted), then the last pass segment by segment
/// through `parallel`. False where the row needs the general walk (only a log row, before
/// anything is written).
@inline(__always)
func finishSegmentedRow(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool,
    _ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int, resum: () -> Bool,
    parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
) -> Bool {
    var total = segmentsTotal(segments, count)
    @inline(__always) func length(_ k: Int) -> Int { Swift.min(rowSegment, n - k * rowSegment) }
    if log {
        if resumLogRest(total, n) {
            guard resum() else { return false }
            total = segmentsTotal(segments, count)
        }
        guard let (ch, cl) = logShiftsOfTotal(total.max, total.rest.value) else { return false }
        parallel(count) { range in
            for k in range { vlogfinalizeFloat(x + k * rowSegment, y + k * rowSegment, length(k), ch: ch, cl: cl) }
        }
        return true
    }
    let (hi, lo) = total.rest.pair
    let sum = (hi + 1) + lo
    parallel(count) { range in
        for k in range {
            let scale = segments[k].factor / sum
            // An unshifted segment's terms reach e^32, and its scale e^-max: below 2^-100 the
            // scale's Float pair leaves the normal range while the results need not.
            if segments[k].unshifted && scale < 0x1p-100 {
                vscaleFloatInDouble(y + k * rowSegment, length(k), scale)
            } else {
                vscaleFloat(y + k * rowSegment, length(k), scale)
            }
        }
    }
    return true
}

/// y = y·scale in Double, rounded once into Float: for scales whose Float pair (`vscaleFloat`)
/// would be subnormal.
@inline(never)
func vscaleFloatInDouble(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Double) {
    let s = DV(repeating: scale)
    var i = 0
    while i + 8 <= n {
        let v = widen(UnsafeRawPointer(y + i).loadUnaligned(as: FHalf.self))
        UnsafeMutableRawPointer(y + i).storeBytes(of: narrow(v * s), as: FHalf.self)
        i += 8
    }
    while i < n {
        y[i] = Float(Double(y[i]) * scale)
        i += 1
    }
}

/// `softmaxSegmentedRowFloat` with its segments shared out by `parallel`, in place as well: the
/// maximum passes of every segment first, which find the special values before anything is
/// written, then the exp passes, each segment's as above (so the same bits). False, with
/// nothing written, where the row needs the general walk.
func softmaxRowBySegmentsFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool,
    parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
) -> Bool {
    let count = (n + rowSegment - 1) / rowSegment
    return withUnsafeTemporaryAllocation(of: SegmentSum.self, capacity: count) { buffer in
        let segments = buffer.baseAddress!
        guard phasedSums(x, log ? nil : y, n, log: log, segments, count, parallel: parallel) else { return false }
        return finishSegmentedRow(x, y, n, log: log, segments, count, resum: {
            phasedExpSums(x, nil, n, log: true, unshifted: false, segments, count, parallel: parallel)
        }, parallel: parallel)
    }
}

/// The maximum passes of every segment (through `parallel`), their extremes kept in the
/// segments' entries, then their exp passes; false where a segment holds a special value.
@inline(__always)
func phasedSums(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, log: Bool,
    _ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int,
    parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
) -> Bool {
    parallel(count) { range in
        for k in range {
            let start = k * rowSegment
            let (stats, smallest) = rmaxFloat(x + start, Swift.min(rowSegment, n - start), findNaN: true)
            // NaN marks a special segment.
            segments[k] = SegmentSum(max: stats.nan || !stats.max.isFinite ? .nan : Float(stats.max), min: smallest)
        }
    }
    for k in 0..<count where segments[k].max.isNaN { return false }
    return phasedExpSums(x, y, n, log: log, unshifted: true, segments, count, parallel: parallel)
}

/// The exp passes of every segment (through `parallel`), from the extremes in their entries;
/// false where one finds NaN (it cannot, after `phasedSums`' maximum passes).
@inline(__always)
func phasedExpSums(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, log: Bool, unshifted: Bool,
    _ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int,
    parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
) -> Bool {
    parallel(count) { range in
        for k in range {
            let next = k + 1 < range.upperBound ? UnsafeRawPointer(x + (k + 1) * rowSegment) : nil
            if let s = segmentExpSum(x, y, n, segment: k, log: log, unshifted: unshifted,
                                     extremes: (segments[k].max, segments[k].min), next: next) {
                segments[k] = s
            } else {
                segments[k].max = .nan
            }
        }
    }
    for k in 0..<count where segments[k].max.isNaN { return false }
    return true
}

/// logsumexp of one Float row of at least `segmentedRow` entries, max + log1p(S - 1) in Double
/// as `logsumexpRowsFloat` has it (for results of magnitude 1/4 and more), or nil where the
/// row needs the general walk: each segment's two passes in turn, as `softmaxSegmentedRowFloat`.
@inline(never)
func logsumexpSegmentedRowFloat(_ x: UnsafePointer<Float>, _ n: Int, nextRow: UnsafePointer<Float>?) -> Double? {
    let count = (n + rowSegment - 1) / rowSegment
    return withUnsafeTemporaryAllocation(of: SegmentSum.self, capacity: count) { buffer in
        let segments = buffer.baseAddress!
        @inline(__always) func sums(unshifted: Bool) -> Bool {
            interleavedSums(x, nil, n, log: true, unshifted: unshifted, segments, count, nextRow: nextRow)
        }
        guard sums(unshifted: true) else { return nil }
        return logSumExpOfSegments(n, segments, count) { sums(unshifted: false) }
    }
}

/// `logsumexpSegmentedRowFloat` with its segments shared out by `parallel` (the same bits).
func logsumexpRowBySegmentsFloat(
    _ x: UnsafePointer<Float>, _ n: Int, parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void
) -> Double? {
    let count = (n + rowSegment - 1) / rowSegment
    return withUnsafeTemporaryAllocation(of: SegmentSum.self, capacity: count) { buffer in
        let segments = buffer.baseAddress!
        guard phasedSums(x, nil, n, log: true, segments, count, parallel: parallel) else { return nil }
        return logSumExpOfSegments(n, segments, count) {
            phasedExpSums(x, nil, n, log: true, unshifted: false, segments, count, parallel: parallel)
        }
    }
}

/// A log row's max + log1p(S - 1) from its segments (`resum` summing them again where
/// `resumLogRest` says), or nil for a result below 1/4 in magnitude (the general walk's).
@inline(__always)
func logSumExpOfSegments(_ n: Int, _ segments: UnsafeMutablePointer<SegmentSum>, _ count: Int, resum: () -> Bool) -> Double? {
    var total = segmentsTotal(segments, count)
    if resumLogRest(total, n) {
        guard resum() else { return nil }
        total = segmentsTotal(segments, count)
    }
    let r = Double(total.max) + vlog1pForFloat(DV(repeating: total.rest.value))[0]
    return Swift.abs(r) >= 0.25 ? r : nil
}
#endif
