import SoftmaxCore

/// The vector kernels of one CPU tier. Each entry point runs an operation over a range of
/// work units of an [outer, n, inner] view whose pointers and sizes the API layer has already
/// validated. A unit is a row (or eight short rows) when inner == 1, and a block of up to 512
/// neighbouring columns of one outer index otherwise (see `units(outer:n:inner:)` and
/// `ColumnBlock`).
///
/// Special values follow one policy on every path (vector body, tail, row or column walk):
/// NaN in a slice makes the whole slice NaN; k entries of +inf share probability 1/k; an empty,
/// all -inf or fully masked slice gives probability 0 and log-probability -inf.
public enum Kernels: SoftmaxKernelSet {
    /// The number of work units of an [outer, n, inner] view.
    public static func units(outer: Int, n: Int, inner: Int) -> Int {
        if inner > 1 { return outer * ColumnBlock.blocks(inner: inner) }
        return ShortRows.apply(outer: outer, n: n, inner: inner) ? (outer + 7) / 8 : outer
    }

    // The API layer calls through `any SoftmaxKernelSet.Type`, which passes T as metadata; each
    // entry point branches once on it so the work runs in code specialised for Float or Double.

    /// Softmax (or log-softmax when `log`) of the units `units`.
    public static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool
    ) {
        if T.self == Float.self {
            softmaxUnits(x.as(Float.self), y.as(Float.self), mask, outer, n, inner, units, temperature.double, log)
        } else {
            softmaxUnits(x.as(Double.self), y.as(Double.self), mask, outer, n, inner, units, temperature.double, log)
        }
    }

    /// log(sum(exp(x))) of the units `units`, one result per slice in `out`.
    public static func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>
    ) {
        if T.self == Float.self {
            logsumexpUnits(x.as(Float.self), out.as(Float.self), mask, outer, n, inner, units)
        } else {
            logsumexpUnits(x.as(Double.self), out.as(Double.self), mask, outer, n, inner, units)
        }
    }
}

extension UnsafePointer {
    @inline(__always) func `as`<U>(_: U.Type) -> UnsafePointer<U> {
        UnsafeRawPointer(self).assumingMemoryBound(to: U.self)
    }
}

extension UnsafeMutablePointer {
    @inline(__always) func `as`<U>(_: U.Type) -> UnsafeMutablePointer<U> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: U.self)
    }
}

func softmaxUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>, _ t: Double, _ log: Bool
) {
    if ShortRows.apply(outer: outer, n: n, inner: inner) {
        @inline(__always) func doubleLanes(_ units: Range<Int>) {
            ShortRows.forEach(x, mask, outer, n, units) { xs, ms, ys, w, r0 in
                @inline(__always) func group<W: LaneWalk>(_ walk: W) { softmaxGroup(xs, ms, ys, walk, t, log) }
                if w.width == 8 { group(FullBlockWalk(n: n)) } else { group(w) }
                transpose(UnsafePointer(ys), from: 8, y + r0 * n, to: n, rows: w.width, n: n)
            }
        }
        #if SSM_FMA
        if T.self == Float.self, mask == nil, t == 1 {
            softmaxShortRowsFloat(x.as(Float.self), y.as(Float.self), outer: outer, n: n, units: units, log: log) { u in
                doubleLanes(u..<u + 1)
            }
            return
        }
        #endif
        doubleLanes(units)
    } else if inner == 1 {
        #if SSM_FMA
        // Rows of up to eight Floats keep the Double path (Passes.swift).
        if T.self == Float.self, mask == nil, t == 1, n > 8 {
            softmaxRowsFloat(x.as(Float.self), y.as(Float.self), n, rows: units, log: log) { u in
                softmaxGroup(x, mask, y, RowWalk(row: u, n: n), t, log)
            }
            return
        }
        #endif
        if T.self == Double.self, mask == nil, n <= groupedRow(T.self) {
            softmaxRowsGrouped(x, y, n, rows: units, t, log)
            return
        }
        if T.self == Double.self, mask == nil {
            for u in units {
                softmaxGroup(x, nil, y, RowWalk(row: u, n: n), t, log,
                             ahead: rowsAhead(x, log ? y : nil, n, row: u, next: u + 1, end: units.upperBound))
            }
            return
        }
        for u in units { softmaxGroup(x, mask, y, RowWalk(row: u, n: n), t, log) }
    } else {
        for u in units { ColumnBlock(unit: u, n: n, inner: inner).softmax(x, mask, y, t, log) }
    }
}

func logsumexpUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>
) {
    if ShortRows.apply(outer: outer, n: n, inner: inner) {
        ShortRows.forEach(x, mask, outer, n, units) { xs, ms, _, w, r0 in
            if w.width == 8 { logsumexpGroup(xs, ms, out + r0, FullBlockWalk(n: n)) } else { logsumexpGroup(xs, ms, out + r0, w) }
        }
    } else if inner == 1 {
        #if SSM_FMA
        if T.self == Float.self, mask == nil, n > 8 {
            logsumexpRowsFloat(x.as(Float.self), out.as(Float.self), n, rows: units) { u in
                logsumexpGroup(x, mask, out, RowWalk(row: u, n: n))
            }
            return
        }
        #endif
        if T.self == Double.self, mask == nil, n <= groupedRow(T.self) {
            logsumexpRowsGrouped(x, out, n, rows: units)
            return
        }
        if T.self == Double.self, mask == nil {
            for u in units {
                logsumexpGroup(x, nil, out, RowWalk(row: u, n: n),
                               ahead: rowsAhead(x, nil, n, row: u, next: u + 1, end: units.upperBound))
            }
            return
        }
        for u in units { logsumexpGroup(x, mask, out, RowWalk(row: u, n: n)) }
    } else {
        for u in units { ColumnBlock(unit: u, n: n, inner: inner).logsumexp(x, mask, out) }
    }
}

@inline(__always)
func softmaxGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>, _ w: W,
    _ t: Double, _ log: Bool, ahead: PrefetchAhead = PrefetchAhead()
) {
    let st = rmax(x, mask, w)
    if log {
        let s = raddstoreexpminusmax(x, mask, nil, w, st, t, ahead: ahead)
        vlogfinalize(x, mask, y, w, st, t, logOfSum(s, st, W.self, forFloat: T.self == Float.self))
    } else {
        let s = raddstoreexpminusmax(x, mask, y, w, st, t, ahead: ahead)
        vdivide(y, w, s, st)
    }
}

/// `softmaxGroup` of unmasked rows, eight at a time: their first two passes row after row,
/// then their sums turned into logarithms (log results), then their last passes. The
/// logarithms (a libm call each) and the divisions of neighbouring rows are independent, so
/// the processor overlaps them rather than waiting on each in turn (docs/performance.md,
/// "Float rows" says the same of Float rows).
@inline(__always)
func softmaxRowsGrouped<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int, rows: Range<Int>, _ t: Double, _ log: Bool
) {
    withUnsafeTemporaryAllocation(of: RowChunkStats.self, capacity: 8) { stats in
        withUnsafeTemporaryAllocation(of: (hi: Double, lo: Double).self, capacity: 8) { sums in
            var u = rows.lowerBound
            while u < rows.upperBound {
                let count = Swift.min(8, rows.upperBound - u)
                rowGroupSums(x, log ? nil : y, n, rows: u..<u + count, t, fullExp: false,
                             stats.baseAddress!, sums.baseAddress!, written: log ? y : nil, end: rows.upperBound)
                @inline(__always) func lanes(_ k: Int) -> (hi: DV, lo: DV) { (DV(repeating: sums[k].hi), DV(repeating: sums[k].lo)) }
                if log { logOfRowSums(sums.baseAddress!, stats.baseAddress!, count, precise: false) }
                for k in 0..<count {
                    let w = RowWalk(row: u + k, n: n)
                    let st = LaneStats(stats[k])
                    if log { vlogfinalize(x, nil, y, w, st, t, lanes(k)) } else { vdivide(y, w, lanes(k), st) }
                }
                u += count
            }
        }
    }
}

