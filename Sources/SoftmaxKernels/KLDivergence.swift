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
func klSlicesInDoubleLanes<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
    let n = pb.n, t = pb.temperature, invT = 1 / t
    let scale = t * pb.gradientDivisor
    var total = CompensatedSumWithSpecials()
    // The gradient pass needs each element's p, q and d, which the terms pass has just computed:
    // kept for rows of up to `klCachedRow` elements (128 KiB), so that the gradient pass
    // computes no exp (float64 4096x1000: about a quarter of the time).
    let wantGrad = pb.gradientP != nil || pb.gradientQ != nil
    let cached = wantGrad && n <= klCachedRow
    withUnsafeTemporaryAllocation(of: DV.self, capacity: cached ? 4 * ((n + 7) / 8) : 0) { buffer in
        let cache = cached ? buffer.baseAddress : nil
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
            var suma = LaneCompensatedSum(), sumb = LaneCompensatedSum()
            var j = 0
            while j < n {
                let c = Swift.min(8, n - j)
                let (ah, al) = vshift(T.self, sliceLanes(pb.p, s, j, c, pad: -.infinity), ma, t, invT)
                let (bh, bl) = vshift(T.self, sliceLanes(pb.q, s, j, c, pad: -.infinity), mb, t, invT)
                // The sums of exps as pairs (Double): p and q are these exps over them, rounded once.
                let (ea, eal) = entropyExp(T.self, ah, al), (eb, ebl) = entropyExp(T.self, bh, bl)
                suma.add(ea)
                suma.lo += eal
                sumb.add(eb)
                sumb.lo += ebl
                j += 8
            }
            let la = logOfSum(suma.total()), lb = logOfSum(sumb.total())
            let ta = suma.total().pair, tb = sumb.total().pair
            var k = KLRow(ma: ma, mb: mb, t: t, invT: invT, cst: DoubleDouble.add(la, (-lb.hi, -lb.lo)),
                          sa: ta, sb: tb, ia: 1 / ta.hi, ib: 1 / tb.hi)
            var (kl, pd) = klTerms(pb, s, k, cache: cache)
            // The rounding δ of La - Lb moves the divergence by δ²/2 (first order cancels): below
            // about 2^-50·L² a float64 divergence would show it, so La - Lb is taken again in
            // double-double, from exps to 2^-100 (docs/accuracy.md, "KL divergence and entropy").
            if T.self == Double.self && kl < 1e-14 * Swift.max(1, la.hi * la.hi, lb.hi * lb.hi) {
                let a = preciseLogSum(pb.p, s, max: sa.max, t: t), b = preciseLogSum(pb.q, s, max: sb.max, t: t)
                k.cst = DoubleDouble.add(a, (-b.hi, -b.lo))
                (kl, pd) = klTerms(pb, s, k, cache: cache)
            }
            pb.perSlice?[si] = T(rounding: kl)
            total.add(kl)
            guard pb.gradientP != nil || pb.gradientQ != nil else { continue }
            let mh = DV(repeating: pd.hi), ml = DV(repeating: pd.lo), sv = DV(repeating: scale), zero = DV(repeating: 0)
            // 1/(T·divisor) as a factor where it is finite: a division per vector costs more than
            // the rest of the step.
            let inverse = 1 / scale, iv = DV(repeating: inverse)
            j = 0
            while j < n {
                let c = Swift.min(8, n - j)
                let e: (p: DV, q: DV, dh: DV, dl: DV)
                if let cache {
                    let at = cache + 4 * (j / 8)
                    e = (at[0], at[1], at[2], at[3])
                } else {
                    let f = klLanes(T.self, k, sliceLanes(pb.p, s, j, c, pad: 0), sliceLanes(pb.q, s, j, c, pad: 0), term: false)
                    e = (f.p, f.q, f.dh, f.dl)
                }
                if let g = pb.gradientP {
                    let (h, l) = vtwoSum(e.dh, -mh)
                    var gp = zeroUnless(e.p .!= zero, e.p * (h + (l + (e.dl - ml))))
                    // An infinite divergence has no finite gradient: NaN where p > 0.
                    if kl == .infinity { gp = zeroUnless(e.p .!= zero, DV(repeating: .nan)) }
                    storeSliceLanes(inverse.isFinite ? gp * iv : gp / sv, g, s, j, c)
                }
                if let g = pb.gradientQ { storeSliceLanes(inverse.isFinite ? (e.q - e.p) * iv : (e.q - e.p) / sv, g, s, j, c) }
                j += 8
            }
        }
    }
    return total
}

