import SoftmaxCore

/// What the first pass learns about each lane's slice.
struct LaneStats {
    /// The maximum of the unmasked entries (finite lanes only are used as the shift).
    var max: DV
    /// The shift actually subtracted: the maximum where it is finite, 0 elsewhere.
    var shift: DV
    var nan: DMask
    var posInf: DMask      // the slice's maximum is +inf
    var empty: DMask       // the slice is empty, all -inf, or fully masked
    var infCount: DV       // how many +inf entries the slice has
    var special: Bool      // any lane is nan, posInf or empty
    /// A contiguous row's smallest entry, where its rmax found it (-inf: unknown), which tells
    /// the later passes how exact `x - max` can be had cheaply (`ShiftForm`).
    var rowMin: Double = -.infinity
}

/// rmax: lane-wise maximum, NaN flags and +inf counts; reduced across lanes for a row walk.
@inline(__always)
func rmax<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ w: W
) -> LaneStats {
    if mask == nil, let row = w as? RowWalk {
        #if SSM_FMA
        if T.self == Float.self {
            let (c, smallest) = rmaxFloat(x.as(Float.self) + row.base, row.n)
            var st = LaneStats(c)
            st.rowMin = Double(smallest)
            return st
        }
        #endif
        let (c, smallest) = rmaxContiguous(x + row.base, row.n)
        var st = LaneStats(c)
        st.rowMin = smallest
        return st
    }
    var m = DV(repeating: -.infinity)
    var nan = DMask(repeating: false)
    var infs = DV(repeating: 0)
    let one = DV(repeating: 1), zero = DV(repeating: 0)
    for k in 0..<w.steps {
        let v = load(x, mask, w, k, pad: -.infinity)
        nan .|= v .!= v
        m = vmax(m, v)
        infs += zero.replacing(with: one, where: v .== .infinity)
    }
    if W.horizontal {
        var c = 0.0
        for i in 0..<8 { c += infs[i] }
        return LaneStats(RowChunkStats(max: hmax(m), nan: anyLane(nan), infCount: c))
    }
    return LaneStats(max: m, nan: nan, infCount: infs, lanes: w.resultLanes)
}

/// rmax of a contiguous unmasked piece: +inf entries are counted only in the rare piece whose
/// maximum is +inf, and two accumulators let neighbouring compare-and-blend chains overlap.
@inline(__always)
func rmaxContiguous<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ n: Int) -> (stats: RowChunkStats, min: Double) {
    var m0 = DV(repeating: -.infinity), m1 = m0
    var l0 = DV(repeating: .infinity), l1 = l0
    var nan0 = DMask(repeating: false), nan1 = nan0
    var i = 0
    while i + 16 <= n {
        let a = T.load8(x + i), b = T.load8(x + i + 8)
        m0 = vmax(m0, a)
        m1 = vmax(m1, b)
        l0 = vmin(l0, a)
        l1 = vmin(l1, b)
        nan0 .|= a .!= a
        nan1 .|= b .!= b
        i += 16
    }
    if i < n {
        let a = n - i >= 8 ? T.load8(x + i) : T.loadPartial(x + i, count: n - i, pad: -.infinity)
        let b = n - i > 8 ? T.loadPartial(x + i + 8, count: n - i - 8, pad: -.infinity) : DV(repeating: -.infinity)
        m0 = vmax(m0, a)
        m1 = vmax(m1, b)
        // The minimum's padding is +inf, which no minimum takes.
        l0 = vmin(l0, n - i >= 8 ? a : T.loadPartial(x + i, count: n - i, pad: .infinity))
        if n - i > 8 { l1 = vmin(l1, T.loadPartial(x + i + 8, count: n - i - 8, pad: .infinity)) }
        nan0 .|= a .!= a
        nan1 .|= b .!= b
    }
    let top = hmax(vmax(m0, m1))
    var infs = 0.0
    if top == .infinity {
        for k in 0..<n where x[k] == .infinity { infs += 1 }
    }
    // The minimum is only read for rows without NaN, so vmin's NaN order does not matter.
    return (RowChunkStats(max: top, nan: anyLane(nan0 .| nan1), infCount: infs), hmin(vmin(l0, l1)))
}

