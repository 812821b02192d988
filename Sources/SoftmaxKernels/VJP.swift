import CSoftmaxSupport
import SoftmaxCore
#if arch(x86_64) && SSM_AVX512F
import _Builtin_intrinsics.intel
#endif

// The vector-Jacobian products of softmax and log-softmax: a reduction and an elementwise pass
// per slice, on the forward kernels' walks (rows, the short-row scratch block, column blocks) and
// lane sums (docs/design.md, "Kernels"). The scalar reference they are tested against is
// Reference.vjp; the special values are its own (docs/design.md, "Special values").
//
//   softmax:      rdotnonzero  d = ⟨g, y⟩ over y != 0     vvjpmulsubdot     dx = y (g - d) / T
//   log-softmax:  rsum         s = Σg                     vvjpsubexpmulsum  dx = (g - exp(logy) s) / T
//
// Arithmetic is in Double lanes for both types and rounded once into T. Float products y·g are
// exact in Double and a plain Double sum (relative error n·2^-53) is far below what a Float
// result resolves; Double results take exact products and compensated sums.

extension Kernels {
    /// The vector-Jacobian product of softmax (of log-softmax when `log`, `y` then being logy)
    /// for the units `units`. `dx` may be `y` or `g` exactly.
    public static func vjp<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool
    ) {
        if T.self == Float.self {
            vjpUnits(y.as(Float.self), g.as(Float.self), dx.as(Float.self), outer, n, inner, units, temperature.double, log)
        } else {
            vjpUnits(y.as(Double.self), g.as(Double.self), dx.as(Double.self), outer, n, inner, units, temperature.double, log)
        }
    }
}

func vjpUnits<T: SoftmaxScalar>(
    _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
    _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>, _ t: Double, _ log: Bool
) {
    if ShortRows.apply(outer: outer, n: n, inner: inner) {
        ShortRows.forEach(y, g, into: dx, outer, n, units) { ys, gs, w in
            // The results overwrite the scratch copy of g, each step after reading it.
            if w.width == 8 { vjpGroup(ys, UnsafePointer(gs), gs, FullBlockWalk(n: n), t, log) } else { vjpGroup(ys, UnsafePointer(gs), gs, w, t, log) }
        }
    } else if inner == 1 {
        #if SSM_FMA
        if T.self == Float.self, t == 1, n > 8 {
            vjpRowsFloat(y.as(Float.self), g.as(Float.self), dx.as(Float.self), n, rows: units, log: log)
            return
        }
        #endif
        #if arch(x86_64) && SSM_AVX512F
        if T.self == Double.self, t == 1, streamsResults(outer: outer, n: n, log: log) {
            if log {
                logVJPRowsStreamed(y.as(Double.self), g.as(Double.self), dx.as(Double.self), n, rows: units)
            } else {
                vjpRowsStreamed(y.as(Double.self), g.as(Double.self), dx.as(Double.self), n, rows: units)
            }
            return
        }
        #endif
        vjpRows(y, g, dx, n, rows: units, t, log)
    } else {
        for u in units { ColumnBlock(unit: u, n: n, inner: inner).vjp(y, g, dx, t, log) }
    }
}

/// The VJP of the contiguous rows `rows`, row after row, in a function of their own (the
/// passes inlined into it, not into the whole of `vjpUnits`).
@inline(never)
func vjpRows<T: SoftmaxScalar>(
    _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ n: Int, rows: Range<Int>, _ t: Double,
    _ log: Bool
) {
    for u in rows { vjpGroup(y, g, dx, RowWalk(row: u, n: n), t, log) }
}

#if arch(x86_64) && SSM_AVX512F
/// Whether float64 VJP rows write their results with streaming stores: softmax's where y, g and
/// dx together exceed twice a 32 MiB L3 cache, so that no reader finds dx there anyway, and
/// log-softmax's (an exp an element, fewer bytes a cycle) from the cache's size. An ordinary
/// store first reads the result's line from memory: float64 softmax 4096×1000 on two threads
/// took 0.45 ns per element into a separate array, 0.29 with dx = g; streamed, 0.40 (and the
/// benchmark's allocating call 2.05–2.24 → 1.74–1.79 ms); at 2048×1000 (48 MiB) streaming made
/// it 10% slower, where log-softmax's went 0.39 → 0.35. On AVX2 one thread took 20% longer
/// streamed, so only AVX-512 streams (docs/performance.md, "Float rows").
@inline(__always)
func streamsResults(outer: Int, n: Int, log: Bool) -> Bool {
    let bytes = outer.multipliedReportingOverflow(by: n)
    return bytes.overflow || bytes.partialValue >= ((log ? 32 : 64) << 20) / (3 * MemoryLayout<Double>.stride)
}

