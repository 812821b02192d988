import SoftmaxCore
import SoftmaxScalarKernels

// KL(P ‖ Q) for P = softmax(a/T), Q = softmax(b/T) (docs/design.md, "KL divergence, entropy and
// NLL"). With s = (a - max a)/T, t = (b - max b)/T, their log-sums La, Lb and
// d = log P - log Q = (s - t) - (La - Lb), Σ p e^{-d} = Σ q = 1 turns Σ p d into
//
//   KL = Σ p_i φ(d_i),   φ(d) = e^{-d} - 1 + d >= 0,
//
// a sum of non-negative terms. φ is evaluated without cancellation (`phiLanes`), and s - t is
// exact, so each term keeps its relative precision even when P ≈ Q and KL is 1e-12. The
// constant La - Lb is rounded, but an error c in it moves the sum only by Σ p (1 - e^{-d}) c = 0
// to first order. Where p_i = 0 (a = -inf) the term is the limit q_i (p φ(d) = q - p + p d);
// where q_i = 0 < p_i it is +inf. The gradients of KL are p_j (d_j - KL)/T for a and
// (q_j - p_j)/T for b.

extension Kernels {
    /// KL(softmax(p/T) ‖ softmax(q/T)) of slices `slices`, with the per-slice values and the
    /// gradients written when the problem asks for them. Returns the sum of the divergences.
    public static func klDivergence<T: SoftmaxScalar>(
        _ pb: KLDivergenceProblem<T>, slices: Range<Int>
    ) -> CompensatedSumWithSpecials {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            return klSlices(unsafeBitCast(pb, to: KLDivergenceProblem<Float>.self), slices)
        }
        return klSlices(unsafeBitCast(pb, to: KLDivergenceProblem<Double>.self), slices)
    }
}

func klSlices<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
    #if SSM_FMA
    if T.self == Float.self && pb.inner == 1 && pb.temperature == 1 && pb.n > 0 && pb.n <= klFloatRow {
        // Contiguous float32 rows at temperature 1 in Float lanes (KLDivergenceFloat.swift); a
        // row it declines takes the Double lanes.
        return klRowsFloat(unsafeBitCast(pb, to: KLDivergenceProblem<Float>.self), slices) { si in
            klSlicesInDoubleLanes(pb, si..<si + 1).value
        }
    }
    #endif
    return klSlicesInDoubleLanes(pb, slices)
}