extension LaneStats {
    /// Statistics of `lanes` slices (the lanes above them are padding and never special).
    @inline(__always)
    init(max m: DV, nan: DMask, infCount: DV, lanes: Int = 8) {
        let posInf = m .== .infinity
        let empty = m .== -.infinity
        let used = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int64>(repeating: Int64(lanes))
        let special = anyLane((nan .| posInf .| empty) .& used)
        self.init(max: m, shift: special ? m.replacing(with: 0, where: posInf .| empty) : m,
                  nan: nan, posInf: posInf, empty: empty, infCount: infCount, special: special)
    }

    /// All lanes holding one row's statistics.
    @inline(__always)
    init(_ c: RowChunkStats) {
        self.init(max: DV(repeating: c.max), nan: DMask(repeating: c.nan), infCount: DV(repeating: c.infCount))
    }

    var row: RowChunkStats { RowChunkStats(max: max[0], nan: nan[0], infCount: infCount[0]) }
}

/// The special-value policy applied to exp terms, lane by lane (only when `st.special`).
@inline(never)
func specialTerms(_ e: DV, _ v: DV, _ st: LaneStats) -> DV {
    let top = DV(repeating: 0).replacing(with: 1, where: v .== .infinity)
    var e = e.replacing(with: top, where: st.posInf)
    e = e.replacing(with: 0, where: st.empty)
    return e.replacing(with: .nan, where: st.nan)
}

/// raddstoreexpminusmax: exp((x - max)/T) stored to `y` (when given) and summed lane-wise in
/// double-double; a row walk merges its lanes, chunk by chunk, into one sum.
@inline(__always)
func raddstoreexpminusmax<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?, _ w: W,
    _ st: LaneStats, _ t: Double, fullExp: Bool = false, ahead: PrefetchAhead = PrefetchAhead()
) -> (hi: DV, lo: DV) {
    let (s, row) = raddstoreexpminusmaxChunked(x, mask, y, w, st, t, fullExp: fullExp, ahead: ahead)
    if W.horizontal {
        let p = row.pair
        return (DV(repeating: p.hi), DV(repeating: p.lo))
    }
    return s
}