/// How many of the n Doubles from p come before its first 64-byte boundary, where streaming
/// stores can begin: all n where p is not 8-byte aligned.
@inline(__always)
func elementsBeforeLine(_ p: UnsafeMutablePointer<Double>, _ n: Int) -> Int {
    let offset = Int(bitPattern: p) & 63
    return offset & 7 != 0 ? n : Swift.min(n, ((64 - offset) & 63) / MemoryLayout<Double>.stride)
}

/// `vjpRows` of float64 softmax rows at temperature 1, the same steps (`vjpGroup`), with dx
/// written by streaming stores from the first 64-byte boundary of each row (its head and
/// tail element by element, in the same arithmetic), then a store fence.
@inline(never)
func vjpRowsStreamed(_ y: UnsafePointer<Double>, _ g: UnsafePointer<Double>, _ dx: UnsafeMutablePointer<Double>, _ n: Int,
                     rows: Range<Int>) {
    for u in rows {
        let b = u * n
        let d = laneTotals(rdotnonzeroContiguous(y + b, g + b, n), Double.self, RowWalk.self, plain: false)
        let (dh, dl) = (d.hi[0], d.lo[0])
        @inline(__always) func one(_ i: Int) { dx[b + i] = y[b + i] != 0 ? y[b + i] * ((g[b + i] - dh) - dl) : 0 }
        let head = elementsBeforeLine(dx + b, n)
        for i in 0..<head { one(i) }
        var i = head
        let h = DV(repeating: dh), l = DV(repeating: dl), zero = DV(repeating: 0)
        while i + 8 <= n {
            let yv = UnsafeRawPointer(y + b + i).loadUnaligned(as: DV.self)
            let gv = UnsafeRawPointer(g + b + i).loadUnaligned(as: DV.self)
            let r = zeroUnless(yv .!= zero, yv * ((gv - h) - l))
            _mm512_stream_pd(dx + b + i, r)
            i += 8
        }
        while i < n { one(i); i += 1 }
    }
    ssm_support_store_fence()
}

/// `vjpRows` of float64 log-softmax rows at temperature 1, the same steps (`vjpGroup`'s), with
/// dx written by streaming stores from the first 64-byte boundary of each row; its head and tail
/// go through `vvjpsubexpmulsum` (the same lanes' arithmetic, so the same bits). Then a store
/// fence.
@inline(never)
func logVJPRowsStreamed(_ logy: UnsafePointer<Double>, _ g: UnsafePointer<Double>, _ dx: UnsafeMutablePointer<Double>, _ n: Int,
                        rows: Range<Int>) {
    for u in rows {
        let b = u * n
        let row = RowWalk(row: u, n: n)
        let live = rlive(logy, row)
        let s = sumTotals(rsumContiguous(g + b, n, plain: false), Double.self, RowWalk.self)
        let allLive = !anyLane(.!live)
        let head = elementsBeforeLine(dx + b, n)
        if head > 0 { vvjpsubexpmulsum(logy, g, dx, RowWalk(start: b, count: head), s, live, 1) }
        var i = head
        while i + 8 <= n {
            let v = UnsafeRawPointer(logy + b + i).loadUnaligned(as: DV.self)
            let gv = UnsafeRawPointer(g + b + i).loadUnaligned(as: DV.self)
            _mm512_stream_pd(dx + b + i, vjpsubexpmulsumLanes(Double.self, v, gv, s, live, allLive: allLive, 1))
            i += 8
        }
        if i < n { vvjpsubexpmulsum(logy, g, dx, RowWalk(start: b + i, count: n - i), s, live, 1) }
    }
    ssm_support_store_fence()
}
#endif

@inline(__always)
func vjpGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ w: W, _ t: Double, _ log: Bool
) {
    var acc = LaneCompensatedSum()
    let row = w as? RowWalk
    if log {
        let live = rlive(y, w)
        if let row { acc = rsumContiguous(g + row.base, row.n, plain: T.self == Float.self) } else { rsum(g, w, &acc, plain: T.self == Float.self) }
        vvjpsubexpmulsum(y, g, dx, w, sumTotals(acc, T.self, W.self), live, t)
    } else {
        if let row { acc = rdotnonzeroContiguous(y + row.base, g + row.base, row.n) } else { rdotnonzero(y, g, w, &acc) }
        vvjpmulsubdot(y, g, dx, w, laneTotals(acc, T.self, W.self, plain: T.self == Float.self), t)
    }
}