/// The first two passes of up to eight unmasked rows, one after another: each row's statistics
/// and its sum of exp terms (stored to `y` when given), one lane of each kept, since a row
/// walk's are the same in every lane (copying the lane vectors in and out of scratch cost a
/// tenth of a 128-class row). Each exp pass fetches a later row of x before `end` and its row
/// of `written`, which a later pass writes (`rowsAhead`).
@inline(__always)
func rowGroupSums<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>?, _ n: Int, rows: Range<Int>, _ t: Double, fullExp: Bool,
    _ stats: UnsafeMutablePointer<RowChunkStats>, _ sums: UnsafeMutablePointer<(hi: Double, lo: Double)>,
    written: UnsafeMutablePointer<T>?, end: Int
) {
    if n * MemoryLayout<T>.stride < 2048 {
        // Rows under 2 KiB: the group's maximum passes first, then its exp passes, each fetching
        // the row that the next group's pass in its place reads, a whole group's work ahead
        // (the next row's hint alone came too late for rows this short, and the maxima first
        // alone left their reads waiting: each measured nothing, together 4-16% on 16384x128;
        // docs/performance.md, "float64 short rows").
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 8) { minima in
            for (k, row) in rows.enumerated() {
                let st = rmax(x, nil, RowWalk(row: row, n: n))
                (stats + k).initialize(to: st.row)
                minima[k] = st.rowMin
            }
            for (k, row) in rows.enumerated() {
                var st = LaneStats(stats[k])
                st.rowMin = minima[k]
                let s = raddstoreexpminusmax(x, nil, y, RowWalk(row: row, n: n), st, t, fullExp: fullExp,
                                             ahead: rowsAhead(x, written, n, row: row, next: row + rows.count, end: end))
                (sums + k).initialize(to: (s.hi[0], s.lo[0]))
            }
        }
        return
    }
    for (k, row) in rows.enumerated() {
        let w = RowWalk(row: row, n: n)
        let st = rmax(x, nil, w)
        let s = raddstoreexpminusmax(x, nil, y, w, st, t, fullExp: fullExp,
                                     ahead: rowsAhead(x, written, n, row: row, next: row + 1, end: end))
        (stats + k).initialize(to: st.row)
        (sums + k).initialize(to: (s.hi[0], s.lo[0]))
    }
}

/// What the exp pass of unmasked row `row` (n entries) fetches meanwhile (`PrefetchAhead`), as
/// the Float rows' does: the row `next` of x, whose maximum is taken next, where it is before
/// `end` and both rows fit in the L2 cache beside their results (`fetchedRow`, counted in
/// bytes), and the row of `written` that a later pass writes (log results).
@inline(__always)
func rowsAhead<T>(
    _ x: UnsafePointer<T>, _ written: UnsafeMutablePointer<T>?, _ n: Int, row: Int, next: Int, end: Int
) -> PrefetchAhead {
    let fits = n * MemoryLayout<T>.stride <= fetchedRow * MemoryLayout<Float>.stride
    return PrefetchAhead(read: fits && next < end ? UnsafeRawPointer(x + next * n) : nil,
                         write: written.map { UnsafeRawPointer($0 + row * n) })
}

/// `logsumexpGroup` of unmasked rows, eight at a time, as `softmaxRowsGrouped` goes: their two
/// passes row after row, then their logarithms (a libm call each, independent of each other),
/// so that a row's sum-to-result chain does not hold up the next row. The same results.
@inline(__always)
func logsumexpRowsGrouped<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ n: Int, rows: Range<Int>
) {
    withUnsafeTemporaryAllocation(of: RowChunkStats.self, capacity: 8) { stats in
        withUnsafeTemporaryAllocation(of: (hi: Double, lo: Double).self, capacity: 8) { sums in
            var u = rows.lowerBound
            while u < rows.upperBound {
                let count = Swift.min(8, rows.upperBound - u)
                rowGroupSums(x, nil, n, rows: u..<u + count, 1, fullExp: true, stats.baseAddress!, sums.baseAddress!,
                             written: nil, end: rows.upperBound)
                // The ordinary rows (a finite maximum >= 0: nothing cancels) take one vector
                // logarithm and sum, `storeLogSumExp`'s steps lane-wise; the others go one by one.
                let l = logOfRowSumLanes(sums.baseAddress!, count)
                let (h, e) = vtwoSum(groupLanes(count, pad: 0) { stats[$0].max }, l.hi)
                let r = h + (e + l.lo)
                for k in 0..<count {
                    let st = stats[k]
                    if !st.nan && st.max.isFinite && st.max >= 0 {
                        out[u + k] = T(rounding: r[k])
                    } else {
                        let s = (hi: DV(repeating: sums[k].hi), lo: DV(repeating: sums[k].lo))
                        logsumexpFinish(x, nil, out, RowWalk(row: u + k, n: n), LaneStats(st), s)
                    }
                }
                u += count
            }
        }
    }
}