/// raddstoreexpminusmax with a row walk's sum also as a `CompensatedSum`: the totals of its
/// chunks of `rowChunk` elements, the first taken as it is and the others added in order.
/// Contiguous Float rows at temperature 1 take the Float-arithmetic kernel (FloatLanes.swift)
/// on FMA tiers, unless `floatArithmetic` is false: partial statistics keep the Double exp,
/// since their sums are merged and may end in a logsumexp that cancels. A column walk's count
/// of maximal terms goes to `tops` when given, rather than into its lanes: tiles merged with
/// the 1 already in their sums would leave the other terms to the plainly added low parts.
/// A contiguous row's pass fetches the lines `ahead` names meanwhile (`PrefetchAhead`).
@inline(__always)
func raddstoreexpminusmaxChunked<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?, _ w: W,
    _ st: LaneStats, _ t: Double, fullExp: Bool = false, compensated: Bool = false, floatArithmetic: Bool = true,
    tops topsOut: UnsafeMutablePointer<DV>? = nil, ahead: PrefetchAhead = PrefetchAhead()
) -> (lanes: (hi: DV, lo: DV), row: CompensatedSum) {
    let invT = 1 / t
    // Softmax only divides by the sum; log results need log1p of the sum without its maximal
    // terms, which are then counted apart.
    let divideOnly = y != nil && !compensated
    let plain = T.self == Float.self && divideOnly
    // fullExp changes the exp of Float only; Double always takes the full one.
    #if SSM_FMA
    // A row of up to eight Floats is one Double vector: its exp is a shorter chain than the Float
    // one with its error terms and half-empty register (8 elements: ~170 -> ~125 ns a call).
    if T.self == Float.self, floatArithmetic, !fullExp, t == 1, mask == nil, !st.special, let row = w as? RowWalk,
       row.n > 8 {
        let sum = raddstoreexpminusmaxFloat(
            x.as(Float.self) + row.base, y.map { $0.as(Float.self) + row.base }, row.n,
            max: Float(st.max[0]), min: Float(st.rowMin), topsApart: !plain)
        // A log result needs the terms of the non-maximal entries to full relative precision,
        // and a Float term below 2^-126 (x - max < -87.3) has lost digits to the subnormal
        // range. That shows only where their sum is itself tiny, so that the maximal entries'
        // log-probability, -log1p(sum), is: then the sum is k maximal terms plus below 2^-90,
        // and the row is summed again in Double lanes below (x = [0, ..., 0, 96]: 3.5 ulp off).
        // Only when nothing was stored: a pass that stored its terms may have overwritten x
        // (the cross-entropy's gradient may be its logits), which a second pass would read.
        if !(y == nil && !plain && sum.hasTinyRest) { return ((DV(repeating: 0), DV(repeating: 0)), sum) }
    }
    #endif
    if T.self == Double.self || !fullExp, mask == nil, !st.special, let row = w as? RowWalk {
        let sum = raddstoreexpminusmaxContiguous(
            x + row.base, y.map { $0 + row.base }, row.n, st, t, invT, topsApart: !divideOnly, ahead: ahead)
        return ((DV(repeating: 0), DV(repeating: 0)), sum)
    }
    var lanes = ResultPrecisionLaneSum(plain: T.self == Float.self)
    // Terms of maximal entries (exactly 1) are counted apart: added into a lane they would
    // absorb the low bits of the small terms, which log1p(sum - 1) needs.
    var tops = DV(repeating: 0)
    var row: CompensatedSum? = nil
    let chunkSteps = rowChunkLength / 8
    let special = st.special
    let one = DV(repeating: 1)
    for k in 0..<w.steps {
        let v = load(x, mask, w, k, pad: -.infinity)
        let (hi, lo) = vshift(T.self, v, st.shift, t, invT)
        var e = fullExp ? vexp(hi, lo) : vexp(T.self, hi, lo)
        if special { e = specialTerms(e, v, st) }
        if let y { store(e, y, w, k) }
        if plain {
            lanes.add(e)
        } else {
            let top = v .== st.max
            lanes.add(zeroUnless(.!top, e))
            tops += zeroUnless(top, one)
        }
        if W.horizontal && (k + 1) % chunkSteps == 0 {
            merge(&row, plain ? plainTotal(lanes.s.hi) : chunkTotal(lanes.s, tops, plainLanes: lanes.plain))
            lanes = ResultPrecisionLaneSum(plain: T.self == Float.self)
            tops = DV(repeating: 0)
        }
    }
    let acc = lanes.s
    if W.horizontal {
        if row == nil || w.steps % chunkSteps != 0 {
            merge(&row, plain ? plainTotal(acc.hi) : chunkTotal(acc, tops, plainLanes: lanes.plain))
        }
        return ((acc.hi, acc.lo), row!)
    }
    let (hi, lo) = vtwoSum(acc.hi, acc.lo)
    if let topsOut {
        topsOut.pointee += tops
        return ((hi, lo), CompensatedSum())
    }
    let (s, e) = vtwoSum(tops, hi)
    return ((s, lo + e), CompensatedSum())
}

