import SoftmaxCore
import CSoftmaxSupport
#if arch(x86_64) && SSM_AVX512F
import _Builtin_intrinsics.intel
#endif

// Sum-normalisation y = x / Σx per slice: a reduction and an elementwise pass on the VJPs' walks
// and lane sums (VJP.swift; docs/design.md, "Kernels"). The scalar reference it is tested
// against is Reference.normalize.
//
//   rsum           s = Σx, compensated for both types
//   vdividebysum   y = x / s, with s rounded to one Double first
//
// The sum keeps `CompensatedSumWithSpecials`' guarantee (docs/design.md, "Sums, and what each
// guarantees"): compensated while finite, plain IEEE once an infinity or NaN enters
// (`laneTotals`). Float input is compensated too, unlike the VJPs' Σg: a mixed-sign sum that
// cancels would show a plain sum's error in every result. The quotient is a real division in
// Double lanes, rounded once into T, which is exactly the reference's T(Double(x) / total);
// zero or non-finite sums follow IEEE (0/0 = NaN, x/inf = ±0).

extension Kernels {
    /// x / Σx along the middle axis for the units `units`; `y` may be `x` exactly.
    public static func normalize<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, units: Range<Int>
    ) {
        if T.self == Float.self {
            normalizeUnits(x.as(Float.self), y.as(Float.self), outer, n, inner, units)
        } else {
            normalizeUnits(x.as(Double.self), y.as(Double.self), outer, n, inner, units)
        }
    }
}

func normalizeUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>
) {
    if ShortRows.apply(outer: outer, n: n, inner: inner) {
        ShortRows.forEach(x, nil, outer, n, units) { xs, _, ys, w, r0 in
            if w.width == 8 { normalizeGroup(xs, ys, FullBlockWalk(n: n)) } else { normalizeGroup(xs, ys, w) }
            transpose(UnsafePointer(ys), from: 8, y + r0 * n, to: n, rows: w.width, n: n)
        }
    } else if inner == 1 {
        #if SSM_FMA
        if T.self == Float.self, n > 8, n <= 1 << 20 {
            normalizeRowsFloat(x.as(Float.self), y.as(Float.self), n, rows: units) { u in
                normalizeGroup(x, y, RowWalk(row: u, n: n))
            }
            return
        }
        #endif
        for u in units { normalizeGroup(x, y, RowWalk(row: u, n: n)) }
    } else {
        for u in units { ColumnBlock(unit: u, n: n, inner: inner).normalize(x, y) }
    }
}

@inline(__always)
func normalizeGroup<T: SoftmaxScalar, W: LaneWalk>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ w: W) {
    var acc = LaneCompensatedSum()
    if let row = w as? RowWalk { acc = rsumContiguous(x + row.base, row.n, plain: false) } else { rsum(x, w, &acc, plain: false) }
    vdividebysum(x, y, w, laneTotals(acc, T.self, W.self, plain: false))
}

/// vdividebysum: y = x / s with s = hi + lo rounded once, as the reference divides by its
/// rounded total. Each step loads before it stores, so `y` may be `x`.
@inline(__always)
func vdividebysum<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ w: W, _ s: (hi: DV, lo: DV)
) {
    let total = s.hi + s.lo
    #if arch(x86_64) && SSM_AVX512F
    // Only for long slices: on 128-element rows the division's latency before the first quotient
    // cost more than the divisions saved (Floats 16384x128 0.33 -> 0.36 ns an element, 4096x1000
    // 0.26 -> 0.24; Doubles 16384x128 1.22 -> 1.47 ms, 4096x1000 2.44 -> 2.25; one thread).
    // A column block's tiles are short walks of long slices: each group's tiles are far apart,
    // so the reciprocal's latency hides behind the other groups' work.
    if w.steps >= 32 || W.self == ColumnWalk.self, quotientApplies(total, T.self) {
        let inv = DV(repeating: 1) / total
        for k in 0..<w.steps { store(vquotient(load(x, nil, w, k, pad: 0), total, inv, T.self), y, w, k) }
        return
    }
    #endif
    for k in 0..<w.steps { store(load(x, nil, w, k, pad: 0) / total, y, w, k) }
}