@inline(__always)
func logsumexpGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>, _ w: W,
    ahead: PrefetchAhead = PrefetchAhead()
) {
    let st = rmax(x, mask, w)
    // The full-precision exp even for Float: max + log(sum) can cancel to a small result.
    let s = raddstoreexpminusmax(x, mask, nil, w, st, 1, fullExp: true, ahead: ahead)
    logsumexpFinish(x, mask, out, w, st, s)
}

/// Stores max + log(sum) of a group's slices from their statistics and exp sums.
@inline(__always)
func logsumexpFinish<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>, _ w: W,
    _ st: LaneStats, _ s: (hi: DV, lo: DV)
) {
    if T.self == Float.self && !W.horizontal && !st.special {
        // Float results of lanes of short rows (or columns): the vector log1p's 2^-33 is within
        // 0.1 ulp of results of magnitude 1/4 and more, as for Float rows; a group with a
        // smaller result (max + log(sum) cancelled, or both near 0) takes libm's log1p, whose
        // eight calls were about a third of a 4096x10 logsumexp.
        let l = logOfSum(s, st, W.self, forFloat: true)
        let r = st.shift + l.hi
        var small = false
        for lane in 0..<w.resultLanes where Swift.abs(r[lane]) < 0.25 { small = true }
        if !small {
            storeLogSumExp(out, w, st, l)
            return
        }
    }
    storeLogSumExp(out, w, st, logOfSum(s, st, W.self, precise: T.self == Double.self))
    if T.self == Double.self && !st.special {
        for l in 0..<w.resultLanes {
            let r = out[w.resultOffset + l].double
            let m = st.max[l]
            // max + log(sum) cancelled (max < 0): the exp terms' half-ulps are amplified by
            // |log(sum) / result|, so where that ratio exceeds 2 the slice is summed again with
            // every term in double-double.
            if m < 0 && abs(r - m) > 2 * abs(r) {
                out[w.resultOffset + l] = T(rounding: preciseLogSumExp(x, mask, w, lane: l, max: m))
            }
        }
    }
}

/// log(sum(exp(x))) of one slice with every exp term and the sum in double-double.
@inline(never)
func preciseLogSumExp<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ w: W, lane l: Int, max m: Double
) -> Double {
    var rest: DoubleDouble.DD = (-1, 0)  // the sum without one maximal term (exactly 1)
    let n = W.horizontal ? w.steps * 8 : w.steps
    let count = W.horizontal ? (0..<w.steps).reduce(0) { $0 + w.lanes($1) } : n
    for i in 0..<count {
        let k = w.elementOffset(i, lane: l)
        if let mask, mask[k] == 0 { continue }
        let d = twoSum(x[k].double, -m)
        if d.hi < -746 { continue }  // below the smallest subnormal (and -inf)
        rest = DoubleDouble.add(rest, d.hi == 0 && d.lo == 0 ? (1, 0) : DoubleDouble.exp(d))
    }
    let lse = DoubleDouble.log1p(rest, first: log1pD(rest.hi + rest.lo))
    let r = DoubleDouble.add((m, 0), lse)
    return r.hi + r.lo
}

/// Rows up to this long are moved eight at a time into a scratch block [n, 8] and walked as
/// columns: one full vector step per element, instead of a partly empty vector and a cross-lane
/// reduction per row.
let shortRow = 16

enum ShortRows {
    /// Short rows, and enough of them to fill the eight lanes: a lone short row runs faster
    /// as a row walk than as one lane of eight.
    @inline(__always)
    static func apply(outer: Int, n: Int, inner: Int) -> Bool {
        inner == 1 && n <= shortRow && outer >= 8
    }