/// rdotnonzero: ⟨y, g⟩ lane-wise over the entries with y != 0 (masked or -inf logits stay out,
/// so a NaN or infinite g there cannot reach the result), added into `acc`. Double products are
/// exact pairs: the high parts summed with TwoSum, the low parts with the errors.
@inline(__always)
func rdotnonzero<T: SoftmaxScalar, W: LaneWalk>(
    _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ w: W, _ acc: inout LaneCompensatedSum
) {
    let zero = DV(repeating: 0)
    for k in 0..<w.steps {
        let yv = load(y, nil, w, k, pad: 0), gv = load(g, nil, w, k, pad: 0)
        let nonzero = yv .!= zero
        let p = yv * gv
        if T.self == Float.self {
            acc.hi += zeroUnless(nonzero, p)
        } else {
            acc.add(zeroUnless(nonzero, p))
            acc.lo -= zeroUnless(nonzero, remainder(p, yv, gv))
        }
    }
}

/// rsum: Σg lane-wise, added into `acc`: compensated unless `plain` (the VJPs' Float results,
/// see above; normalize compensates both types).
@inline(__always)
func rsum<T: SoftmaxScalar, W: LaneWalk>(_ g: UnsafePointer<T>, _ w: W, _ acc: inout LaneCompensatedSum, plain: Bool) {
    for k in 0..<w.steps {
        let v = load(g, nil, w, k, pad: 0)
        if plain { acc.hi += v } else { acc.add(v) }
    }
}

/// rdotnonzero of a contiguous row, in two lane sums (two dependency chains) merged at the end.
/// The entries with y = 0 are not left out unless the sum is not finite: elsewhere their
/// products are zeros, which change no sum, and the loop is shorter without the test.
@inline(__always)
func rdotnonzeroContiguous<T: SoftmaxScalar>(_ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ n: Int) -> LaneCompensatedSum {
    let s = rdotContiguous(y, g, n, nonzeroOnly: false)
    if !anyLane((s.hi - s.hi) .!= DV(repeating: 0)) { return s }
    return rdotContiguous(y, g, n, nonzeroOnly: true)
}

@inline(__always)
func rdotContiguous<T: SoftmaxScalar>(_ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ n: Int, nonzeroOnly: Bool) -> LaneCompensatedSum {
    let zero = DV(repeating: 0)
    var a = LaneCompensatedSum(), c = LaneCompensatedSum()
    @inline(__always) func add(_ acc: inout LaneCompensatedSum, _ yv: DV, _ gv: DV) {
        let p = yv * gv
        if T.self == Float.self {
            // Float products are exact in Double: the fused sum is the plain one.
            acc.hi = nonzeroOnly ? acc.hi + zeroUnless(yv .!= zero, p) : fmadd(yv, gv, acc.hi)
        } else if nonzeroOnly {
            let nonzero = yv .!= zero
            acc.add(zeroUnless(nonzero, p))
            acc.lo -= zeroUnless(nonzero, remainder(p, yv, gv))
        } else {
            acc.add(p)
            acc.lo -= remainder(p, yv, gv)
        }
    }
    var i = 0
    while i + 16 <= n {
        add(&a, T.load8(y + i), T.load8(g + i))
        add(&c, T.load8(y + i + 8), T.load8(g + i + 8))
        i += 16
    }
    while i < n {
        let k = Swift.min(8, n - i)
        if k == 8 { add(&a, T.load8(y + i), T.load8(g + i)) } else { add(&a, T.loadPartial(y + i, count: k, pad: 0), T.loadPartial(g + i, count: k, pad: 0)) }
        i += 8
    }
    return merged(a, c)
}

/// rsum of a contiguous row, in two lane sums merged at the end; compensated unless `plain`.
@inline(__always)
func rsumContiguous<T: SoftmaxScalar>(_ g: UnsafePointer<T>, _ n: Int, plain: Bool) -> LaneCompensatedSum {
    var a = LaneCompensatedSum(), c = LaneCompensatedSum()
    @inline(__always) func add(_ acc: inout LaneCompensatedSum, _ v: DV) {
        if plain { acc.hi += v } else { acc.add(v) }
    }
    var i = 0
    while i + 16 <= n {
        add(&a, T.load8(g + i))
        add(&c, T.load8(g + i + 8))
        i += 16
    }
    while i < n {
        let k = Swift.min(8, n - i)
        add(&a, k == 8 ? T.load8(g + i) : T.loadPartial(g + i, count: k, pad: 0))
        i += 8
    }
    return merged(a, c)
}

/// Two lane sums of the same slices as one: the high parts added with TwoSum (the plain sum,
/// which is all a Float result keeps), the low parts and its error with the low parts.
@inline(__always)
func merged(_ a: LaneCompensatedSum, _ c: LaneCompensatedSum) -> LaneCompensatedSum {
    var s = a
    s.add(c.hi)
    s.lo += c.lo
    return s
}