#if arch(x86_64) && SSM_AVX512F
// On AVX-512 vdivpd's throughput (about nine cycles a vector here) bounds a division pass, so
// the quotient is Markstein's instead: with inv = RN(1 / total) and q = RN(x inv) within an ulp
// of x / total, the remainder x - q total is exact and RN(q + r inv) is RN(x / total), the
// division's bits, where nothing under- or overflows. Zeros keep the sign of q (q + r inv is +0
// for both). Other totals, and the vectors holding an entry outside the ranges below, divide.
//
// - Float input: |x| in [2^-149, 2^128] or 0, so a total in [2^-800, 2^800] keeps every step
//   normal.
// - Double input: a total in [2^-60, 2^60] and |x| in [2^-900, 2^900] or 0 put q in
//   [2^-961, 2^961]: x - q total is then a multiple of a normal number's ulp products (exact),
//   and r inv, about 2^-53 q, is normal. Each vector's entries are checked (three comparisons,
//   cheaper than its division).

/// Whether every lane of `total` is in the range where `vquotient` gives the division's bits.
@inline(__always)
func quotientApplies<T: SoftmaxScalar>(_ total: DV, _: T.Type) -> Bool {
    let a = _mm512_abs_pd(total)
    let range = T.self == Float.self ? 0x1p800 : 0x1p60
    return !anyLane((a .< DV(repeating: 1 / range)) .| (a .> DV(repeating: range)) .| (a .!= a))
}

/// v / total with the division's bits, by Markstein's steps from inv = 1 / total (see above),
/// for a total where `quotientApplies`.
@inline(__always)
func vquotient<T: SoftmaxScalar>(_ v: DV, _ total: DV, _ inv: DV, _: T.Type) -> DV {
    if T.self == Double.self {
        // Comparisons of |x| as Doubles: an integer test for zero compiled to a loop over the
        // lanes. Infinities and NaN fail the first.
        let m = _mm512_abs_pd(v)
        if anyLane(.!(m .<= DV(repeating: 0x1p900)) .| ((m .< DV(repeating: 0x1p-900)) .& (m .> DV(repeating: 0)))) {
            return v / total
        }
    }
    let sign = SIMD8<UInt64>(repeating: 1 << 63)
    let q = v * inv
    let r = _mm512_fmadd_pd(_mm512_fnmadd_pd(q, total, v), inv, q)
    return unsafeBitCast(unsafeBitCast(r, to: SIMD8<UInt64>.self) | (unsafeBitCast(q, to: SIMD8<UInt64>.self) & sign), to: DV.self)
}
#endif

extension ColumnBlock {
    /// Normalizes the block's slices: every group's sum tile by tile, then the division tile by
    /// tile, in the order the forward passes read memory.
    @inline(__always)
    func normalize<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        #if SSM_FMA
        if T.self == Float.self, FloatColumnSweep.applies(columns: columns) {
            if !normalizeFloat(x.as(Float.self), y.as(Float.self)) { normalizeInDouble(x, y) }
            return
        }
        #endif
        if T.self == Double.self, columns % 8 == 0 {
            if !normalizeDouble(x.as(Double.self), y.as(Double.self)) { normalizeInDouble(x, y) }
            return
        }
        normalizeInDouble(x, y)
    }

    /// `normalize` by the compensated Double walk.
    @inline(__always)
    func normalizeInDouble<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        withUnsafeTemporaryAllocation(of: LaneCompensatedSum.self, capacity: ColumnBlock.maxGroups) { accs in
            let acc = accs.baseAddress!
            for gi in 0..<count { (acc + gi).initialize(to: LaneCompensatedSum()) }
            eachTile(fetch: TileFetch(read: x)) { gi, rows in rsum(x, walk(gi, rows), &acc[gi], plain: false) }
            for gi in 0..<count {
                let s = laneTotals(acc[gi], T.self, ColumnWalk.self, plain: false)
                acc[gi] = LaneCompensatedSum(hi: s.hi, lo: s.lo)
            }
            eachTile(fetch: TileFetch(read: x, write: y)) { gi, rows in vdividebysum(x, y, walk(gi, rows), (hi: acc[gi].hi, lo: acc[gi].lo)) }
        }
    }
}