    /// For each unit (eight rows), the rows transposed into scratch (x, and the mask if any),
    /// an output scratch block, the column walk over it, and the first row's index.
    @inline(__always)
    static func forEach<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ outer: Int, _ n: Int, _ units: Range<Int>,
        _ body: (UnsafePointer<T>, UnsafePointer<UInt8>?, UnsafeMutablePointer<T>, ColumnWalk, Int) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: T.self, capacity: 16 * shortRow) { buf in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8 * shortRow) { mbuf in
                let xs = buf.baseAddress!, ys = xs + 8 * shortRow, ms = mbuf.baseAddress!
                for u in units {
                    let r0 = 8 * u
                    let rows = Swift.min(8, outer - r0)
                    transpose(x + r0 * n, from: n, xs, to: 8, rows: rows, n: n, forward: true)
                    if let mask { transpose(mask + r0 * n, from: n, ms, to: 8, rows: rows, n: n, forward: true) }
                    body(UnsafePointer(xs), mask == nil ? nil : UnsafePointer(ms), ys, ColumnWalk(block: n, width: rows), r0)
                }
            }
        }
    }
}

/// Copies `rows` rows of `n` elements between row-major (stride n) and the scratch layout
/// (element i of row l at i * 8 + l): forward reads rows, backward writes them.
@inline(__always)
func transpose<E>(
    _ src: UnsafePointer<E>, from srcStride: Int, _ dst: UnsafeMutablePointer<E>, to dstStride: Int,
    rows: Int, n: Int, forward: Bool = false
) {
    var first = 0
    if E.self == Float.self && rows == 8 {
        // Eight columns at a time by register shuffles: one element at a time, the copies in and
        // out of the scratch block were about a third of a short-row softmax.
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: Float.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self)
        while first + 8 <= n {
            if forward {
                transpose8x8(s + first, srcStride, d + first * dstStride, dstStride)
            } else {
                transpose8x8(s + first * srcStride, srcStride, d + first, dstStride)
            }
            first += 8
        }
        // The last columns by a block that overlaps the previous one: its other columns are
        // copied again, unchanged (a column at a time, they took a third of 4096x10's time).
        if first < n && n >= 8 {
            if forward {
                transpose8x8(s + (n - 8), srcStride, d + (n - 8) * dstStride, dstStride)
            } else {
                transpose8x8(s + (n - 8) * srcStride, srcStride, d + (n - 8), dstStride)
            }
            first = n
        }
    } else if E.self == Double.self && rows == 8 && n >= 4 {
        // Doubles by 4x4 blocks, the last columns again by an overlapping block: the element
        // loop below became gathers on AVX-512, slow there (float64 softmax 4096x10 cost more per
        // element on the avx512 tier than on the avx2 tier).
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: Double.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Double.self)
        @inline(__always) func block(_ c: Int) {
            for h in stride(from: 0, to: 8, by: 4) {
                if forward {
                    transpose4x4(s + h * srcStride + c, srcStride, d + c * dstStride + h, dstStride)
                } else {
                    transpose4x4(s + c * srcStride + h, srcStride, d + h * dstStride + c, dstStride)
                }
            }
        }
        while first + 4 <= n {
            block(first)
            first += 4
        }
        if first < n {
            block(n - 4)
            first = n
        }
    }
    for l in 0..<rows {
        for i in first..<n {
            if forward {
                dst[i * dstStride + l] = src[l * srcStride + i]
            } else {
                dst[l * dstStride + i] = src[i * srcStride + l]
            }
        }
    }
}