/// KL over slices of any layout and temperature, every element in Double lanes.
///
/// After the maxima, three passes over each row: the sums pass keeps every element's exps
/// ea = e^s, eb = e^t (pairs) and s - t (a pair) in a scratch (`klFill`) and sums the exps; the
/// terms pass forms Sa·KL = Σ ea φ(d) from the scratch (`klTermsOfScratch`), the gradient pass p
/// and q (`klGradientOfScratch`). Only the sums pass computes exps: beyond |d| <= 1 the term is
/// ea φ(d) = ea e^{-d} + ea (d - 1) with ea e^{-d} = eb·e^{La - Lb} (P e^{-d} = Q), where the
/// former kernel took e^{-d} or e^d and a division again (float64 4096x1000: six exps an
/// element, not two). A row longer than `klChunk` fills the scratch a chunk at a time in every
/// pass (its exps taken three times).
func klSlicesInDoubleLanes<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
    let n = pb.n, t = pb.temperature, invT = 1 / t
    var total = CompensatedSumWithSpecials()
    withUnsafeTemporaryAllocation(of: DV.self, capacity: 6 * ((Swift.min(n, klChunk) + 15) / 8)) { buffer in
        let w = buffer.baseAddress!
        for si in slices {
            let s = Slice(index: si, n: n, inner: pb.inner)
            let sa = sliceLaneStats(pb.p, s), sb = sliceLaneStats(pb.q, s)
            if sa.special || sb.special {
                let kl = klLimitSlice(pb, s, sa, sb)
                pb.perSlice?[si] = T(rounding: kl)
                total.add(kl)
                continue
            }
            let ma = DV(repeating: sa.max), mb = DV(repeating: sb.max)
            var sums = (a: LaneCompensatedSum(), b: LaneCompensatedSum())
            var j = 0
            while j < n {
                let e = Swift.min(n, j + klChunk)
                klFill(pb, s, ma, mb, t, invT, j..<e, w, &sums)
                j = e
            }
            let suma = sums.a.total(), sumb = sums.b.total()
            let la = logOfSum(suma), lb = logOfSum(sumb)
            let ta = suma.pair, tb = sumb.pair
            let cst = DoubleDouble.add(la, (-lb.hi, -lb.lo))
            var k = KLRow(ma: ma, mb: mb, t: t, invT: invT, cst: cst, sa: ta, sb: tb,
                          rho: DoubleDouble.expNear(cst), ia: 1 / ta.hi, ib: 1 / tb.hi)
            var (kl, pd) = klTermsOfRow(pb, s, k, w)
            // The rounding δ of La - Lb moves the divergence by δ²/2 (first order cancels): below
            // about 2^-50·L² a float64 divergence would show it, so La - Lb is taken again in
            // double-double, from exps to 2^-100 (docs/accuracy.md, "KL divergence and entropy").
            if T.self == Double.self && kl < 1e-14 * Swift.max(1, la.hi * la.hi, lb.hi * lb.hi) {
                let a = preciseLogSum(pb.p, s, max: sa.max, t: t), b = preciseLogSum(pb.q, s, max: sb.max, t: t)
                k.cst = DoubleDouble.add(a, (-b.hi, -b.lo))
                k.rho = DoubleDouble.expNear(k.cst)
                (kl, pd) = klTermsOfRow(pb, s, k, w)
            }
            pb.perSlice?[si] = T(rounding: kl)
            total.add(kl)
            guard pb.gradientP != nil || pb.gradientQ != nil else { continue }
            j = 0
            while j < n {
                let e = Swift.min(n, j + klChunk)
                if n > klChunk { klFill(pb, s, ma, mb, t, invT, j..<e, w, &sums) }
                klGradientOfScratch(pb, s, j..<e, w, k, mean: pd, infinite: kl == .infinity)
                j = e
            }
        }
    }
    return total
}

/// The longest rows whose scratch the sums pass fills once (six Doubles an element, 192 KiB);
/// longer rows are walked in chunks of this many elements (a multiple of 8).
let klChunk = 4096

/// What every element of a finite row needs: the maxima, the temperature, La - Lb as a pair, the
/// two sums and their ratio.
struct KLRow {
    var ma, mb: DV
    var t, invT: Double
    var cst: DoubleDouble.DD
    var sa, sb: DoubleDouble.DD
    /// Sa/Sb, the factor that turns eb into ea e^{-d}, as e^{La - Lb} from `cst` (to 2^-66), not
    /// as the quotient of the sums: the terms beyond |d| <= 1 then move with an error δ in La - Lb
    /// as those of the series do, and the first order of δ cancels in the sum (design.md, "KL
    /// divergence, entropy and NLL"). With the quotient, float64 rows of 1000 whose log-sums
    /// were rounded to 2^-53·L were 5 ulps off.
    var rho: DoubleDouble.DD
    /// 1 / sa.hi and 1 / sb.hi: a division per vector is the slowest step of the gradient pass.
    var ia, ib: Double
}