/// The longest rows whose p, q and d the terms pass keeps for the gradient pass.
let klCachedRow = 4096

/// The terms pass over a finite row: KL = Σ p φ(d) (compensated, lanes folded in a fixed order)
/// and, when the P-gradient is wanted, Σ P d as a pair.
func klTerms<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, _ s: Slice, _ k: KLRow, cache: UnsafeMutablePointer<DV>?) -> (Double, DoubleDouble.DD) {
    let n = s.n
    let lane = DV(0, 1, 2, 3, 4, 5, 6, 7)
    var sum = DV(repeating: 0), comp = DV(repeating: 0)
    let wantGrad = pb.gradientP != nil
    var mean = LaneCompensatedSum()
    var j = 0
    while j < n {
        let c = Swift.min(8, n - j)
        let e = klLanes(T.self, k, sliceLanes(pb.p, s, j, c, pad: 0), sliceLanes(pb.q, s, j, c, pad: 0))
        if let cache {
            let at = cache + 4 * (j / 8)
            at[0] = e.p
            at[1] = e.q
            at[2] = e.dh
            at[3] = e.dl
        }
        let valid = lane .< DV(repeating: Double(c))
        let (h, l) = vtwoSum(sum, zeroUnless(valid, e.term))
        sum = h
        comp += l
        if wantGrad {
            let live = valid .& (e.p .!= DV(repeating: 0))
            let (ph, pl) = vtwoProduct(e.p, e.dh)
            mean.add(zeroUnless(live, ph))
            mean.lo += zeroUnless(live, fmadd(e.p, e.dl, pl))
        }
        j += 8
    }
    return (laneTotal(sum, comp).value, mean.total().pair)
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

/// What every element of a finite row needs: the maxima, the temperature, La - Lb as a pair and
/// the two sums.
struct KLRow {
    var ma, mb: DV
    var t, invT: Double
    var cst: DoubleDouble.DD
    var sa, sb: DoubleDouble.DD
    /// 1 / sa.hi and 1 / sb.hi: a division per vector is the slowest step of the terms pass.
    var ia, ib: Double
}

/// (eh + el) / (s.hi + s.lo) for a sum s >= 1 with `inv` = 1 / s.hi, rounded about once: the
/// product by the reciprocal corrected by its exact remainder, without a division.
@inline(__always)
func pairOverPair(_ e: (DV, DV), _ s: DoubleDouble.DD, _ inv: Double) -> DV {
    let sh = DV(repeating: s.hi), sl = DV(repeating: s.lo), iv = DV(repeating: inv)
    let q = e.0 * iv
    return fmadd((remainder(e.0, q, sh) + e.1) - q * sl, iv, q)
}

/// p, q, d (as a pair) and the term p φ(d) of eight elements of a finite row.
@inline(__always)
func klLanes<T: SoftmaxScalar>(_: T.Type, _ k: KLRow, _ a: DV, _ b: DV, term wantTerm: Bool = true) -> (p: DV, q: DV, dh: DV, dl: DV, term: DV) {
    let ninf = DV(repeating: -.infinity)
    let (ah, al) = vshift(T.self, a, k.ma, k.t, k.invT)
    let (bh, bl) = vshift(T.self, b, k.mb, k.t, k.invT)
    let p = pairOverPair(entropyExp(T.self, ah, al), k.sa, k.ia), q = pairOverPair(entropyExp(T.self, bh, bl), k.sb, k.ib)
    let ch = DV(repeating: k.cst.hi), cl = DV(repeating: k.cst.lo)
    let pz = ah .== ninf, qz = bh .== ninf
    // d = (s - t) - (La - Lb): s - t exact as a pair, the constant subtracted in double-double.
    let (d1, e1) = vtwoSum(ah, -bh)
    let (d2, e2) = vtwoSum(d1, -ch)
    let dh = d2 + (e2 + (e1 + (zeroUnless(.!pz, al) - zeroUnless(.!qz, bl)) - cl))
    let dl = (d2 - dh) + (e2 + (e1 + (zeroUnless(.!pz, al) - zeroUnless(.!qz, bl)) - cl))
    guard wantTerm else { return (zeroUnless(.!pz, p), zeroUnless(.!qz, q), dh, dl, DV(repeating: 0)) }
    // p φ as a pair product, rounded once: with p and φ each rounded about once, 1.5 ulps.
    let (fh, fl) = phiLanes(T.self, dh, dl)
    let (th, tl) = vtwoProduct(p, fh)
    var term = th + fmadd(p, fl, tl)
    // p = 0 (or q/p beyond e^700, where φ overflows though p φ does not): the limit q - p + p d = q.
    term = term.replacing(with: q, where: pz .| (dh .< DV(repeating: -700)))
    term = term.replacing(with: DV(repeating: .infinity), where: qz .& .!pz)
    return (zeroUnless(.!pz, p), zeroUnless(.!qz, q), dh, dl, term)
}

/// φ(d) = e^{-d} - 1 + d >= 0 of the pair dh + dl without cancellation: its series
/// d² Σ_k (-d)^k/(k+2)! for |d| <= 1 (to d^18: truncation below 2^-55 relative), e^{-d} + (d - 1)
/// (two non-negative parts) above 1, and (1 - e^d (1 - d))/e^d with e^d as a pair below -1 (the
/// residual 1 - e^d(1-d) >= 0.26 formed in double-double).
@_transparent
func phiLanes<T: SoftmaxScalar>(_: T.Type, _ dh: DV, _ dl: DV) -> (DV, DV) {
    let one = DV(repeating: 1)
    let r = -dh
    @inline(__always) func c(_ k: Double) -> DV { DV(repeating: k) }
    var poly = c(1 / 6402373705728000.0)  // 1/18!
    poly = fmadd(poly, r, c(1 / 355687428096000.0))
    poly = fmadd(poly, r, c(1 / 20922789888000.0))
    poly = fmadd(poly, r, c(1 / 1307674368000.0))
    poly = fmadd(poly, r, c(1 / 87178291200.0))
    poly = fmadd(poly, r, c(1 / 6227020800.0))
    poly = fmadd(poly, r, c(1 / 479001600.0))
    poly = fmadd(poly, r, c(1 / 39916800.0))
    poly = fmadd(poly, r, c(1 / 3628800.0))
    poly = fmadd(poly, r, c(1 / 362880.0))
    poly = fmadd(poly, r, c(1 / 40320.0))
    poly = fmadd(poly, r, c(1 / 5040.0))
    poly = fmadd(poly, r, c(1 / 720.0))
    poly = fmadd(poly, r, c(1 / 120.0))
    poly = fmadd(poly, r, c(1 / 24.0))
    poly = fmadd(poly, r, c(1 / 6.0))
    // The two leading terms with the low part of d: d²/2 - d³/6 = d² (1/2 - d/6).
    // d² as an unevaluated pair times the series' factor, the product kept as a pair.
    let (sh, sl0) = vtwoProduct(dh, dh)
    let sl = fmadd(dh + dh, dl, sl0)
    let factor = fmadd(poly, r, fmadd(-dl, c(1 / 6.0), c(0.5)))
    var (phi, phiLo) = vtwoProduct(sh, factor)
    phiLo = fmadd(sl, factor, phiLo)
    let above = dh .> one, below = dh .< -one
    if anyLane(above) {
        let (eh, el) = entropyExp(T.self, -dh, -dl)
        phi = phi.replacing(with: eh + (((dh - one) + dl) + el), where: above)
        phiLo = phiLo.replacing(with: 0, where: above)
    }
    if anyLane(below) {
        // u = -d > 1, E = e^{-u} = e^d as a pair; φ = (1 - E (1 + u)) / E.
        let floor = DV(repeating: -745)
        let dd = floor.replacing(with: dh, where: dh .> floor)
        let eh: DV, el: DV
        if T.self == Float.self { (eh, el) = (vexpForFloat(dd), DV(repeating: 0)) } else { (eh, el) = vexpPair(dd, dl) }
        let (uh, ul0) = vtwoSum(one, -dh)
        let ul = ul0 - dl
        let (mh, ml0) = vtwoProduct(eh, uh)
        let ml = ml0 + fmadd(eh, ul, el * uh)
        let (nh, nl0) = vtwoSum(one, -mh)
        let nl = nl0 - ml
        let inv = one / eh
        let q = nh * inv
        let v = fmadd(remainder(nh, q, eh) + nl - q * el, inv, q)
        phi = phi.replacing(with: v, where: below)
        phiLo = phiLo.replacing(with: 0, where: below)
    }
    return (phi, phiLo)
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