/// The lanes whose slice has an entry other than -inf (NaN included): an all -inf logy slice has
/// zero gradients. It stops at the first step where every slice has one, almost always the first.
@inline(__always)
func rlive<T: SoftmaxScalar, W: LaneWalk>(_ logy: UnsafePointer<T>, _ w: W) -> DMask {
    let minusInf = DV(repeating: -.infinity)
    let unused = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int64>(repeating: Int64(w.resultLanes))
    var live = DMask(repeating: false)
    for k in 0..<w.steps {
        live .|= load(logy, nil, w, k, pad: -.infinity) .!= minusInf
        if W.horizontal {
            if anyLane(live) { return DMask(repeating: true) }
        } else if !anyLane(.!(live .| unused)) {
            break
        }
    }
    return W.horizontal ? DMask(repeating: false) : live
}

/// A lane sum's totals as double-doubles, one per slice (a row walk's lanes merged into one,
/// broadcast); once an infinity or NaN has entered, the plain IEEE sum with a zero low part, as
/// `CompensatedSumWithSpecials` gives it. The high lanes are that plain sum: TwoSum's sum is
/// the plain one. `plain`: the lanes were summed without compensation (`rsum`).
@inline(__always)
func laneTotals<T: SoftmaxScalar, W: LaneWalk>(_ acc: LaneCompensatedSum, _: T.Type, _: W.Type, plain: Bool) -> (hi: DV, lo: DV) {
    if W.horizontal {
        let a = acc.hi.lowHalf + acc.hi.highHalf
        let b = a.lowHalf + a.highHalf
        let naive = b[0] + b[1]
        // A plain sum (Float results) is the pairwise one just taken.
        if plain || !naive.isFinite { return (DV(repeating: naive), DV(repeating: 0)) }
        let p = acc.total().pair
        return (DV(repeating: p.hi), DV(repeating: p.lo))
    }
    let finite = (acc.hi - acc.hi) .== DV(repeating: 0)
    if plain { return (acc.hi, DV(repeating: 0)) }
    let (hi, lo) = vtwoSum(acc.hi, acc.lo)
    return (hi.replacing(with: acc.hi, where: .!finite), zeroUnless(finite, lo))
}

/// `laneTotals` for the log-softmax pass: an infinite or NaN Σg gets a NaN low part, so that
/// every entry with exp(logy) > 0 becomes NaN, as the exact product p·Σg's NaN error makes it in
/// the scalar reference.
@inline(__always)
func sumTotals<T: SoftmaxScalar, W: LaneWalk>(_ acc: LaneCompensatedSum, _: T.Type, _: W.Type) -> (hi: DV, lo: DV) {
    let s = laneTotals(acc, T.self, W.self, plain: T.self == Float.self)
    return (s.hi, s.lo.replacing(with: .nan, where: (s.hi - s.hi) .!= DV(repeating: 0)))
}

/// vvjpmulsubdot: dx = y (g - d) / T, exactly 0 where y = 0. Transparent: as an ordinary
/// inlined function it stayed out of line, a call per row.
@_transparent
func vvjpmulsubdot<T: SoftmaxScalar, W: LaneWalk>(
    _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ w: W,
    _ d: (hi: DV, lo: DV), _ t: Double
) {
    let zero = DV(repeating: 0), tv = DV(repeating: t)
    @inline(__always) func step(_ k: Int, full: Bool, divide: Bool) {
        let yv = full ? T.load8(y + w.offset(k)) : load(y, nil, w, k, pad: 0)
        let gv = full ? T.load8(g + w.offset(k)) : load(g, nil, w, k, pad: 0)
        var r = yv * ((gv - d.hi) - d.lo)
        // Divided, not multiplied by 1/T: a subnormal T has an infinite reciprocal.
        if divide { r = r / tv }
        if full { T.store8(zeroUnless(yv .!= zero, r), dx + w.offset(k)) } else { store(zeroUnless(yv .!= zero, r), dx, w, k) }
    }
    // A row walk's full steps in a loop of their own, without the test of the lanes.
    let full = W.horizontal && w.steps > 0 ? (w.lanes(w.steps - 1) == 8 ? w.steps : w.steps - 1) : 0
    // T = 1 in a loop of its own: with `t != 1` tested in the loop, the compiler divided every
    // step and selected afterwards: a sixth of a float64 row's time at 128 classes.
    if t == 1 {
        for k in 0..<full { step(k, full: true, divide: false) }
        for k in full..<w.steps { step(k, full: false, divide: false) }
    } else {
        for k in 0..<full { step(k, full: true, divide: true) }
        for k in full..<w.steps { step(k, full: false, divide: true) }
    }
}