/// raddstoreexpminusmax of a contiguous unmasked piece without special values: the same terms
/// and stores as the general walk, in a loop with nothing else. Float lanes are summed plainly
/// in Double; Double lanes with TwoSum when the maximal terms are apart (the rest may be all
/// tiny terms, whose sum log1p needs to full precision), else with a cheaper `LaneSumOfUnitTerms`.
@inline(__always)
func raddstoreexpminusmaxContiguous<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>?, _ n: Int, _ st: LaneStats, _ t: Double,
    _ invT: Double, topsApart: Bool, ahead: PrefetchAhead = PrefetchAhead()
) -> CompensatedSum {
    // One loop per kind of sum, and temperature 1 apart, each fixed in its loop: with the choice
    // made inside, the sums were kept on the stack and the temperature tested every step.
    @inline(__always) func run<L: ChunkLanes>(_: L.Type) -> CompensatedSum {
        if t != 1 { return raddstoreexpminusmaxContiguous(x, y, n, st, t, invT, L.self, TwoSumShift.self, ahead) }
        // A Double row within 700 of its maximum (`unclampedExpFloor`): exp without its clamp
        // (its test and zeroing left out, the same results) and without the subnormal range's
        // scaling, x - max by the cheapest exact form the row's extremes allow, as the Float
        // rows and `vlogfinalizeDouble` choose it: the same d and e as TwoSum (on AVX2 float64
        // softmax 4096x1000 2.05 -> 1.87 ns an element, logsumexp 1.86 -> 1.65, one thread).
        switch T.self == Double.self ? ShiftFormChoice.unclampedDouble(max: st.max[0], min: st.rowMin) : nil {
        case .maxLeads: return raddstoreexpminusmaxContiguous(x, y, n, st, 1, 1, L.self, MaxLeads.self, ahead)
        case .entryLeads: return raddstoreexpminusmaxContiguous(x, y, n, st, 1, 1, L.self, EntryLeads.self, ahead)
        case .twoSum: return raddstoreexpminusmaxContiguous(x, y, n, st, 1, 1, L.self, TwoSumInRange.self, ahead)
        case nil: return raddstoreexpminusmaxContiguous(x, y, n, st, 1, 1, L.self, TwoSumShift.self, ahead)
        }
    }
    if T.self == Float.self { return topsApart ? run(PlainRestLanes.self) : run(PlainLanes.self) }
    if topsApart && y == nil {
        // As the Float lanes do (FloatLanes.swift, `raddstoreexpminusmaxFloat`): softmax's sum of
        // every term first, Fast2Sum on biased lanes, whose compensation is good to about 2^-73
        // of a chunk; its total less one serves log1p unless that is below 2^-10 per chunk, where
        // the row is summed again with the maximal terms apart and the rest by TwoSum. Only when
        // nothing is stored: a second pass reads x again.
        let all = run(UnitTermLanes.self)
        if (all.sum - 1) + all.compensation >= 0x1p-10 * Double(n / rowChunkLength + 1) { return all }
    }
    return topsApart ? run(RestLanes.self) : run(UnitTermLanes.self)
}

@inline(__always)
private func raddstoreexpminusmaxContiguous<T: SoftmaxScalar, L: ChunkLanes, F: ShiftForm>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>?, _ n: Int, _ st: LaneStats, _ t: Double,
    _ invT: Double, _: L.Type, _: F.Type, _ ahead: PrefetchAhead
) -> CompensatedSum {
    let one = DV(repeating: 1), zero = DV(repeating: 0)
    var row: CompensatedSum? = nil
    var i = 0
    repeat {
        let end = Swift.min(n, i + rowChunkLength)
        var lanes = L(), tops = zero
        @inline(__always) func add(_ v: DV, _ e: DV) {
            if L.topsApart {
                let top = v .== st.max
                lanes.add(zeroUnless(.!top, e))
                tops += zeroUnless(top, one)
            } else {
                lanes.add(e)
            }
        }
        while i + 8 <= end {
            let v = T.load8(x + i)
            let (hi, lo) = F.self == TwoSumShift.self ? vshift(T.self, v, st.shift, t, invT) : F.shift(v, st.shift)
            let e = vexp(T.self, hi, lo, clamp: F.clamps)
            add(v, e)
            if let y { T.store8(e, y + i) }
            ahead.fetch(i, T.self)
            i += 8
        }
        // The row's partial last vector after the loop: its copies through the stack are calls,
        // across which every vector register is lost, and inside the loop they kept the lane
        // sums on the stack in every step. Padded with -inf, it takes TwoSum, whose error term
        // is not NaN there.
        if i < end {
            let c = end - i
            let v = T.loadPartial(x + i, count: c, pad: -.infinity)
            let (hi, lo) = vshift(T.self, v, st.shift, t, invT)
            let e = vexp(T.self, hi, lo)
            add(v, e)
            if let y { T.storePartial(e, y + i, count: c) }
            i = end
        }
        merge(&row, lanes.total(tops: tops))
    } while i < n
    return row!
}

