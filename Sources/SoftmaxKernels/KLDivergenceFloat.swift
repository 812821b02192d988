import SoftmaxCore
import SoftmaxScalarKernels

#if SSM_FMA
// KL(P ‖ Q) of contiguous float32 rows at temperature 1 (docs/design.md, "KL divergence, entropy
// and NLL"): the exps in Float lanes, the terms in Double lanes. With ea = e^{a - max a} and
// eb = e^{b - max b} (Float pairs to 2^-28, `entropyExpPair`), their sums Sa, Sb and
// C = (max a - max b) + log Sa - log Sb, d = (a - b) - C and
//
//   KL = (1/Sa) Σ ea φ(d),  ea φ(d) = ea d² P(-d) for |d| <= 1,  = eb·Sa/Sb + ea (d - 1) beyond,
//
// the first a series without cancellation, the second at most 3.8 times the error of its parts
// (at d = -1; none above 1). a - b is exact as a Float pair, so each term keeps about 2^-26 of
// its relative precision. The Float sums set C to about 2^-27, and an error δ in C moves KL by
// δ²/2 only (its first-order effect Σ p φ'(d) δ = Σ (p - q) δ vanishes): a row whose divergence
// is below 2^-26 is taken again by the Double lanes, whose log-sums are exact enough for the tiny
// divergences of P ≈ Q. Rows with a NaN, an infinity, or an entry beyond 2^24 in magnitude go
// there too.

/// The longest rows the Float path takes (its scratch: six Floats an element, 96 KiB).
let klFloatRow = 4096

/// One row's Float scratch, each array `klFloatRow` long: the exp pairs of a and b and the exact
/// pair a - b.
struct KLFloatScratch {
    let eah, eal, ebh, ebl, dh, dl: UnsafeMutablePointer<Float>
    init(_ base: UnsafeMutablePointer<Float>) {
        eah = base; eal = base + klFloatRow; ebh = base + 2 * klFloatRow; ebl = base + 3 * klFloatRow
        dh = base + 4 * klFloatRow; dl = base + 5 * klFloatRow
    }
}

/// The float32 rows `slices` of `pb` (contiguous, temperature 1) by the Float path, each row it
/// declines by `general` (the Double lanes, which return its divergence).
func klRowsFloat(
    _ pb: KLDivergenceProblem<Float>, _ slices: Range<Int>, general: (Int) -> Double
) -> CompensatedSumWithSpecials {
    let n = pb.n
    var total = CompensatedSumWithSpecials()
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 6 * klFloatRow) { buffer in
        let scratch = KLFloatScratch(buffer.baseAddress!)
        for si in slices {
            let a = pb.p + si * n, b = pb.q + si * n
            let kl = klRowFloat(pb, si, a, b, scratch) ?? general(si)
            total.add(kl)
        }
    }
    return total
}

/// The divergence of row `si` (its value and gradients written), or nil where the Double lanes
/// must take it (nothing written then).
@inline(__always)
func klRowFloat(
    _ pb: KLDivergenceProblem<Float>, _ si: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ w: KLFloatScratch
) -> Double? {
    let n = pb.n
    let (sa, mina) = rmaxFloat(a, n), (sb, minb) = rmaxFloat(b, n)
    let bound: Double = 0x1p24
    guard !sa.nan, !sb.nan, abs(sa.max) <= bound, abs(sb.max) <= bound,
          abs(Double(mina)) <= bound, abs(Double(minb)) <= bound else { return nil }
    let ma = Float(sa.max), mb = Float(sb.max)
    let ca = ShiftFormChoice(max: ma, min: mina), cb = ShiftFormChoice(max: mb, min: minb)
    let sums: (a: CompensatedSum, b: CompensatedSum, ref: (Float, Float))
    switch (ca, cb) {
    case (.maxLeads, .maxLeads): sums = klSumsFloat(a, b, n, ma, mb, MaxLeads.self, w)
    case (.entryLeads, .entryLeads): sums = klSumsFloat(a, b, n, ma, mb, EntryLeads.self, w)
    default: sums = klSumsFloat(a, b, n, ma, mb, TwoSumShift.self, w)
    }
    // log Sa - log Sb as one logarithm of the ratio (to 2^-52, beyond the sums' own 2^-27): a
    // short row spent most of its fixed cost on two double-double logarithms.
    let sA = sums.a.value, sB = sums.b.value
    let c = DoubleDouble.add(twoSum(sa.max, -sb.max), (logD(sA / sB), 0))
    let terms = klTermsFloat(n, c, sA / sB, sums.ref, w)
    let kl = terms.value / sA
    // Below 2^-26 the rounding of C (δ²/2 <= 2^-54) could show.
    guard kl >= 0x1p-26 else { return nil }
    let scale = pb.gradientDivisor
    let alpha = 1 / (sA * scale), beta = 1 / (sB * scale)
    if pb.gradientP != nil || pb.gradientQ != nil {
        guard alpha.isFinite, beta.isFinite, alpha > 0, beta > 0 else { return nil }
        klGradientFloat(pb, si, sums.ref, terms.mean / sA, alpha, beta, w)
    }
    pb.perSlice?[si] = Float(kl)
    return kl
}