/// vvjpsubexpmulsum: dx = (g - exp(logy) s) / T, with g itself where exp(logy) is 0 and 0 in
/// slices that are all -inf. Double results take the exact product p·s.hi. Transparent, as
/// `vvjpmulsubdot` is.
@_transparent
func vvjpsubexpmulsum<T: SoftmaxScalar, W: LaneWalk>(
    _ logy: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ w: W,
    _ s: (hi: DV, lo: DV), _ live: DMask, _ t: Double
) {
    let allLive = !anyLane(.!live)
    for k in 0..<w.steps {
        let v = load(logy, nil, w, k, pad: -.infinity), gv = load(g, nil, w, k, pad: 0)
        store(vjpsubexpmulsumLanes(T.self, v, gv, s, live, allLive: allLive, t), dx, w, k)
    }
}

/// One vector of `vvjpsubexpmulsum`: dx = (g - exp(logy)·s)/T from logy's lanes v and g's gv.
@inline(__always)
func vjpsubexpmulsumLanes<T: SoftmaxScalar>(
    _: T.Type, _ v: DV, _ gv: DV, _ s: (hi: DV, lo: DV), _ live: DMask, allLive: Bool, _ t: Double
) -> DV {
    let zero = DV(repeating: 0)
    var p = vexp(T.self, v, zero)
    // The vector exps take z <= 0 and flush what a Float result cannot see; positive or NaN
    // logy (not a log-probability) and, for Float, the terms between e^-746 and e^-200 (which
    // still decide whether dx is g or meets a huge Σg) take the scalar exp.
    var odd = (v .> zero) .| (v .!= v)
    if T.self == Float.self { odd .|= (v .< DV(repeating: -200)) .& (v .> DV(repeating: -746)) }
    if anyLane(odd) { p = scalarExp(v, p, odd) }
    var r: DV
    if T.self == Float.self {
        r = (gv - p * s.hi) - p * s.lo
    } else {
        let ph = p * s.hi
        r = (gv - ph) - ((-remainder(ph, p, s.hi)) + p * s.lo)
    }
    r = r.replacing(with: gv, where: p .== zero)
    if !allLive { r = zeroUnless(live, r) }
    if t != 1 { r = r / DV(repeating: t) }
    return r
}

/// exp of the lanes `odd` of v by the scalar exp, the others kept from p.
@inline(never)
func scalarExp(_ v: DV, _ p: DV, _ odd: DMask) -> DV {
    var p = p
    for l in 0..<8 where odd[l] { p[l] = expD(v[l]) }
    return p
}

extension ShortRows {
    /// For each unit (eight short rows), the rows of `a` and `b` transposed into two scratch
    /// blocks and the column walk over them; `body` leaves its results in the second block,
    /// which goes back to `out`.
    @inline(__always)
    static func forEach<T: SoftmaxScalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into out: UnsafeMutablePointer<T>,
        _ outer: Int, _ n: Int, _ units: Range<Int>,
        _ body: (UnsafePointer<T>, UnsafeMutablePointer<T>, ColumnWalk) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: T.self, capacity: 16 * shortRow) { buf in
            let ab = buf.baseAddress!, bb = ab + 8 * shortRow
            for u in units {
                let r0 = 8 * u
                let rows = Swift.min(8, outer - r0)
                transpose(a + r0 * n, from: n, ab, to: 8, rows: rows, n: n, forward: true)
                transpose(b + r0 * n, from: n, bb, to: 8, rows: rows, n: n, forward: true)
                body(UnsafePointer(ab), bb, ColumnWalk(block: n, width: rows))
                transpose(UnsafePointer(bb), from: 8, out + r0 * n, to: n, rows: rows, n: n)
            }
        }
    }
}