/// The lane sums of one row chunk of `raddstoreexpminusmaxContiguous`, by what its result needs.
protocol ChunkLanes {
    init()
    /// Whether the maximal terms are counted apart (log results) rather than added.
    static var topsApart: Bool { get }
    mutating func add(_ q: DV)
    /// The chunk's sum, with `tops` maximal terms.
    func total(tops: DV) -> CompensatedSum
}

/// Float softmax: a plain Double sum.
struct PlainLanes: ChunkLanes {
    var s = DV(repeating: 0)
    static var topsApart: Bool { false }
    @inline(__always) mutating func add(_ q: DV) { s += q }
    @inline(__always) func total(tops _: DV) -> CompensatedSum { plainTotal(s) }
}

/// Float log results: a plain Double sum of the non-maximal terms.
struct PlainRestLanes: ChunkLanes {
    var s = DV(repeating: 0)
    static var topsApart: Bool { true }
    @inline(__always) mutating func add(_ q: DV) { s += q }
    @inline(__always) func total(tops: DV) -> CompensatedSum {
        chunkTotal(LaneCompensatedSum(hi: s, lo: DV(repeating: 0)), tops, plainLanes: true)
    }
}

/// Double softmax: terms in [0, 1] by Fast2Sum (`LaneSumOfUnitTerms`).
struct UnitTermLanes: ChunkLanes {
    var s = LaneSumOfUnitTerms()
    static var topsApart: Bool { false }
    @inline(__always) mutating func add(_ q: DV) { s.add(q) }
    @inline(__always) func total(tops: DV) -> CompensatedSum { chunkTotal(s.unbiased, tops, plainLanes: false) }
}

/// Double log results: the non-maximal terms, which may all be tiny, by TwoSum.
struct RestLanes: ChunkLanes {
    var s = LaneCompensatedSum()
    static var topsApart: Bool { true }
    @inline(__always) mutating func add(_ q: DV) { s.add(q) }
    @inline(__always) func total(tops: DV) -> CompensatedSum { chunkTotal(s, tops, plainLanes: false) }
}

/// A plainly summed chunk's lanes, added pairwise: Float results need no more. The total is
/// the sum itself (what adding it to an empty `CompensatedSum` gives, without its branches).
@inline(__always)
func plainTotal(_ lanes: DV) -> CompensatedSum {
    let a = lanes.lowHalf + lanes.highHalf
    let b = a.lowHalf + a.highHalf
    var c = CompensatedSum()
    c.sum = b[0] + b[1]
    return c
}

/// Eight rows' plainly summed lanes (row k's eight Doubles at `lanes + 8k`) reduced at once,
/// lane k the sum `plainTotal` gives row k, in the same order: l[i] + l[i + 4], then those
/// pairwise, then the two left. The rows go side by side through each step (two to a vector
/// in the first, four in the second), in 21 operations where eight `plainTotal`s take 56 and
/// each is a chain of dependent steps.
@inline(__always)
func plainTotals(_ lanes: UnsafePointer<Double>) -> DV {
    @inline(__always) func row(_ k: Int) -> DV { UnsafeRawPointer(lanes + 8 * k).loadUnaligned(as: DV.self) }
    // Rows k and k + 1: their halves' sums l[i] + l[i + 4], four lanes each.
    @inline(__always) func halves(_ k: Int) -> DV {
        let a = row(k), b = row(k + 1)
        return DV(lowHalf: a.lowHalf, highHalf: b.lowHalf) + DV(lowHalf: a.highHalf, highHalf: b.highHalf)
    }
    // Four rows' a[i] + a[i + 2], two lanes each, from two `halves`.
    @inline(__always) func quarters(_ p: DV, _ q: DV) -> DV {
        DV(p[0], p[1], p[4], p[5], q[0], q[1], q[4], q[5]) + DV(p[2], p[3], p[6], p[7], q[2], q[3], q[6], q[7])
    }
    let b = quarters(halves(0), halves(2)), c = quarters(halves(4), halves(6))
    return DV(b[0], b[2], b[4], b[6], c[0], c[2], c[4], c[6]) + DV(b[1], b[3], b[5], b[7], c[1], c[3], c[5], c[7])
}