/// Pass over a and b: the exp pairs and a - b into the scratch (zero past n, to the end of the
/// last vector), the sums Sa, Sb, and a - b (a pair) at an entry where a is maximal.
@inline(never)
func klSumsFloat<F: ShiftForm>(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, _ ma: Float, _ mb: Float, _: F.Type, _ w: KLFloatScratch
) -> (a: CompensatedSum, b: CompensatedSum, ref: (Float, Float)) {
    var st = KLSumsLanes(ma, mb)
    var i = 0
    while i + floatLanes <= n {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: FV.self), y = UnsafeRawPointer(b + i).loadUnaligned(as: FV.self)
        st.step(x, y, x, y, i, F.self, w)
        i += floatLanes
    }
    if i < n {
        // Padding: -inf for the exps (the clamping form gives +0 there, and the same terms
        // elsewhere), 0 for the difference.
        let c = n - i
        st.step(loadFloats(a + i, count: c, pad: -.infinity), loadFloats(b + i, count: c, pad: -.infinity),
                loadFloats(a + i, count: c, pad: 0), loadFloats(b + i, count: c, pad: 0), i, TwoSumShift.self, w)
    }
    var sA = CompensatedSum(), sB = CompensatedSum()
    sA.add(horizontalSum(st.accA.total))
    sA.add(horizontalSum(widenSum(st.loA)))
    sB.add(horizontalSum(st.accB.total))
    sB.add(horizontalSum(widenSum(st.loB)))
    var k = 0
    while st.refH[k].isNaN { k += 1 }  // a maximal entry exists: the row is finite
    return (sA, sB, (st.refH[k], st.refL[k]))
}

/// The lanes of `klSumsFloat` (a struct, not captured variables, which a nested function
/// would box on the heap every row).
struct KLSumsLanes {
    let va, vb: FV
    var accA = FloatLaneCompensatedSum(biased: false), accB = FloatLaneCompensatedSum(biased: false)
    var loA = FV(repeating: 0), loB = FV(repeating: 0)
    var refH = FV(repeating: .nan), refL = FV(repeating: 0)

    @inline(__always) init(_ ma: Float, _ mb: Float) {
        va = FV(repeating: ma)
        vb = FV(repeating: mb)
    }

    /// One vector: x, y for the exps, xd, yd for the difference.
    @inline(__always)
    mutating func step<G: ShiftForm>(_ x: FV, _ y: FV, _ xd: FV, _ yd: FV, _ i: Int, _: G.Type, _ w: KLFloatScratch) {
        let (pa, qa) = klExpPair(x, va, G.self), (pb, qb) = klExpPair(y, vb, G.self)
        accA.add(pa)
        loA += qa
        accB.add(pb)
        loB += qb
        // a - b exactly (TwoSum): |a|, |b| <= 2^24, so nothing overflows.
        let s = xd - yd, bp = s - xd, ap = s - bp
        let e = (xd - ap) - (yd + bp)
        let top = x .== va
        refH = refH.replacing(with: s, where: top)
        refL = refL.replacing(with: e, where: top)
        @inline(__always) func put(_ v: FV, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: FV.self)
        }
        put(pa, w.eah); put(qa, w.eal); put(pb, w.ebh); put(qb, w.ebl); put(s, w.dh); put(e, w.dl)
    }
}

/// e^{v - m} as a Float pair, clamped (to +0) below -104 in the forms that meet such entries.
@inline(__always)
func klExpPair<F: ShiftForm>(_ v: FV, _ m: FV, _: F.Type) -> (FV, FV) {
    var (d, e) = F.shift(v, m)
    if F.clamps {
        let floor = FV(repeating: -104), clamp = .!(d .>= floor)
        d = d.replacing(with: floor, where: clamp)
        e = e.replacing(with: 0, where: clamp)
    }
    return entropyExpPair(d, e)
}

/// Eight Floats of the scratch at `p + j` in Double.
@inline(__always)
func widen8(_ p: UnsafeMutablePointer<Float>, _ j: Int) -> DV {
    widen(UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Float>.self))
}

/// d = (a - b) - C of eight elements, from the exact pair a - b.
@inline(__always)
func klDifference(_ w: KLFloatScratch, _ j: Int, _ ch: DV, _ cl: DV) -> DV {
    ((widen8(w.dh, j) - ch) + widen8(w.dl, j)) - cl
}