extension ColumnBlock {
    /// The VJP of the block's slices: the reductions tile by tile into each group's lane sums,
    /// then the elementwise pass tile by tile, in the order the forward passes read memory.
    @inline(__always)
    func vjp<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ t: Double, _ log: Bool
    ) {
        // A block of one group has no row to sweep across: its tiles are as fast (10% faster for
        // 8 columns). float64 log-softmax blocks of two groups were mixed (16384x64 over axis 0
        // 10-20% slower swept, 65536x64 20% faster): they keep their tiles.
        if columns % 8 == 0, columns >= 16, n > 0 {
            if !log {
                softmaxVJPSweep(y, g, dx, t)
                return
            }
            if T.self == Float.self || columns >= 32 {
                logSoftmaxVJPSweep(y, g, dx, t)
                return
            }
        }
        withUnsafeTemporaryAllocation(of: LaneCompensatedSum.self, capacity: ColumnBlock.maxGroups) { accs in
            withUnsafeTemporaryAllocation(of: DMask.self, capacity: ColumnBlock.maxGroups) { lives in
                let acc = accs.baseAddress!, live = lives.baseAddress!
                for gi in 0..<count {
                    (acc + gi).initialize(to: LaneCompensatedSum())
                    (live + gi).initialize(to: log ? rlive(y, walk(gi, 0..<n)) : DMask(repeating: true))
                }
                // Tiles of four rows, g's next tile hinted (and, below, y's and dx's): the VJPs'
                // sums go straight into each group's lane sums, so the tile's height changes no
                // bit (docs/performance.md, "Column sweeps, fetched rows ahead").
                eachTile(rows: ColumnBlock.vjpTileRows, fetch: TileFetch(read: g)) { gi, rows in
                    if log { rsum(g, walk(gi, rows), &acc[gi], plain: T.self == Float.self) } else { rdotnonzero(y, g, walk(gi, rows), &acc[gi]) }
                }
                // The totals replace the lane sums.
                for gi in 0..<count {
                    let s = log ? sumTotals(acc[gi], T.self, ColumnWalk.self) : laneTotals(acc[gi], T.self, ColumnWalk.self, plain: T.self == Float.self)
                    acc[gi] = LaneCompensatedSum(hi: s.hi, lo: s.lo)
                }
                eachTile(rows: ColumnBlock.vjpTileRows, fetch: TileFetch(read: y, write: dx)) { gi, rows in
                    let s = (hi: acc[gi].hi, lo: acc[gi].lo)
                    if log {
                        vvjpsubexpmulsum(y, g, dx, walk(gi, rows), s, live[gi], t)
                    } else {
                        vvjpmulsubdot(y, g, dx, walk(gi, rows), s, t)
                    }
                }
            }
        }
    }
}

#if SSM_FMA
// Contiguous Float rows at temperature 1 on the FMA tiers: the reductions of every contiguous
// row (two dependency chains), and the elementwise pass in Float arithmetic, sixteen lanes a step (FloatLanes.swift), with the reduction's total as a Float
// pair. Its errors stay within the VJPs' normwise bound: for softmax, the roundings of g - dh,
// of - dl and of the product, 1.5 ulp of y(|g| + |d|); for log-softmax, exp's 2^-27.9 and the
// final rounding of the fused g - p·sh - p·sl. Totals beyond 2^100 (or not finite), a logy
// above 0 or NaN, and slices all -inf go on in the Double lanes from where they are met.

/// The VJP of the contiguous Float rows `rows` (n > 8 entries each), row after row in one loop:
/// a row's Double total, then its Float pass, without a call or set-up of its own (at 128
/// classes a row's calls and frames were about a tenth of its time). The totals are
/// `vjpRowFloat`'s, summed in the same order; a row whose total is beyond 2^100 or not finite,
/// or whose logy starts with `floatLanes` entries -inf (perhaps all -inf), goes to
/// `vjpRowFloat` instead.
@inline(never)
func vjpRowsFloat(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int,
                  rows: Range<Int>, log: Bool) {
    // laneTotals' plain total: the lanes' halves, quarters, then the last pair.
    @inline(__always) func total(_ s: LaneCompensatedSum) -> Double {
        let a = s.hi.lowHalf + s.hi.highHalf
        let b = a.lowHalf + a.highHalf
        return b[0] + b[1]
    }
    for r in rows {
        let b = r * n
        if log {
            let head = loadFloats(y + b, count: Swift.min(n, floatLanes), pad: -.infinity)
            let s = total(rsumContiguous(g + b, n, plain: true))
            guard anyLane(head .!= FV(repeating: -.infinity)), abs(s) <= 0x1p100 else {
                vjpRowFloat(y, g, dx, RowWalk(row: r, n: n), true)
                continue
            }
            let sh = Float(s)
            let done = vvjpsubexpmulsumFloat(y + b, g + b, dx + b, n, sh: sh, sl: Float(s - Double(sh)))
            if done < n {
                vvjpsubexpmulsum(y, g, dx, RowWalk(start: b + done, count: n - done), (DV(repeating: s), DV(repeating: 0)),
                                 DMask(repeating: true), 1)
            }
        } else {
            let d = total(rdotContiguous(y + b, g + b, n, nonzeroOnly: false))
            guard abs(d) <= 0x1p100 else {
                vjpRowFloat(y, g, dx, RowWalk(row: r, n: n), false)
                continue
            }
            let dh = Float(d)
            vvjpmulsubdotFloat(y + b, g + b, dx + b, n, dh: dh, dl: Float(d - Double(dh)))
        }
    }
}