/// Elements `range` of slice `s` (its lower bound a multiple of 8) into the scratch `w`, six
/// vectors per eight elements: ea and eb as pairs, and s - t as a pair, which is -inf where p = 0
/// exactly (a = -inf, and the lanes past the row) and +inf where q = 0 < p. The exps are added to
/// `sums`.
@inline(never)
func klFill<T: SoftmaxScalar>(
    _ pb: KLDivergenceProblem<T>, _ s: Slice, _ ma: DV, _ mb: DV, _ t: Double, _ invT: Double, _ range: Range<Int>,
    _ w: UnsafeMutablePointer<DV>, _ sums: inout (a: LaneCompensatedSum, b: LaneCompensatedSum)
) {
    let ninf = DV(repeating: -.infinity), inf = DV(repeating: .infinity)
    var j = range.lowerBound, at = w
    while j < range.upperBound {
        let c = Swift.min(8, range.upperBound - j)
        let (ah, al) = vshift(T.self, sliceLanes(pb.p, s, j, c, pad: -.infinity), ma, t, invT)
        let (bh, bl) = vshift(T.self, sliceLanes(pb.q, s, j, c, pad: -.infinity), mb, t, invT)
        // The sums of exps as pairs (Double): p and q are these exps over them.
        let (eah, eal) = entropyExp(T.self, ah, al), (ebh, ebl) = entropyExp(T.self, bh, bl)
        sums.a.add(eah)
        sums.a.lo += eal
        sums.b.add(ebh)
        sums.b.lo += ebl
        let pz = ah .== ninf, qz = bh .== ninf
        // s - t exact as a pair (the shifts' low parts are NaN at -inf).
        let (d1, e1) = vtwoSum(ah, -bh)
        let rl = zeroUnless(.!(pz .| qz), e1 + (zeroUnless(.!pz, al) - zeroUnless(.!qz, bl)))
        at[0] = eah
        at[1] = eal
        at[2] = ebh
        at[3] = ebl
        at[4] = d1.replacing(with: inf, where: qz).replacing(with: ninf, where: pz)
        at[5] = rl
        at += 6
        j += 8
    }
}

/// d = (s - t) - (La - Lb) as a pair, from the scratch's s - t and the row's constant: the
/// subtraction in double-double, so that a small d keeps its relative precision.
@inline(__always)
func klLogRatio(_ rh: DV, _ rl: DV, _ ch: DV, _ cl: DV) -> (DV, DV) {
    let (d2, e2) = vtwoSum(rh, -ch)
    let low = e2 + (rl - cl)
    let dh = d2 + low
    return (dh, (d2 - dh) + low)
}

/// The terms pass over a finite row: KL = Σ ea φ(d) / Sa (compensated, lanes folded in a fixed
/// order, one rounding in the division) and, when the P-gradient is wanted, Σ P d as a pair.
func klTermsOfRow<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ s: Slice, _ k: KLRow, _ w: UnsafeMutablePointer<DV>) -> (Double, DoubleDouble.DD) {
    let n = s.n
    var acc = KLTermLanes()
    var j = 0
    while j < n {
        let e = Swift.min(n, j + klChunk)
        if n > klChunk {
            var sums = (a: LaneCompensatedSum(), b: LaneCompensatedSum())
            klFill(pb, s, k.ma, k.mb, k.t, k.invT, j..<e, w, &sums)
        }
        acc = klTermsOfScratch(w, vectors: (e - j + 7) / 8, k, mean: pb.gradientP != nil, acc)
        j = e
    }
    let terms = laneTotal(acc.sum, acc.comp)
    let kl = terms.naive.isFinite ? ddDivide(terms.compensated.pair, k.sa).hi : terms.naive / k.sa.hi
    return (kl, ddDivide(acc.mean.total().pair, k.sa))
}

/// The lane sums of the terms pass: Σ ea φ(d) as (sum, comp), Σ ea d.
struct KLTermLanes {
    var sum = DV(repeating: 0), comp = DV(repeating: 0)
    var mean = LaneCompensatedSum()
}