extension ColumnBlock {
    /// normalize of a float64 block whose width is a multiple of eight, swept row by row as the
    /// float32 blocks are (below): each column's sum compensated lane by lane in an array that
    /// stays in L1, by the very additions the tiled walk makes in the same order, then each
    /// column's total rounded and divided as there (Markstein's quotient on AVX-512), so that
    /// the results are the tiled walk's bits; rows fetched ahead as in `FloatColumnSweep`.
    /// Returns false, having written nothing, where a column's total is not finite or (on
    /// AVX-512) outside `quotientApplies`' range: the tiled walk's case. (The tiled walk read
    /// each row's block eight rows at a time, group after group: float64 1000×4096 over axis 0
    /// 0.85 ns an element on one thread, where rows take 0.32: docs/performance.md, "Column
    /// sweeps, fetched rows ahead".)
    @inline(never)
    func normalizeDouble(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) -> Bool {
        guard n > 0 else { return false }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * columns) { buffer in
            let hi = buffer.baseAddress!, lo = hi + columns
            let base = x + start
            var c = 0
            while c < columns { Double.store8(DV(repeating: 0), hi + c); Double.store8(DV(repeating: 0), lo + c); c += 8 }
            for i in 0..<n {
                let row = base + i * inner, next = row + FloatColumnSweep.ahead(i, n: n, inner: inner)
                c = 0
                while c < columns {
                    ssm_support_prefetch(next + c)
                    var acc = LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c))
                    acc.add(Double.load8(row + c))
                    Double.store8(acc.hi, hi + c)
                    Double.store8(acc.lo, lo + c)
                    c += 8
                }
            }
            // Each column's total into `hi`, and (AVX-512) its reciprocal into `lo`.
            c = 0
            while c < columns {
                let s = laneTotals(LaneCompensatedSum(hi: Double.load8(hi + c), lo: Double.load8(lo + c)), Double.self, ColumnWalk.self, plain: false)
                let total = s.hi + s.lo
                guard !anyLane((total - total) .!= DV(repeating: 0)) else { return false }
                #if arch(x86_64) && SSM_AVX512F
                guard quotientApplies(total, Double.self) else { return false }
                Double.store8(DV(repeating: 1) / total, lo + c)
                #endif
                Double.store8(total, hi + c)
                c += 8
            }
            sweepDivide(base, y + start, hi, lo)
            return true
        }
    }

    // The totals come from memory, as the float32 scales do.
    @inline(never)
    private func sweepDivide(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ totals: UnsafePointer<Double>, _ inverses: UnsafePointer<Double>) {
        FloatColumnSweep.eachVector(reading: x, writing: y, n: n, inner: inner, columns: columns, step: 8) { o, c in
            #if arch(x86_64) && SSM_AVX512F
            let q = vquotient(Double.load8(x + o), Double.load8(totals + c), Double.load8(inverses + c), Double.self)
            #else
            let q = Double.load8(x + o) / Double.load8(totals + c)
            #endif
            UnsafeMutableRawPointer(y + o).storeBytes(of: q, as: DV.self)
        }
    }
}