/// A row chunk's sum: its lanes, then its count of maximal terms, into one double-double.
/// Plainly summed lanes (Float results) are added pairwise, as precise as they are.
@inline(__always)
func chunkTotal(_ lanes: LaneCompensatedSum, _ tops: DV, plainLanes: Bool) -> CompensatedSum {
    var c = plainLanes ? plainTotal(lanes.hi) : lanes.total()
    var n = 0.0
    for i in 0..<8 { n += tops[i] }
    c.add(n)
    return c
}

@inline(__always)
func merge(_ row: inout CompensatedSum?, _ chunk: CompensatedSum) {
    if row == nil { row = chunk } else { row!.add(chunk) }
}

/// log(sum) per lane as a double-double: log1p of the sum without the maximal term (which is
/// exactly 1), so that log-probabilities close to 0 keep their relative precision. For Float
/// results (`forFloat`) the vector log1p to 2^-33 is enough: eight lanes take one, and a row
/// walk's one lane costs a fraction of libm's (a row of 128 classes spent a sixth of its time
/// there); the special lanes are redone below.
@inline(__always)
func logOfSum<W: LaneWalk>(
    _ s: (hi: DV, lo: DV), _ st: LaneStats, _: W.Type, precise: Bool = false, forFloat: Bool = false
) -> (hi: DV, lo: DV) {
    if forFloat && !W.horizontal {
        // s >= 1 in ordinary lanes, so s.hi - 1 is exact; s.lo is below Float's resolution.
        let lanes = vlog1pForFloat((s.hi - DV(repeating: 1)) + s.lo)
        if !st.special { return (lanes, DV(repeating: 0)) }
        let ordinary = .!(st.posInf .| st.empty .| st.nan)
        let fixed = logOfSum(s, st, W.self)
        return (fixed.hi.replacing(with: lanes, where: ordinary), fixed.lo.replacing(with: 0, where: ordinary))
    }
    // Ordinary lanes take the vector logarithm, for eight lanes the cost of about one libm call;
    // a negative maximum where the caller needs precision (`precise`, below) and the special
    // lanes are redone one by one.
    let vector = forFloat ? (hi: s.hi, lo: s.lo) : vlogOfSum(s.hi, s.lo)
    if !forFloat && !st.special && !(precise && anyLane(st.max .< DV(repeating: 0))) { return vector }
    // Per lane into scalar scratch, loaded as vectors once (lanes written one at a time into a
    // vector each cost a failed store-to-load forwarding).
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
        let hi = buf.baseAddress!, lo = hi + 8
        // A row walk's lanes all hold the same slice: one logarithm, broadcast.
        for l in 0..<(W.horizontal ? 1 : 8) {
            hi[l] = 0
            lo[l] = 0
            if st.posInf[l] {
                hi[l] = logD(st.infCount[l])
            } else if !st.empty[l] && !st.nan[l] {
                // s >= 1 here, so s.hi - 1 is exact.
                let rest = twoSum(s.hi[l] - 1, s.lo[l])
                // Precise: to double-double accuracy, for max + log(sum) that can cancel, which
                // needs a negative maximum. With a maximum >= 0 both are >= 0, log(sum) <= the
                // result, and the vector logarithm's 2^-58 is enough.
                let r = precise && st.max[l] < 0 ? DoubleDouble.log1p(rest, first: log1pD(rest.hi))
                      : forFloat ? (hi: log1pForFloat(rest.hi + rest.lo), lo: 0) : (hi: vector.hi[l], lo: vector.lo[l])
                hi[l] = r.hi
                lo[l] = r.lo
            }
        }
        if W.horizontal { return (DV(repeating: hi[0]), DV(repeating: lo[0])) }
        return (UnsafeRawPointer(hi).loadUnaligned(as: DV.self), UnsafeRawPointer(lo).loadUnaligned(as: DV.self))
    }
}

/// `vlogOfSum` of up to eight rows' sums (hi, lo) at once, as lanes (past `count`, log 1).
@inline(__always)
func logOfRowSumLanes(_ sums: UnsafePointer<(hi: Double, lo: Double)>, _ count: Int) -> (hi: DV, lo: DV) {
    vlogOfSum(groupLanes(count, pad: 1) { sums[$0].hi }, groupLanes(count, pad: 0) { sums[$0].lo })
}