/// Σ ea φ(d) and, when asked, Σ ea d over `vectors` vectors of the scratch, added to `acc`. φ by
/// its series where |d| <= 1 (`phiSeries`), a pair times ea; beyond, ea φ(d) = eb·Sa/Sb + ea (d - 1)
/// in pair arithmetic: two non-negative parts above 1, and below -1 a difference that cancels to
/// no less than 0.26 of eb·Sa/Sb (1 - e^d (1 - d) at d = -1), which leaves the exps' 2^-57 at
/// most 3.8 times larger. Where p = 0 the term is its limit q (eb·Sa/Sb); where q = 0 < p, +inf.
@inline(never)
func klTermsOfScratch(_ w: UnsafeMutablePointer<DV>, vectors: Int, _ k: KLRow, mean wantMean: Bool, _ start: KLTermLanes) -> KLTermLanes {
    let ch = DV(repeating: k.cst.hi), cl = DV(repeating: k.cst.lo)
    let rh = DV(repeating: k.rho.hi), rl = DV(repeating: k.rho.lo)
    let one = DV(repeating: 1), zero = DV(repeating: 0)
    var acc = start
    var at = w
    for _ in 0..<vectors {
        let eah = at[0], eal = at[1], ebh = at[2], ebl = at[3], xh = at[4], xl = at[5]
        at += 6
        let (dh, dl) = klLogRatio(xh, xl, ch, cl)
        let (fh, fl) = phiSeries(dh, dl)
        let (th, tl) = vtwoProduct(eah, fh)
        var term = th + (tl + fmadd(eah, fl, eal * fh))
        let outside = .!((dh .<= one) .& (dh .>= -one))
        if anyLane(outside) {
            term = term.replacing(with: klTermBeyond(eah, eal, ebh, ebl, xh, dh, dl, rh, rl), where: outside)
        }
        let (h, l) = vtwoSum(acc.sum, term)
        acc.sum = h
        acc.comp += l
        if wantMean {
            let live = eah .!= zero
            let (ph, pl) = vtwoProduct(eah, dh)
            acc.mean.add(zeroUnless(live, ph))
            acc.mean.lo += zeroUnless(live, pl + fmadd(eah, dl, eal * dh))
        }
    }
    return acc
}

/// ea φ(d) = eb·ρ + ea (d - 1) for |d| > 1 (ρ = Sa/Sb = rh + rl), each product exact as a pair
/// and the sum rounded once; eb·ρ where p = 0 (xh, the scratch's s - t, is -inf), +inf where
/// q = 0 < p (xh = +inf).
@inline(__always)
func klTermBeyond(_ eah: DV, _ eal: DV, _ ebh: DV, _ ebl: DV, _ xh: DV, _ dh: DV, _ dl: DV, _ rh: DV, _ rl: DV) -> DV {
    // d - 1 by Fast2Sum (|d| > 1), its low part with d's.
    let uh = dh - DV(repeating: 1)
    let ul = ((dh - uh) - DV(repeating: 1)) + dl
    let (ph, pl) = vtwoProduct(eah, uh)
    let (qh, ql) = vtwoProduct(ebh, rh)
    let qlow = ql + fmadd(ebh, rl, ebl * rh)
    let (oh, ol) = vtwoSum(ph, qh)
    // eal·(d - 1) as eal·d - eal: written eal·uh, LLVM splits the whole block into scalar and
    // two-lane pieces (avx512, twice the time of the pass).
    let v = oh + (ol + ((pl + fmadd(eah, ul, fmadd(eal, dh, -eal))) + qlow))
    let limit = DV(repeating: .infinity).replacing(with: qh + qlow, where: xh .< DV(repeating: 0))
    return v.replacing(with: limit, where: (xh .== DV(repeating: .infinity)) .| (xh .== DV(repeating: -.infinity)))
}