#if SSM_FMA
extension ColumnBlock {
    /// normalize of a float32 block of nonnegative entries on the FMA tiers, as the contiguous
    /// Float rows below take theirs, swept row by row in `FloatColumnSweep`'s order (each pass
    /// reads the block a row after another, its columns in ascending order, each column's sum
    /// or scale in a small array that stays in L1): each column's sum widened to Double and added
    /// plainly (n·2^-53 relative for terms of one sign), then y = fma(x, hi, x·lo) with each
    /// column's 1/S as a Float pair, within one ulp of the reference as the rows' results are.
    /// Returns false, having written nothing, where an entry has its sign bit set (a negative,
    /// -0, or a NaN with it) or a column's sum is outside [2^-100, 2^100] (a NaN or an infinity
    /// among them): the compensated Double walk's case. (float32 1000×4096 over axis 0 had taken
    /// the Double walk's tiles, 0.31 ns an element a thread, two and a half times a row's:
    /// docs/performance.md, "Float normalize over axis 0".)
    @inline(never)
    func normalizeFloat(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Bool {
        guard n > 0 else { return false }
        // Both passes fetch rows ahead as the column sweeps do (`FloatColumnSweep.ahead`).
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: columns) { sumBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * columns) { scaleBuffer in
                let sums = sumBuffer.baseAddress!, hi = scaleBuffer.baseAddress!, lo = hi + columns
                let base = x + start
                @inline(__always) func halves(_ p: UnsafePointer<Float>) -> (FHalf, FHalf) {
                    (UnsafeRawPointer(p).loadUnaligned(as: FHalf.self), UnsafeRawPointer(p + 8).loadUnaligned(as: FHalf.self))
                }
                @inline(__always) func sumAt(_ c: Int) -> DV { UnsafeRawPointer(sums + c).loadUnaligned(as: DV.self) }
                @inline(__always) func setSum(_ v: DV, _ c: Int) { UnsafeMutableRawPointer(sums + c).storeBytes(of: v, as: DV.self) }
                var signs = SIMD8<UInt32>(repeating: 0)
                var c = 0
                while c < columns {
                    let (a, b) = halves(base + c)
                    signs |= unsafeBitCast(a, to: SIMD8<UInt32>.self) | unsafeBitCast(b, to: SIMD8<UInt32>.self)
                    setSum(widen(a), c)
                    setSum(widen(b), c + 8)
                    c += 16
                }
                for i in 1..<n {
                    let row = base + i * inner, next = row + FloatColumnSweep.ahead(i, n: n, inner: inner)
                    c = 0
                    while c < columns {
                        ssm_support_prefetch(next + c)
                        let (a, b) = halves(row + c)
                        signs |= unsafeBitCast(a, to: SIMD8<UInt32>.self) | unsafeBitCast(b, to: SIMD8<UInt32>.self)
                        setSum(sumAt(c) + widen(a), c)
                        setSum(sumAt(c + 8) + widen(b), c + 8)
                        c += 16
                    }
                }
                if anySignBit(signs) { return false }
                c = 0
                while c < columns {
                    let s = sumAt(c)
                    // NaN fails both comparisons.
                    if anyLane(.!((s .>= DV(repeating: 0x1p-100)) .& (s .<= DV(repeating: 0x1p100)))) { return false }
                    let r = DV(repeating: 1) / s, h = narrow(r)
                    UnsafeMutableRawPointer(hi + c).storeBytes(of: h, as: FHalf.self)
                    UnsafeMutableRawPointer(lo + c).storeBytes(of: narrow(r - widen(h)), as: FHalf.self)
                    c += 8
                }
                sweepScale(base, y + start, hi, lo)
                return true
            }
        }
    }

    // The scales come from memory, as in `FloatColumnSweep.scale`; rows fetched ahead as there.
    @inline(never)
    private func sweepScale(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ hi: UnsafePointer<Float>, _ lo: UnsafePointer<Float>) {
        FloatColumnSweep.eachVector(reading: x, writing: y, n: n, inner: inner, columns: columns, step: floatLanes) { o, c in
            let v = UnsafeRawPointer(x + o).loadUnaligned(as: FV.self)
            let h = UnsafeRawPointer(hi + c).loadUnaligned(as: FV.self), l = UnsafeRawPointer(lo + c).loadUnaligned(as: FV.self)
            UnsafeMutableRawPointer(y + o).storeBytes(of: fmadd(v, h, v * l), as: FV.self)
        }
    }
}

// Contiguous Float rows of nonnegative entries, 9 to 2^20 of them, on the FMA tiers
// (docs/performance.md, "What made it fast"): the Double path's compensated sum and Double
// division cost about 28 operations per sixteen Floats; these rows take 6 (the sum) and 2 (the
// scale), for results within one ulp of the reference's and, but for the tiniest (below), 0.5 +
// 2^-22 ulp of the exact quotient:
//
// - Nonnegative terms do not cancel, so a plain sum is enough: widened to Double (exact) and
//   added in four Double lane chains, its relative error is at most n·2^-53 (Higham, "Accuracy
//   and Stability of Numerical Algorithms", 2nd ed., §4.2, for terms of one sign), below 2^-33
//   for rows of up to 2^20 Floats.
// - The scale 1/S rounded to a Double (2^-53), carried as a Float pair hi + lo (2^-48, as
//   `vscaleFloat`: docs/performance.md, "Float rows"), and y = fma(x, hi, RN(x·lo)) rounding
//   x·lo (2^-48 of the result) before the one rounding into Float: together a relative error
//   below 2^-46 before that rounding, 2^-22 of an ulp of the result. A quotient that lies that
//   close to a rounding boundary may round the other way than the reference's Double quotient:
//   the results are within one ulp of it, not bit for bit (docs/accuracy.md, "Results").
// - No result overflows (x <= S, so every quotient is at most 1), and with S in [2^-100,
//   2^100] both parts of the scale are normal Floats. A result below about 2^-102, where x·lo
//   falls below the smallest normal Float, gains up to half of 2^-149 from that product's
//   rounding: up to half an ulp more in the lowest normal binades (0.83 ULP measured on the
//   accuracy suite's spread magnitudes, docs/accuracy.md), one ulp in all.
//
// A row with a negative entry (or -0, whose sign bit is all the test sees), NaN or an infinity,
// or a sum outside [2^-100, 2^100], goes to `general`, the compensated Double path. Short rows
// go in groups of eight as the Float softmax rows do (FloatRows.swift): every sum, then every
// scale pass, each with its own scalar division. (One vector division of the eight sums, as
// the softmax rows take, read them from memory as a vector just after they were stored one by
// one, a store that cannot be forwarded to the load: 16384x128 0.19 -> 0.17 ns an element on
// avx512, one thread.)