/// Eight lanes of a group's per-row values, `pad` past `count`: written to scratch and loaded as
/// one vector (lanes written one at a time into a vector each cost a failed store-to-load
/// forwarding).
@inline(__always)
func groupLanes(_ count: Int, pad: Double, _ value: (Int) -> Double) -> DV {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 8) { b in
        for k in 0..<8 { b[k] = k < count ? value(k) : pad }
        return UnsafeRawPointer(b.baseAddress!).loadUnaligned(as: DV.self)
    }
}

/// `logOfSum` of up to eight rows' sums at once, in place: one vector logarithm for the group's
/// ordinary rows (each lane the same bits as the row's own call), the others row by row.
@inline(__always)
func logOfRowSums(
    _ sums: UnsafeMutablePointer<(hi: Double, lo: Double)>, _ stats: UnsafePointer<RowChunkStats>, _ count: Int,
    precise: Bool
) {
    let l = logOfRowSumLanes(sums, count)
    for k in 0..<count {
        let st = LaneStats(stats[k])
        if st.special || (precise && stats[k].max < 0) {
            let r = logOfSum((DV(repeating: sums[k].hi), DV(repeating: sums[k].lo)), st, RowWalk.self, precise: precise)
            sums[k] = (r.hi[0], r.lo[0])
        } else {
            sums[k] = (l.hi[k], l.lo[k])
        }
    }
}

/// vdivide: y = e / sum, in Double and rounded once into T. For Double the divisor is the
/// double-double sum: the quotient by the reciprocal of its high part (within about an ulp) is
/// corrected by its exact remainder, so the only errors left are exp's half ulp and the final
/// rounding, without a vector division per element. Float results are rounded far coarser
/// than a Double reciprocal's error, so they only multiply.
@inline(__always)
func vdivide<T: SoftmaxScalar, W: LaneWalk>(
    _ y: UnsafeMutablePointer<T>, _ w: W, _ s: (hi: DV, lo: DV), _ st: LaneStats
) {
    var sh = s.hi, sl = s.lo
    if st.special {
        sh = sh.replacing(with: 1, where: st.empty)
        sl = sl.replacing(with: 0, where: st.empty)
    }
    #if SSM_FMA
    if T.self == Float.self, !st.special, let row = w as? RowWalk {
        vscaleFloat(y.as(Float.self) + row.base, row.n, 1 / (sh[0] + sl[0]))
        return
    }
    #endif
    // A row walk's lanes all hold the same sum: scalar divisions, broadcast, rather than
    // vector ones (about 20 cycles of latency each, per row).
    let inv = W.horizontal ? DV(repeating: 1 / (sh[0] + sl[0])) : DV(repeating: 1) / (sh + sl)
    let r = W.horizontal ? DV(repeating: 1 / sh[0]) : DV(repeating: 1) / sh
    for k in 0..<w.steps {
        let e = reload(y, w, k)
        if T.self == Float.self {
            store(e * inv, y, w, k)
        } else {
            let q = e * r
            store(q + (remainder(e, q, sh) - q * sl) * r, y, w, k)
        }
    }
}