/// A contiguous Float row's VJP (see above); `row` locates it in y, g and dx.
@inline(never)
func vjpRowFloat(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ row: RowWalk, _ log: Bool) {
    let b = row.base, n = row.n
    var acc = LaneCompensatedSum()
    if log {
        let live = rlive(y, row)
        acc = rsumContiguous(g + b, n, plain: true)
        let s = sumTotals(acc, Float.self, RowWalk.self)
        var done = 0
        if anyLane(live), abs(s.hi[0]) <= 0x1p100 {
            let sh = Float(s.hi[0])
            done = vvjpsubexpmulsumFloat(y + b, g + b, dx + b, n, sh: sh, sl: Float((s.hi[0] - Double(sh)) + s.lo[0]))
        }
        if done < n { vvjpsubexpmulsum(y, g, dx, RowWalk(start: b + done, count: n - done), s, live, 1) }
    } else {
        acc = rdotnonzeroContiguous(y + b, g + b, n)
        let d = laneTotals(acc, Float.self, RowWalk.self, plain: true)
        if abs(d.hi[0]) <= 0x1p100 {
            let dh = Float(d.hi[0])
            vvjpmulsubdotFloat(y + b, g + b, dx + b, n, dh: dh, dl: Float((d.hi[0] - Double(dh)) + d.lo[0]))
        } else {
            vvjpmulsubdot(y, g, dx, row, d, 1)
        }
    }
}

/// vvjpmulsubdot of a contiguous Float piece at temperature 1 in Float: y·((g - dh) - dl).
/// Transparent, as `vvjpmulsubdot` is.
@_transparent
func vvjpmulsubdotFloat(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int,
                        dh: Float, dl: Float) {
    let h = FV(repeating: dh), l = FV(repeating: dl), zero = FV(repeating: 0)
    @inline(__always) func step(_ yv: FV, _ gv: FV) -> FV { (yv * ((gv - h) - l)).replacing(with: zero, where: yv .== zero) }
    @inline(__always) func at(_ p: UnsafePointer<Float>) -> FV { UnsafeRawPointer(p).loadUnaligned(as: FV.self) }
    var i = 0
    while i + floatLanes <= n {
        UnsafeMutableRawPointer(dx + i).storeBytes(of: step(at(y + i), at(g + i)), as: FV.self)
        i += floatLanes
    }
    // Not an overlapping full vector: in place, it would read results already stored.
    if i < n {
        storeFloats(step(loadFloats(y + i, count: n - i, pad: 0), loadFloats(g + i, count: n - i, pad: 0)), dx + i, count: n - i)
    }
}

/// vvjpsubexpmulsum of a contiguous Float piece at temperature 1 in Float: g - p·sh - p·sl with
/// p = exp(logy), g itself where p is 0. Stops before the first vector holding a logy above 0
/// or NaN, which `vexpf` does not take, and returns how far it got. Out of line: inlined into
/// `vjpRowsFloat`, its steps became calls, and 16384x128 took four times as long.
@inline(never)
func vvjpsubexpmulsumFloat(_ logy: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int,
                           sh: Float, sl: Float) -> Int {
    let h = FV(repeating: sh), l = FV(repeating: sl), zero = FV(repeating: 0), floor = FV(repeating: -104)
    @inline(__always) func odd(_ v: FV) -> Bool { anyLane((v .> zero) .| (v .!= v)) }
    @inline(__always) func step(_ v: FV, _ gv: FV) -> FV {
        let p = vexpf(floor.replacing(with: v, where: v .> floor), zero)
        return fmadd(-p, l, fmadd(-p, h, gv)).replacing(with: gv, where: p .== zero)
    }
    @inline(__always) func at(_ p: UnsafePointer<Float>) -> FV { UnsafeRawPointer(p).loadUnaligned(as: FV.self) }
    var i = 0
    while i + floatLanes <= n {
        let v = at(logy + i)
        if odd(v) { return i }
        UnsafeMutableRawPointer(dx + i).storeBytes(of: step(v, at(g + i)), as: FV.self)
        i += floatLanes
    }
    if i < n {
        let v = loadFloats(logy + i, count: n - i, pad: -.infinity)
        if odd(v) { return i }
        storeFloats(step(v, loadFloats(g + i, count: n - i, pad: 0)), dx + i, count: n - i)
    }
    return n
}
#endif