/// normalize of the contiguous Float rows `rows` (n entries each) of x into y, as described
/// above; `general` computes a row the Float lanes do not take. `y` may be `x` exactly.
@inline(__always)
func normalizeRowsFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, rows: Range<Int>, general: (Int) -> Void
) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 8) { scratch in
        let sums = scratch.baseAddress!
        // Grouped where the rows are short or this call's rows few (64x1000 Floats: 6.3 us
        // grouped, 7.3 row by row, one thread); longer rows of a large call are better read
        // twice while in L1, one at a time (4096x1000: 720 us grouped, 500 row by row).
        let group = n <= 512 || rows.count * n <= 1 << 16 ? 8 : 1
        var u = rows.lowerBound
        while u < rows.upperBound {
            let count = Swift.min(group, rows.upperBound - u)
            var done: UInt8 = 0  // rows handed to `general`
            for k in 0..<count {
                let s = rsumNonnegativeFloat(x + (u + k) * n, n)
                // NaN (a NaN entry) fails both comparisons.
                if s >= 0x1p-100 && s <= 0x1p100 {
                    sums[k] = s
                } else {
                    general(u + k)
                    done |= 1 << k
                }
            }
            for k in 0..<count where done & (1 << k) == 0 {
                let r = 1 / sums[k]
                let hi = Float(r)
                vscaleFloat(x + (u + k) * n, y + (u + k) * n, n, hi: hi, lo: Float(r - Double(hi)))
            }
            u += count
        }
    }
}

/// The sum of a contiguous Float row, widened to Double and added plainly in four lane chains,
/// or -1 where an entry has its sign bit set (a negative number, -0, or a NaN with it).
@inline(__always)
func rsumNonnegativeFloat(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var a = DV(repeating: 0), b = a, c = a, d = a
    var signs = SIMD16<UInt32>(repeating: 0), tailSigns = FBits(repeating: 0)
    @inline(__always) func at(_ i: Int) -> SIMD16<Float> { UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) }
    @inline(__always) func add(_ s: inout DV, _ t: inout DV, _ v: SIMD16<Float>) {
        signs |= unsafeBitCast(v, to: SIMD16<UInt32>.self)
        let h = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
        s += widen(h.0)
        t += widen(h.1)
    }
    var i = 0
    while i + 32 <= n {
        add(&a, &b, at(i))
        add(&c, &d, at(i + 16))
        i += 32
    }
    if i + 16 <= n {
        add(&a, &b, at(i))
        i += 16
    }
    while i < n {
        let v = loadFloats(x + i, count: Swift.min(floatLanes, n - i), pad: 0)
        tailSigns |= unsafeBitCast(v, to: FBits.self)
        c += widenSum(v)
        i += floatLanes
    }
    // The lanes or-ed together, then their sign bits tested.
    let halves = unsafeBitCast(signs, to: (SIMD8<UInt32>, SIMD8<UInt32>).self)
    var all = halves.0 | halves.1
    if floatLanes == 8 {
        all |= unsafeBitCast(tailSigns, to: SIMD8<UInt32>.self)
    } else {
        let t = unsafeBitCast(tailSigns, to: (SIMD8<UInt32>, SIMD8<UInt32>).self)
        all |= t.0 | t.1
    }
    if anySignBit(all) { return -1 }
    let s = (a + b) + (c + d)
    let s4 = s.lowHalf + s.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2[0] + s2[1]
}

/// Whether any of eight Floats' bits, or-ed together, has the sign bit set (the lanes or-ed by
/// halves: a vector `!=` compiles to a loop over the lanes).
@inline(__always)
func anySignBit(_ v: SIMD8<UInt32>) -> Bool {
    let quarter = v.lowHalf | v.highHalf, eighth = quarter.lowHalf | quarter.highHalf
    return (eighth[0] | eighth[1]) & (1 << 31) != 0
}

/// y = x·(hi + lo) for a contiguous Float piece, rounded once from fma(x, hi, x·lo) (see above).
/// Each vector is loaded before it is stored, so `y` may be `x`. Not inlined, and hi, lo are
/// arguments: see `vlogfinalizeFloat`.
@inline(never)
func vscaleFloat(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, hi: Float, lo: Float) {
    vscaleFloatPiece(x, y, n, hi: hi, lo: lo)
}
#endif
