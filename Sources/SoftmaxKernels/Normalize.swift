import SoftmaxCore
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
    // Float input on AVX-512: vdivpd's throughput (about nine cycles a vector here) bounds this
    // pass, so the quotient is Markstein's instead: with inv = RN(1 / total) and q = RN(x inv)
    // within an ulp of x / total, the remainder x - q total is exact and RN(q + r inv) is
    // RN(x / total), the division's bits, where nothing under- or overflows: |total| in
    // [2^-800, 2^800] (a Float x has |x| in [2^-149, 2^128] or is 0); other totals divide.
    // Zeros keep the sign of q (q + r inv is +0 for both). Only for long slices: on 128-element
    // rows the division's latency before the first quotient cost more than the divisions saved
    // (16384x128 0.33 -> 0.36 ns an element, 4096x1000 0.26 -> 0.24, one thread).
    if T.self == Float.self && w.steps >= 32 {
        let a = _mm512_abs_pd(total)
        if !anyLane((a .< DV(repeating: 0x1p-800)) .| (a .> DV(repeating: 0x1p800)) .| (a .!= a)) {
            let inv = DV(repeating: 1) / total
            let sign = SIMD8<UInt64>(repeating: 1 << 63)
            for k in 0..<w.steps {
                let v = load(x, nil, w, k, pad: 0)
                let q = v * inv
                let r = _mm512_fmadd_pd(_mm512_fnmadd_pd(q, total, v), inv, q)
                let bits = unsafeBitCast(r, to: SIMD8<UInt64>.self) | (unsafeBitCast(q, to: SIMD8<UInt64>.self) & sign)
                store(unsafeBitCast(bits, to: DV.self), y, w, k)
            }
            return
        }
    }
    #endif
    for k in 0..<w.steps { store(load(x, nil, w, k, pad: 0) / total, y, w, k) }
}

extension ColumnBlock {
    /// Normalizes the block's slices: every group's sum tile by tile, then the division tile by
    /// tile, in the order the forward passes read memory.
    @inline(__always)
    func normalize<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        withUnsafeTemporaryAllocation(of: LaneCompensatedSum.self, capacity: ColumnBlock.maxGroups) { accs in
            let acc = accs.baseAddress!
            for gi in 0..<count { (acc + gi).initialize(to: LaneCompensatedSum()) }
            eachTile { gi, rows in rsum(x, walk(gi, rows), &acc[gi], plain: false) }
            for gi in 0..<count {
                let s = laneTotals(acc[gi], T.self, ColumnWalk.self, plain: false)
                acc[gi] = LaneCompensatedSum(hi: s.hi, lo: s.lo)
            }
            eachTile { gi, rows in vdividebysum(x, y, walk(gi, rows), (hi: acc[gi].hi, lo: acc[gi].lo)) }
        }
    }
}