extension ColumnBlock {
    /// softmax_vjp of a block whose width is a multiple of eight, swept row by row as the column
    /// sweeps go (ColumnSweep.swift): each column's Σ y·g in arrays that stay in L1, by the very
    /// operations `rdotnonzero` makes in the same order, then dx = y ((g - d) - dl) / T as
    /// `vvjpmulsubdot` computes it, so that the results are the tiled walk's bits; rows fetched
    /// ahead (`FloatColumnSweep.ahead`). The tiled walk read three arrays eight (then four) rows
    /// at a time, group after group (docs/performance.md, "Column sweeps, fetched rows ahead").
    @inline(never)
    func softmaxVJPSweep<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ t: Double
    ) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * columns) { buffer in
            let hi = buffer.baseAddress!, lo = hi + columns
            let yb = y + start, gb = g + start, db = dx + start
            let zero = DV(repeating: 0)
            var c = 0
            while c < columns { Double.store8(zero, hi + c); Double.store8(zero, lo + c); c += 8 }
            FloatColumnSweep.eachVector(reading: yb, and: gb, writing: nil, n: n, inner: inner, columns: columns, step: 8) { o, c in
                let yv = T.load8(yb + o), gv = T.load8(gb + o)
                let nonzero = yv .!= zero
                let p = yv * gv
                if T.self == Float.self {
                    Double.store8(Double.load8(hi + c) + zeroUnless(nonzero, p), hi + c)
                } else {
                    var acc = LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c))
                    acc.add(zeroUnless(nonzero, p))
                    acc.lo -= zeroUnless(nonzero, remainder(p, yv, gv))
                    Double.store8(acc.hi, hi + c)
                    Double.store8(acc.lo, lo + c)
                }
            }
            c = 0
            while c < columns {
                let d = laneTotals(LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c)), T.self, ColumnWalk.self,
                                   plain: T.self == Float.self)
                Double.store8(d.hi, hi + c)
                Double.store8(d.lo, lo + c)
                c += 8
            }
            let tv = DV(repeating: t)
            @inline(__always) func pass(divide: Bool) {
                FloatColumnSweep.eachVector(reading: yb, and: gb, writing: db, n: n, inner: inner, columns: columns, step: 8) { o, c in
                    let yv = T.load8(yb + o), gv = T.load8(gb + o)
                    var r = yv * ((gv - Double.load8(hi + c)) - Double.load8(lo + c))
                    if divide { r = r / tv }
                    T.store8(zeroUnless(yv .!= zero, r), db + o)
                }
            }
            // T = 1 in a pass of its own, as `vvjpmulsubdot` has it.
            if t == 1 { pass(divide: false) } else { pass(divide: true) }
        }
    }
}

extension ColumnBlock {
    /// log_softmax_vjp of a block whose width is a multiple of eight, swept as `softmaxVJPSweep`
    /// is: each column's Σg by `rsum`'s operations in the same order, which columns hold an entry
    /// above -inf (`rlive`'s lanes: the first rows read until every column has one, almost
    /// always the first), then dx by `vjpsubexpmulsumLanes`, so that the results are the tiled
    /// walk's bits.
    @inline(never)
    func logSoftmaxVJPSweep<T: SoftmaxScalar>(
        _ logy: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ t: Double
    ) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * columns) { buffer in
            let hi = buffer.baseAddress!, lo = hi + columns, live = lo + columns
            let lb = logy + start, gb = g + start, db = dx + start
            let zero = DV(repeating: 0), one = DV(repeating: 1), minusInf = DV(repeating: -.infinity)
            var c = 0
            while c < columns {
                Double.store8(zero, hi + c)
                Double.store8(zero, lo + c)
                var m = DMask(repeating: false)
                var i = 0
                while i < n && anyLane(.!m) {
                    m .|= T.load8(lb + i * inner + c) .!= minusInf
                    i += 1
                }
                Double.store8(zeroUnless(m, one), live + c)
                c += 8
            }
            let plain = T.self == Float.self
            FloatColumnSweep.eachVector(reading: gb, writing: nil, n: n, inner: inner, columns: columns, step: 8) { o, c in
                var acc = LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c))
                let v = T.load8(gb + o)
                if plain { acc.hi += v } else { acc.add(v) }
                Double.store8(acc.hi, hi + c)
                Double.store8(acc.lo, lo + c)
            }
            c = 0
            while c < columns {
                let s = sumTotals(LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c)), T.self, ColumnWalk.self)
                Double.store8(s.hi, hi + c)
                Double.store8(s.lo, lo + c)
                c += 8
            }
            // Every lane of a live column is kept as it is (`allLive` only skips that step).
            @inline(__always) func pass(_ t: Double) {
                FloatColumnSweep.eachVector(reading: lb, and: gb, writing: db, n: n, inner: inner, columns: columns, step: 8) { o, c in
                    let r = vjpsubexpmulsumLanes(T.self, T.load8(lb + o), T.load8(gb + o), (hi: Double.load8(hi + c), lo: Double.load8(lo + c)),
                                                 Double.load8(live + c) .!= zero, allLive: false, t)
                    T.store8(r, db + o)
                }
            }
            // T = 1 in a pass of its own, as `vvjpmulsubdot` has it.
            if t == 1 { pass(1) } else { pass(t) }
        }
    }
}