/// vlogfinalize: y = (x - max)/T - log(sum), subtracted in double-double.
@inline(__always)
func vlogfinalize<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>, _ w: W,
    _ st: LaneStats, _ t: Double, _ l: (hi: DV, lo: DV)
) {
    #if SSM_FMA
    if T.self == Float.self, t == 1, mask == nil, !st.special, let row = w as? RowWalk {
        let lh = Float(l.hi[0])
        let c = logShifts(max: FHalf(repeating: Float(st.max[0])), lh: FHalf(repeating: lh),
                          ll: FHalf(repeating: Float((l.hi[0] - Double(lh)) + l.lo[0])))
        vlogfinalizeFloat(x.as(Float.self) + row.base, y.as(Float.self) + row.base, row.n, ch: c.ch[0], cl: c.cl[0])
        return
    }
    #endif
    if T.self == Double.self, t == 1, mask == nil, !st.special, let row = w as? RowWalk {
        let (ch, e) = twoSum(st.max[0], l.hi[0])
        vlogfinalizeDouble(x.as(Double.self) + row.base, y.as(Double.self) + row.base, row.n,
                           ch: ch, cl: e + l.lo[0], min: st.rowMin)
        return
    }
    let invT = 1 / t
    let minusInf = DV(repeating: -.infinity)
    for k in 0..<w.steps {
        let v = load(x, mask, w, k, pad: -.infinity)
        let (zh, zl) = vshift(T.self, v, st.shift, t, invT)
        var r: DV
        if T.self == Float.self {
            // zh <= 0 <= log(sum): no cancellation, so Double's rounding (2^-53) is all there is.
            r = (zh - l.hi) - l.lo
        } else {
            let (dh, dl) = vtwoSum(zh, -l.hi)
            r = dh + (dl + (zl - l.lo))
        }
        r = r.replacing(with: minusInf, where: zh .== minusInf)
        if st.special {
            let top = minusInf.replacing(with: -l.hi, where: v .== .infinity)
            r = r.replacing(with: top, where: st.posInf)
            r = r.replacing(with: minusInf, where: st.empty)
            r = r.replacing(with: .nan, where: st.nan)
        }
        store(r, y, w, k)
    }
}

/// vlogfinalize of a contiguous unmasked Double piece at temperature 1 without special values:
/// y = x - (ch + cl), where ch + cl = max + log(sum) to double-double precision. x - ch is had
/// exactly as a pair (d, e) by the piece's `ShiftForm` (Fast2Sum where its extremes allow,
/// TwoSum else), then d + (e - cl) rounds once where it matters: half an ulp, plus cl's own
/// rounding, far below it. Half the operations of subtracting the maximum and the logarithm
/// one after the other, each by TwoSum (the general walk above). `min` is the piece's smallest
/// entry (-inf: unknown or present). Not inlined, as `vlogfinalizeFloat`.
@inline(never)
func vlogfinalizeDouble(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int, ch: Double, cl: Double, min: Double) {
    switch ShiftFormChoice(leader: ch, min: min, spread: -.greatestFiniteMagnitude) {
    case .maxLeads: vlogfinalizeDouble(x, y, n, ch: ch, cl: cl, MaxLeads.self)
    case .entryLeads: vlogfinalizeDouble(x, y, n, ch: ch, cl: cl, EntryLeads.self)
    case .twoSum: vlogfinalizeDouble(x, y, n, ch: ch, cl: cl, TwoSumShift.self)
    }
}

@inline(__always)
private func vlogfinalizeDouble<F: ShiftForm>(
    _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int, ch: Double, cl: Double, _: F.Type
) {
    let c = DV(repeating: ch), l = DV(repeating: cl), minusInf = DV(repeating: -.infinity)
    @inline(__always) func result<G: ShiftForm>(_ v: DV, _: G.Type) -> DV {
        let (d, e) = G.shift(v, c)
        let r = d + (e - l)
        // Only TwoSum's rows may hold -inf, whose error term is NaN.
        return G.clamps ? r.replacing(with: minusInf, where: d .== minusInf) : r
    }
    var i = 0
    while i + 8 <= n {
        Double.store8(result(Double.load8(x + i), F.self), y + i)
        i += 8
    }
    if i < n {
        Double.storePartial(result(Double.loadPartial(x + i, count: n - i, pad: -.infinity), TwoSumShift.self), y + i, count: n - i)
    }
}

/// Results of one per slice (logsumexp): max + log(sum) in double-double.
@inline(__always)
func storeLogSumExp<T: SoftmaxScalar, W: LaneWalk>(
    _ out: UnsafeMutablePointer<T>, _ w: W, _ st: LaneStats, _ l: (hi: DV, lo: DV)
) {
    let (h, e) = vtwoSum(st.shift, l.hi)
    var r = h + (e + l.lo)
    if st.special {
        r = r.replacing(with: .infinity, where: st.posInf)
        r = r.replacing(with: -.infinity, where: st.empty)
        r = r.replacing(with: .nan, where: st.nan)
    }
    let p = out + w.resultOffset
    if w.resultLanes == 8 { T.store8(r, p) } else { T.storePartial(r, p, count: w.resultLanes) }
}