/// Four vectors of four Doubles read at p + k·a, transposed (lane l of vector k becomes lane k
/// of vector l), written at q + l·b: unpacks of pairs, then of halves.
@inline(__always)
func transpose4x4(_ p: UnsafePointer<Double>, _ a: Int, _ q: UnsafeMutablePointer<Double>, _ b: Int) {
    typealias D4 = SIMD4<Double>
    @inline(__always) func load(_ k: Int) -> D4 { UnsafeRawPointer(p + k * a).loadUnaligned(as: D4.self) }
    @inline(__always) func store(_ v: D4, _ l: Int) { UnsafeMutableRawPointer(q + l * b).storeBytes(of: v, as: D4.self) }
    let r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3)
    let t0 = D4(r0[0], r1[0], r0[2], r1[2]), t1 = D4(r0[1], r1[1], r0[3], r1[3])
    let t2 = D4(r2[0], r3[0], r2[2], r3[2]), t3 = D4(r2[1], r3[1], r2[3], r3[3])
    store(D4(lowHalf: t0.lowHalf, highHalf: t2.lowHalf), 0)
    store(D4(lowHalf: t1.lowHalf, highHalf: t3.lowHalf), 1)
    store(D4(lowHalf: t0.highHalf, highHalf: t2.highHalf), 2)
    store(D4(lowHalf: t1.highHalf, highHalf: t3.highHalf), 3)
}

/// Eight vectors of eight Floats read at p + k·a, transposed (lane l of vector k becomes lane k
/// of vector l), written at q + l·b: unpacks of pairs, of pairs of pairs, then of halves.
@inline(__always)
func transpose8x8(_ p: UnsafePointer<Float>, _ a: Int, _ q: UnsafeMutablePointer<Float>, _ b: Int) {
    typealias F8 = SIMD8<Float>
    typealias D4 = SIMD4<Double>
    @inline(__always) func load(_ k: Int) -> F8 { UnsafeRawPointer(p + k * a).loadUnaligned(as: F8.self) }
    @inline(__always) func store(_ v: F8, _ l: Int) { UnsafeMutableRawPointer(q + l * b).storeBytes(of: v, as: F8.self) }
    @inline(__always) func pairsLo(_ x: F8, _ y: F8) -> F8 { F8(x[0], y[0], x[1], y[1], x[4], y[4], x[5], y[5]) }
    @inline(__always) func pairsHi(_ x: F8, _ y: F8) -> F8 { F8(x[2], y[2], x[3], y[3], x[6], y[6], x[7], y[7]) }
    // Pairs of Floats move as one Double lane (a bit cast: no conversion).
    @inline(__always) func quadsLo(_ x: F8, _ y: F8) -> F8 {
        let u = unsafeBitCast(x, to: D4.self), v = unsafeBitCast(y, to: D4.self)
        return unsafeBitCast(D4(u[0], v[0], u[2], v[2]), to: F8.self)
    }
    @inline(__always) func quadsHi(_ x: F8, _ y: F8) -> F8 {
        let u = unsafeBitCast(x, to: D4.self), v = unsafeBitCast(y, to: D4.self)
        return unsafeBitCast(D4(u[1], v[1], u[3], v[3]), to: F8.self)
    }
    let r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3)
    let r4 = load(4), r5 = load(5), r6 = load(6), r7 = load(7)
    let t0 = pairsLo(r0, r1), t1 = pairsHi(r0, r1), t2 = pairsLo(r2, r3), t3 = pairsHi(r2, r3)
    let t4 = pairsLo(r4, r5), t5 = pairsHi(r4, r5), t6 = pairsLo(r6, r7), t7 = pairsHi(r6, r7)
    let u0 = quadsLo(t0, t2), u1 = quadsHi(t0, t2), u2 = quadsLo(t1, t3), u3 = quadsHi(t1, t3)
    let u4 = quadsLo(t4, t6), u5 = quadsHi(t4, t6), u6 = quadsLo(t5, t7), u7 = quadsHi(t5, t7)
    store(F8(lowHalf: u0.lowHalf, highHalf: u4.lowHalf), 0)
    store(F8(lowHalf: u1.lowHalf, highHalf: u5.lowHalf), 1)
    store(F8(lowHalf: u2.lowHalf, highHalf: u6.lowHalf), 2)
    store(F8(lowHalf: u3.lowHalf, highHalf: u7.lowHalf), 3)
    store(F8(lowHalf: u0.highHalf, highHalf: u4.highHalf), 4)
    store(F8(lowHalf: u1.highHalf, highHalf: u5.highHalf), 5)
    store(F8(lowHalf: u2.highHalf, highHalf: u6.highHalf), 6)
    store(F8(lowHalf: u3.highHalf, highHalf: u7.highHalf), 7)
}