/// d - d* of eight elements, d* that of the reference entry `ref` (a maximal one of a), from
/// the exact pairs a - b: rounded once in the largest cases.
@inline(__always)
func klFromReference(_ w: KLFloatScratch, _ j: Int, _ rh: DV, _ rl: DV) -> DV {
    (widen8(w.dh, j) - rh) + (widen8(w.dl, j) - rl)
}

/// Σ ea φ(d) over the row (the scratch's vectors, whose padding gives 0), and Σ ea (d - d*),
/// in Double lanes. The second gives the gradient's KL - d* = Σ p (d - d*) without the
/// cancellation of Σ p d - d* where P is concentrated (p known to 2^-28 only).
@inline(never)
func klTermsFloat(_ n: Int, _ c: DoubleDouble.DD, _ rho: Double, _ ref: (Float, Float), _ w: KLFloatScratch) -> (value: Double, mean: Double) {
    let ch = DV(repeating: c.hi), cl = DV(repeating: c.lo), rv = DV(repeating: rho), one = DV(repeating: 1)
    let rh = DV(repeating: Double(ref.0)), rl = DV(repeating: Double(ref.1))
    @inline(__always) func k(_ v: Double) -> DV { DV(repeating: v) }
    var sum = DV(repeating: 0), mean = DV(repeating: 0)
    var j = 0
    while j < n {
        let ea = widen8(w.eah, j) + widen8(w.eal, j), eb = widen8(w.ebh, j) + widen8(w.ebl, j)
        let d = klDifference(w, j, ch, cl)
        // φ(d)/d² = Σ_k r^k/(k+2)!, r = -d, to r^11 (truncation 2^-35 relative for |d| <= 1).
        let r = -d
        var poly = k(1 / 6227020800.0)
        poly = fmadd(poly, r, k(1 / 479001600.0))
        poly = fmadd(poly, r, k(1 / 39916800.0))
        poly = fmadd(poly, r, k(1 / 3628800.0))
        poly = fmadd(poly, r, k(1 / 362880.0))
        poly = fmadd(poly, r, k(1 / 40320.0))
        poly = fmadd(poly, r, k(1 / 5040.0))
        poly = fmadd(poly, r, k(1 / 720.0))
        poly = fmadd(poly, r, k(1 / 120.0))
        poly = fmadd(poly, r, k(1 / 24.0))
        poly = fmadd(poly, r, k(1 / 6.0))
        poly = fmadd(poly, r, k(0.5))
        let inside = (ea * (d * d)) * poly
        let outside = fmadd(ea, d - one, eb * rv)
        sum += outside.replacing(with: inside, where: (d .<= one) .& (d .>= -one))
        mean = fmadd(ea, klFromReference(w, j, rh, rl), mean)
        j += 8
    }
    return (horizontalSum(sum), horizontalSum(mean))
}

/// Eight Doubles (or the first `count`) stored as Floats.
@inline(__always)
func klStoreFloats(_ v: DV, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: narrow(v), as: FHalf.self)
    } else {
        withUnsafeBytes(of: narrow(v)) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: 4 * count) }
    }
}

/// The gradients of a row: p (d - KL)/divisor = p ((d - d*) - (KL - d*))/divisor with `mean` =
/// KL - d* (`klTermsFloat`), and (q - p)/divisor; alpha = 1/(Sa·divisor), beta = 1/(Sb·divisor).
@inline(never)
func klGradientFloat(
    _ pb: KLDivergenceProblem<Float>, _ si: Int, _ ref: (Float, Float), _ mean: Double, _ alpha: Double, _ beta: Double,
    _ w: KLFloatScratch
) {
    let n = pb.n
    let rh = DV(repeating: Double(ref.0)), rl = DV(repeating: Double(ref.1)), kv = DV(repeating: mean)
    let av = DV(repeating: alpha), bv = DV(repeating: beta)
    let gpOut = pb.gradientP.map { $0 + si * n }, gqOut = pb.gradientQ.map { $0 + si * n }
    var j = 0
    while j < n {
        let cnt = Swift.min(8, n - j)
        let ea = widen8(w.eah, j) + widen8(w.eal, j)
        let p = ea * av
        if let g = gpOut {
            let v = p * (klFromReference(w, j, rh, rl) - kv)
            klStoreFloats(v, g + j, cnt)
        }
        if let g = gqOut {
            let eb = widen8(w.ebh, j) + widen8(w.ebl, j)
            let v = fmadd(eb, bv, -p)
            klStoreFloats(v, g + j, cnt)
        }
        j += 8
    }
}
#endif