/// The gradients of elements `range` of slice `s` from the scratch: p (d - KL)/(T·divisor) with
/// KL as `mean` = Σ P d, which carries the same rounding of La - Lb as every d and cancels it
/// (NaN where p > 0 when the divergence is +inf), and (q - p)/(T·divisor).
@inline(never)
func klGradientOfScratch<T: SoftmaxScalar>(
    _ pb: KLDivergenceProblem<T>, _ s: Slice, _ range: Range<Int>, _ w: UnsafeMutablePointer<DV>, _ k: KLRow,
    mean: DoubleDouble.DD, infinite: Bool
) {
    let scale = k.t * pb.gradientDivisor
    let ch = DV(repeating: k.cst.hi), cl = DV(repeating: k.cst.lo)
    let mh = DV(repeating: mean.hi), ml = DV(repeating: mean.lo), sv = DV(repeating: scale), zero = DV(repeating: 0)
    // 1/(T·divisor) as a factor where it is finite: a division per vector costs more than the
    // rest of the step.
    let inverse = 1 / scale, iv = DV(repeating: inverse)
    var j = range.lowerBound, at = w
    while j < range.upperBound {
        let c = Swift.min(8, range.upperBound - j)
        let p = pairOverPair((at[0], at[1]), k.sa, k.ia)
        if let g = pb.gradientP {
            let (dh, dl) = klLogRatio(at[4], at[5], ch, cl)
            let (h, l) = vtwoSum(dh, -mh)
            var gp = zeroUnless(p .!= zero, p * (h + (l + (dl - ml))))
            // An infinite divergence has no finite gradient: NaN where p > 0.
            if infinite { gp = zeroUnless(p .!= zero, DV(repeating: .nan)) }
            storeSliceLanes(inverse.isFinite ? gp * iv : gp / sv, g, s, j, c)
        }
        if let g = pb.gradientQ {
            let q = pairOverPair((at[2], at[3]), k.sb, k.ib)
            storeSliceLanes(inverse.isFinite ? (q - p) * iv : (q - p) / sv, g, s, j, c)
        }
        at += 6
        j += 8
    }
}

/// log Σ exp((x - max)/T) of one finite row in double-double, each exp to about 2^-100.
func preciseLogSum<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, max m: Double, t: Double) -> DoubleDouble.DD {
    typealias D = DoubleDouble
    var sum: D.DD = (0, 0)
    for j in 0..<s.n {
        let v = x[s.offset(j)].double
        guard v > -.infinity else { continue }
        let d = twoSum(v, -m)
        let q = d.hi / t
        let r = D.add(d, D.mul((-q, 0), (t, 0)))
        sum = D.add(sum, D.exp(twoSum(q, (r.hi + r.lo) / t)))
    }
    let u = D.add(sum, (-1, 0))
    return D.log1p(u, first: log1pD(u.hi + u.lo))
}

/// (eh + el) / (s.hi + s.lo) for a sum s >= 1 with `inv` = 1 / s.hi, rounded about once: the
/// product by the reciprocal corrected by its exact remainder, without a division.
@inline(__always)
func pairOverPair(_ e: (DV, DV), _ s: DoubleDouble.DD, _ inv: Double) -> DV {
    let sh = DV(repeating: s.hi), sl = DV(repeating: s.lo), iv = DV(repeating: inv)
    let q = e.0 * iv
    return fmadd((remainder(e.0, q, sh) + e.1) - q * sl, iv, q)
}

/// φ(d) = e^{-d} - 1 + d >= 0 of the pair dh + dl for |d| <= 1 without cancellation, as a pair:
/// its series d² Σ_k (-d)^k/(k+2)! (to d^18: truncation below 2^-55 relative). The terms past
/// d³ by Estrin's scheme: a chain of five operations, not Horner's sixteen, so that successive
/// vectors overlap (the terms pass was bound by that chain's latency).
@_transparent
func phiSeries(_ dh: DV, _ dl: DV) -> (DV, DV) {
    let r = -dh
    @inline(__always) func c(_ k: Double) -> DV { DV(repeating: k) }
    @inline(__always) func pair(_ a: Double, _ b: Double) -> DV { fmadd(c(b), r, c(a)) }
    let r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
    // 1/(k+2)! for k = 1...16, r^(k-1) apart.
    let p0 = pair(1 / 6.0, 1 / 24.0), p1 = pair(1 / 120.0, 1 / 720.0)
    let p2 = pair(1 / 5040.0, 1 / 40320.0), p3 = pair(1 / 362880.0, 1 / 3628800.0)
    let p4 = pair(1 / 39916800.0, 1 / 479001600.0), p5 = pair(1 / 6227020800.0, 1 / 87178291200.0)
    let p6 = pair(1 / 1307674368000.0, 1 / 20922789888000.0), p7 = pair(1 / 355687428096000.0, 1 / 6402373705728000.0)
    let q0 = fmadd(p1, r2, p0), q1 = fmadd(p3, r2, p2), q2 = fmadd(p5, r2, p4), q3 = fmadd(p7, r2, p6)
    let poly = fmadd(fmadd(q3, r4, q2), r8, fmadd(q1, r4, q0))
    // The two leading terms with the low part of d: d²/2 - d³/6 = d² (1/2 - d/6).
    // d² as an unevaluated pair times the series' factor, the product kept as a pair.
    let (sh, sl0) = vtwoProduct(dh, dh)
    let sl = fmadd(dh + dh, dl, sl0)
    let factor = fmadd(poly, r, fmadd(-dl, c(1 / 6.0), c(0.5)))
    let (phi, phiLo) = vtwoProduct(sh, factor)
    return (phi, fmadd(sl, factor, phiLo))
}

/// The divergence of a row with a NaN, a +inf or nothing but -inf in either input, from the
/// limits of docs/design.md, "Special values" (probability 1/k on k entries at +inf), summed
/// plainly; the gradients written from the same limits.
func klLimitSlice<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ s: Slice, _ sa: SliceLaneStats, _ sb: SliceLaneStats) -> Double {
    let scale = pb.temperature * pb.gradientDivisor
    if sa.nan || sb.nan {
        if let g = pb.gradientP { fillSlice(g, s, .nan) }
        if let g = pb.gradientQ { fillSlice(g, s, .nan) }
        return .nan
    }
    if sa.max == -.infinity {
        // softmax(p) is 0 everywhere: no mass, no divergence, no gradient.
        if let g = pb.gradientP { fillSlice(g, s, 0) }
        if let g = pb.gradientQ { fillSlice(g, s, 0) }
        return 0
    }
    let lpa = LimitLogSoftmax(pb.p, s, sa, pb.temperature), lqb = LimitLogSoftmax(pb.q, s, sb, pb.temperature)
    var kl = CompensatedSumWithSpecials()
    for j in 0..<s.n {
        let lp = lpa.at(pb.p, s, j)
        guard lp > -.infinity else { continue }
        kl.add(expD(lp) * (lp - lqb.at(pb.q, s, j)))
    }
    let v = kl.value
    for j in 0..<s.n {
        let lp = lpa.at(pb.p, s, j), lq = lqb.at(pb.q, s, j)
        let p = lp > -.infinity ? expD(lp) : 0, q = lq > -.infinity ? expD(lq) : 0
        if let g = pb.gradientP {
            g[s.offset(j)] = T(rounding: p == 0 ? 0 : (v == .infinity ? .nan : p * ((lp - lq) - v) / scale))
        }
        if let g = pb.gradientQ { g[s.offset(j)] = T(rounding: (q - p) / scale) }
    }
    return v
}

/// log softmax(x/T) of a NaN-free row by the limits: -log k on k entries at +inf and -inf
/// elsewhere; -inf everywhere for an all -inf row; otherwise the finite formula.
struct LimitLogSoftmax {
    let max: Double, infs: Int, lse: Double, t: Double

    init<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, _ st: SliceLaneStats, _ t: Double) {
        max = st.max
        infs = st.posInf
        self.t = t
        var sum = CompensatedSum()
        if max.isFinite {
            for j in 0..<s.n { sum.add(expD((x[s.offset(j)].double - max) / t)) }
        }
        // log1p of the sum less its exact 1, as the finite rows take it: a confident row's
        // log-probability near 0 keeps its digits.
        let l = logOfSum(sum)
        lse = max.isFinite ? l.hi + l.lo : 0
    }

    @inline(__always)
    func at<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, _ j: Int) -> Double {
        let v = x[s.offset(j)].double
        if max == .infinity { return v == .infinity ? -logD(Double(infs)) : -.infinity }
        if max == -.infinity { return -.infinity }
        return (v - max) / t - lse
    }
}
