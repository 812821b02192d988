import SoftmaxCore
import SoftmaxScalarKernels
#if arch(x86_64) && SSM_AVX512F
import _Builtin_intrinsics.intel
#endif

// The entropy of softmax(x/T) (docs/design.md, "KL divergence, entropy and NLL"). With
// s_i = (x_i - max)/T <= 0, S = Σ e^{s_i} >= 1, L = log S and U = Σ e^{s_i}·(-s_i) >= 0,
//
//   H = Σ p_i (L - s_i) = L + U/S
//
// a sum of two non-negative parts, so nothing cancels: a one-hot-like row keeps its tiny entropy
// to full relative precision. The gradient of H with respect to x_j is
// -p_j (log p_j + H)/T = -p_j (s_j + U/S)/T (L cancels exactly). Double input keeps every
// exponential as a pair (`vexpPair`) and every product e^s·s exactly; Float input in Double
// lanes has 29 bits to spare and takes the cheap exp.

extension Kernels {
    /// The entropy of slices `slices`, written to `out[slice]`, with the gradient of their sum
    /// when the problem asks for it.
    public static func entropy<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, slices: Range<Int>) {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            return entropySlices(unsafeBitCast(pb, to: EntropyProblem<Float>.self), slices)
        }
        entropySlices(unsafeBitCast(pb, to: EntropyProblem<Double>.self), slices)
    }
}

func entropySlices<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, _ slices: Range<Int>) {
    #if SSM_FMA
    if T.self == Float.self && pb.inner == 1 && pb.temperature == 1 && pb.gradient == nil && pb.n > 0 {
        // Contiguous float32 rows at temperature 1 in Float lanes (`entropyRowFloat`); a row
        // it declines takes the Double lanes.
        let x = UnsafeRawPointer(pb.logits).assumingMemoryBound(to: Float.self)
        let out = UnsafeMutableRawPointer(pb.out).assumingMemoryBound(to: Float.self)
        entropyRowsFloat(x, out, pb.n, rows: slices) { entropySlice(pb, $0) }
        return
    }
    #endif
    if pb.gradient == nil {
        entropySlicesFinishedInLanes(pb, slices)
        return
    }
    for si in slices { entropySlice(pb, si) }
}

/// H of a slice whose stats are special (docs/design.md, "Special values"): NaN: NaN; k entries
/// +inf: uniform over them, H = log k (the limit); all -inf or empty: softmax is 0 everywhere, H = 0.
@inline(__always)
func specialEntropy(_ st: SliceLaneStats) -> Double {
    st.nan ? .nan : (st.max == .infinity ? logD(Double(st.posInf)) : 0)
}

/// The entropies of slices without a gradient, eight at a time: each slice's sums
/// (`entropySums`), then H = log S + U/S of the eight in Double lanes at once
/// (`entropyFromSums`), where one slice's scalar log1p, lane totals and double-double division
/// cost a tenth of a 128-entry row. Each lane sees only its own slice, so a result does not
/// depend on how the slices are grouped (docs/design.md, "Threads and determinism").
func entropySlicesFinishedInLanes<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, _ slices: Range<Int>) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 32) { scratch in
        let sh = scratch.baseAddress!, sl = sh + 8, uh = sh + 16, ul = sh + 24
        var u = slices.lowerBound
        while u < slices.upperBound {
            let count = Swift.min(8, slices.upperBound - u)
            var done: UInt8 = 0  // special slices, already written
            for k in 0..<count {
                let si = u + k
                sh[k] = 1
                sl[k] = 0
                uh[k] = 0
                ul[k] = 0
                let s = Slice(index: si, n: pb.n, inner: pb.inner)
                let st = sliceLaneStats(pb.logits, s, min: true)
                if st.special {
                    pb.out[si] = T(rounding: specialEntropy(st))
                    done |= 1 << k
                    continue
                }
                let r = entropySums(pb, s, st)
                let sp = r.s.pair
                sh[k] = sp.hi
                sl[k] = sp.lo
                uh[k] = r.u.hi
                ul[k] = r.u.lo
            }
            @inline(__always) func load(_ p: UnsafeMutablePointer<Double>) -> DV { UnsafeRawPointer(p).loadUnaligned(as: DV.self) }
            let h = entropyFromSums(load(sh), load(sl), load(uh), load(ul))
            for k in 0..<count where done & (1 << k) == 0 { pb.out[u + k] = T(rounding: h[k]) }
            u += count
        }
    }
}

/// H = log S + U/S from S = sh + sl >= 1 and U = uh + ul >= 0, lane-wise, rounded once to Double
/// (both parts >= 0: nothing cancels): log S by `vlogOfSum`, U/S as a double-double quotient (one
/// division, its exact remainder).
@inline(__always)
func entropyFromSums(_ sh: DV, _ sl: DV, _ uh: DV, _ ul: DV) -> DV {
    let (lh, ll) = vlogOfSum(sh, sl)
    // U/S: q, and the remainder U - qS (exact, also without FMA) over S.
    let q = uh / sh
    let a = (remainder(uh, q, sh) + fmadd(-q, sl, ul)) / sh
    // log S + q: the large parts by TwoSum, all rests added once.
    let (t, e) = vtwoSum(lh, q)
    return t + ((e + ll) + a)
}

func entropySlice<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, _ si: Int) {
    let n = pb.n, t = pb.temperature
    let zero = DV(repeating: 0)
    do {
        let s = Slice(index: si, n: n, inner: pb.inner)
        let st = sliceLaneStats(pb.logits, s, min: true)
        if st.special {
            // The limits of `specialEntropy`, with a zero gradient (NaN: NaN).
            pb.out[si] = T(rounding: specialEntropy(st))
            if let g = pb.gradient { fillSlice(g, s, st.nan ? .nan : 0) }
            return
        }
        let m = DV(repeating: st.max), invT = 1 / t
        let (total, uu) = entropySums(pb, s, st)
        let l = logOfSum(total)
        let sp = total.pair
        let a = ddDivide(uu, sp)
        let h = DoubleDouble.add(l, a)
        pb.out[si] = T(rounding: h.hi + h.lo)
        guard let g = pb.gradient else { return }
        let ah = DV(repeating: a.hi), al = DV(repeating: a.lo)
        let sv = DV(repeating: sp.hi), tv = DV(repeating: -t)
        let coef = -1 / (sp.hi * t), cv = DV(repeating: coef)
        var j = 0
        while j < n {
            let c = Swift.min(8, n - j)
            let (sh, sl) = vshift(T.self, sliceLanes(pb.logits, s, j, c, pad: -.infinity), m, t, invT)
            let (eh, _) = entropyExp(T.self, sh, sl)
            let (vh, vl) = vtwoSum(sh, ah)
            let v = vh + (vl + (zeroUnless(eh .!= zero, sl) + al))
            // Multiplied by -1/(S T) where that is finite (a division per vector is the
            // slowest step); a subnormal temperature divides.
            let grad = coef.isFinite ? zeroUnless(eh .!= zero, eh * v) * cv : zeroUnless(eh .!= zero, (eh / sv) * v) / tv
            storeSliceLanes(grad, g, s, j, c)
            j += 8
        }
    }
}

/// S = Σ e^{s_i} and U = Σ e^{s_i}·(-s_i) of a finite slice with maximum `max`, s_i = (x_i - max)/T.
@inline(__always)
func entropySums<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, _ s: Slice, _ st: SliceLaneStats) -> (s: CompensatedSum, u: DoubleDouble.DD) {
    // A Double slice within 700 of its maximum (`unclampedExpFloor`) at temperature 1 takes
    // s = x - max by the cheapest exact form and an exp without its clamp, as the float64 rows'
    // exp pass does (`raddstoreexpminusmaxContiguous`, Passes.swift): the same s and terms.
    let unclamped = T.self == Double.self && pb.temperature == 1
    switch unclamped ? ShiftFormChoice.unclampedDouble(max: st.max, min: st.min) : nil {
    case .maxLeads: return entropySums(pb, s, st.max, MaxLeads.self)
    case .entryLeads: return entropySums(pb, s, st.max, EntryLeads.self)
    case .twoSum: return entropySums(pb, s, st.max, TwoSumInRange.self)
    case nil: return entropySums(pb, s, st.max, TwoSumShift.self)
    }
}

@inline(__always)
func entropySums<T: SoftmaxScalar, F: ShiftForm>(
    _ pb: EntropyProblem<T>, _ s: Slice, _ max: Double, _: F.Type
) -> (s: CompensatedSum, u: DoubleDouble.DD) {
    let n = pb.n, t = pb.temperature, invT = 1 / t
    let zero = DV(repeating: 0), m = DV(repeating: max)
    // S's terms are in [0, 1]: lanes biased by 1, each addition a Fast2Sum.
    var sum = LaneSumOfUnitTerms(), u = LaneCompensatedSum()
    // Full steps in a loop of their own: with the partial load in it (a stack buffer and a
    // memcpy call), the loop kept its running sums in memory. The partial step's padding
    // (-inf) takes TwoSum and the clamp.
    typealias Exp = (sh: DV, sl: DV, eh: DV, el: DV)
    @inline(__always) func exp(_ v: DV, _ c: Int) -> Exp {
        let full = c == 8 && F.self != TwoSumShift.self
        let (sh, sl) = full ? F.shift(v, m) : vshift(T.self, v, m, t, invT)
        let (eh, el) = entropyExp(T.self, sh, sl, clamp: !full || F.clamps)
        return (sh, sl, eh, el)
    }
    @inline(__always) func add(_ e: Exp) {
        // e^s·(-s) is 0 where e^s is (s = -inf would give 0·inf).
        let live = e.eh .!= zero
        let (ph, pl0) = vtwoProduct(e.eh, -e.sh)
        let pl = fmadd(e.eh, -zeroUnless(live, e.sl), fmadd(e.el, -e.sh, pl0))
        sum.add(e.eh)
        sum.c += e.el
        u.add(zeroUnless(live, ph))
        u.lo += zeroUnless(live, pl)
    }
    @inline(__always) func terms(_ v: DV, _ c: Int) { add(exp(v, c)) }
    var j = 0
    if s.stride == 1 && n >= 24 {
        // A row: its own loop of whole-vector loads (the general one, strides and all, gathered
        // each vector from eight scalar loads), each step one vector's exp and the sums of the
        // one two before it (as `floatLanesStaged`, whose reasons apply: the exp and the sums
        // after it are each a long chain): the same terms in the same order (float64
        // 16384x128 1.20 -> 1.05 ns an element on AVX-512, 2.17 -> 1.82 on AVX2, one thread).
        let p = pb.logits + s.base
        var a = exp(T.load8(p), 8), b = exp(T.load8(p + 8), 8)
        j = 16
        while j + 8 <= n {
            let next = exp(T.load8(p + j), 8)
            add(a)
            (a, b) = (b, next)
            j += 8
        }
        add(a)
        add(b)
    } else {
        while j + 8 <= n {
            terms(sliceLanes(pb.logits, s, j, 8, pad: -.infinity), 8)
            j += 8
        }
    }
    if j < n { terms(sliceLanes(pb.logits, s, j, n - j, pad: -.infinity), n - j) }
    return (sum.unbiased.total(), u.total().pair)
}

/// e^s for s <= 0 as a pair for Double input (to 2^-57), the cheap exp for Float input. On
/// AVX-512 the pair comes from `vexpByTable`'s steps (its table of 2^(j/16) and a degree-7
/// polynomial: about two thirds of `vexpPair`'s operations, to the same 2^-57); lanes below
/// -746 (-inf among them, whose low part may be NaN) give +0 in both parts, as `vexpPair`'s do.
/// `clamp: false` promises sh >= `unclampedExpFloor`, as for `vexp`.
@inline(__always)
func entropyExp<T: SoftmaxScalar>(_: T.Type, _ sh: DV, _ sl: DV, clamp: Bool = true) -> (DV, DV) {
    if T.self == Float.self { return (vexpForFloat(sh), DV(repeating: 0)) }
    #if arch(x86_64) && SSM_AVX512F
    let floor = DV(repeating: -746), keep = clamp ? sh .> floor : DMask(repeating: true)
    let (k16, tHi, rest) = expByTableParts(floor.replacing(with: sh, where: keep), zeroUnless(keep, sl))
    let p = tHi + rest
    return (zeroUnless(keep, _mm512_scalef_pd(p, k16)), zeroUnless(keep, _mm512_scalef_pd((tHi - p) + rest, k16)))
    #else
    return vexpPair(sh, sl, clamp: clamp)
    #endif
}

/// a / b in double-double (b > 0).
@inline(__always)
func ddDivide(_ a: DoubleDouble.DD, _ b: DoubleDouble.DD) -> DoubleDouble.DD {
    let q = a.hi / b.hi
    let r = DoubleDouble.add(a, DoubleDouble.mul((-q, 0), b))
    return twoSum(q, (r.hi + r.lo) / b.hi)
}

#if SSM_FMA
/// The entropies of the contiguous Float rows `rows` of x (n entries each, temperature 1),
/// eight rows at a time: each row's maximum and sums (`entropySumsFloatInDouble`; a row with
/// -inf entries in Float lanes, `entropySumsFloat`), then
/// H = log S + U/S of the eight in Double lanes at once (one vector log1p to 2^-33 and one
/// division, as `softmaxRowsFloat` finishes its rows), rounded to Float. `general` takes a row
/// with a NaN, a +inf or nothing but -inf, and one whose entropy is below 2^-90: terms below
/// 2^-126 lose digits to Float's subnormal range, at most 2^-143 each with their factor -s, which
/// only an entropy that small would show.
@inline(__always)
func entropyRowsFloat(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int, rows: Range<Int>, general: (Int) -> Void
) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 24) { scratch in
        let his = scratch.baseAddress!, los = his + 8, us = his + 16
        var u = rows.lowerBound
        while u < rows.upperBound {
            let count = Swift.min(8, rows.upperBound - u)
            var done: UInt8 = 0  // rows handed to `general`
            for k in 0..<count {
                let xr = x + (u + k) * n
                let (stats, smallest) = rmaxFloat(xr, n)
                let top = Float(stats.max)
                his[k] = 1
                los[k] = 0
                us[k] = 0
                guard !stats.nan, top.isFinite else { general(u + k); done |= 1 << k; continue }
                let r: (s: DoubleDouble.DD, u: Double)
                // A row with -inf entries (whose term times -s would be 0·inf) keeps the Float lanes.
                r = smallest > -.infinity ? entropySumsFloatInDouble(xr, n, top) : entropySumsFloat(xr, n, top, TwoSumShift.self)
                his[k] = r.s.hi
                los[k] = r.s.lo
                us[k] = r.u
            }
            let hi = UnsafeRawPointer(his).loadUnaligned(as: DV.self), lo = UnsafeRawPointer(los).loadUnaligned(as: DV.self)
            let uu = UnsafeRawPointer(us).loadUnaligned(as: DV.self)
            // S >= 1, so hi - 1 is exact; log S and U/S are both >= 0, and nothing cancels.
            let h = vlog1pForFloat((hi - DV(repeating: 1)) + lo) + uu / (hi + lo)
            for k in 0..<count where done & (1 << k) == 0 {
                if h[k] >= 0x1p-90 { out[u + k] = Float(h[k]) } else { general(u + k) }
            }
            u += count
        }
    }
}

/// S = Σ e^s (a pair, >= 1) and U = Σ e^s·(-s) of a finite row with maximum `top`, s = x - top:
/// s exact as a pair (the row's `ShiftForm`), e^s a Float pair to 2^-28 (`entropyExpPair`),
/// e^s·(-s) its exact product plus the rest. The maximal entries' terms (exactly 1) are counted
/// apart, and the other terms of S and those of U are summed in Float lanes with every
/// addition's error kept (TwoSum: a tiny entropy is made of tiny terms, which lanes biased by 1
/// would round), per chunk of `rowChunkLength`; the lanes are added in Double and the chunks
/// merged in order.
@inline(never)
func entropySumsFloat<F: ShiftForm>(_ x: UnsafePointer<Float>, _ n: Int, _ top: Float, _ form: F.Type) -> (s: DoubleDouble.DD, u: Double) {
    let m = FV(repeating: top), zero = FV(repeating: 0)
    var rowS = CompensatedSum(), rowU = CompensatedSum()
    var i = 0
    repeat {
        let end = Swift.min(n, i + rowChunkLength)
        var s = FloatLaneCompensatedSum(biased: false), u = FloatLaneCompensatedSum(biased: false)
        var sl = zero, ul = zero
        while i + floatLanes <= end {
            entropyTerms(UnsafeRawPointer(x + i).loadUnaligned(as: FV.self), m, form, &s, &sl, &u, &ul)
            i += floatLanes
        }
        if i < end {
            // The padding (-inf) needs the clamping form; the true lanes get the same terms.
            entropyTerms(loadFloats(x + i, count: end - i, pad: -.infinity), m, TwoSumShift.self, &s, &sl, &u, &ul)
            i = end
        }
        // Plain Double sums of the lanes (2^-52 of the sums, ample for a Float result); the
        // count of maximal terms is an exact integer, added to the rest with its error kept, so
        // that log1p(S - 1) of a confident row keeps every digit of the tiny rest.
        let (sh, se) = twoSum(horizontalSum(widenSum(s.tops)), horizontalSum(widenSum(s.s)))
        rowS.add(sh)
        rowS.compensation += se + horizontalSum(widenSum(s.c) + widenSum(sl))
        rowU.add(horizontalSum(widenSum(u.s)))
        rowU.compensation += horizontalSum(widenSum(u.c) + widenSum(ul))
    } while i < n
    return (rowS.pair, rowU.value)
}

/// `entropySumsFloat`'s S and U of a row without -inf, in Double lanes: s = x - top as a Double
/// (exact wherever e^s is not 0 but for entries far smaller than the maximum, whose rounding,
/// 2^-53 of |s|, is under the exp's error), so no shift form is chosen and no error term
/// carried; e^s from the Float-result exp (`vexpForFloatByTable` on AVX-512, 2^-34 relative;
/// `vexpForFloat` elsewhere, 2^-28.9: the Float exp pair's precision), e^s·(-s) one FMA into U,
/// and the sums plain Double lanes (2^-52 of each sum). The maximal entries' terms (exactly 1)
/// are counted apart, as `entropySumsFloat` counts them, so that S - 1 of a confident row is the
/// rest itself. Both exps give +0 far below (-750, -200), times a finite -s.
/// About half the operations of the Float lanes' pairs and TwoSums (docs/performance.md,
/// "Float entropy in Double lanes").
@inline(never)
func entropySumsFloatInDouble(_ x: UnsafePointer<Float>, _ n: Int, _ top: Float) -> (s: DoubleDouble.DD, u: Double) {
    let m = DV(repeating: Double(top)), zero = DV(repeating: 0)
    var rest = zero, u = zero, tops = zero
    @inline(__always) func terms(_ v: DV) {
        let d = v - m
        #if arch(x86_64) && SSM_AVX512F
        let e = vexpForFloatByTable(d)
        #else
        let e = vexpForFloat(d)
        #endif
        // Written as selects of sums, which become masked additions.
        let maximal = v .== m
        rest = rest.replacing(with: rest + e, where: .!maximal)
        tops = tops.replacing(with: tops + DV(repeating: 1), where: maximal)
        u = fmadd(e, -d, u)
    }
    var i = 0
    while i + 8 <= n {
        terms(Float.load8(x + i))
        i += 8
    }
    // Padded with the least finite Float, whose term is +0 (and its product with -d too).
    if i < n { terms(Float.loadPartial(x + i, count: n - i, pad: -Double(Float.greatestFiniteMagnitude))) }
    // The count is an exact integer; its sum with the rest keeps the rest's digits as a pair.
    return (twoSum(horizontalSum(tops), horizontalSum(rest)), horizontalSum(u))
}

/// The eight lanes added pairwise.
@inline(__always)
func horizontalSum(_ v: DV) -> Double {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    return b[0] + b[1]
}

/// One vector's terms of `entropySumsFloat`: S without the maximal entries' exact 1s (counted in
/// `s.tops`) and U, with the low parts of the exp pair and of the products in `sl` and `ul`.
@inline(__always)
func entropyTerms<F: ShiftForm>(
    _ v: FV, _ m: FV, _: F.Type, _ s: inout FloatLaneCompensatedSum, _ sl: inout FV,
    _ u: inout FloatLaneCompensatedSum, _ ul: inout FV
) {
    let zero = FV(repeating: 0)
    var (d, e) = F.shift(v, m)
    if F.clamps {
        // Below -104 every term is +0 (and -inf's error NaN): clamped, the NaN-free row gives 0.
        let floor = FV(repeating: -104), clamp = d .< floor
        d = d.replacing(with: floor, where: clamp)
        e = e.replacing(with: zero, where: clamp)
    }
    let (ph, pl) = entropyExpPair(d, e)
    let top = v .== m
    s.add(zero.replacing(with: ph, where: .!top))
    s.tops += zero.replacing(with: 1, where: top)
    sl += pl
    // (ph + pl)(-d - e): ph·(-d) with its exact error, then the rest (pl·e is below 2^-48 of it).
    let nd = -d
    let qh = ph * nd
    u.add(qh)
    ul += fmadd(pl, nd, fmadd(ph, -e, fmadd(ph, nd, -qh)))
}

/// exp(d + e) for -104 <= d <= 0 and |e| <= ulp(d)/2 as an unevaluated Float pair hi + lo,
/// about 2^-28 relative: `vexpfByTable`'s steps on AVX-512 (its sum split by Fast2Sum before
/// the scaling), `vexpfPairByTable` on AVX2. Subnormal results keep what Float's range allows.
@inline(__always)
func entropyExpPair(_ d: FV, _ e: FV) -> (hi: FV, lo: FV) {
    #if arch(x86_64) && SSM_AVX512F
    let magic = FV(repeating: 0x1.8p23)
    let t = fmadd(d, FV(repeating: 0x1.715476p+4), magic)
    let kf = t - magic
    let r = fmadd(kf, FV(repeating: -0x1.62e430p-5), d)
    let c = fmadd(kf, FV(repeating: 0x1.05c610p-33), e)
    let r2 = r * r
    let q = fmadd(r2, fmadd(r2, FV(repeating: 0x1.555556p-5), fmadd(r, FV(repeating: 0x1.555556p-3), FV(repeating: 0.5))), r)
    let qq = fmadd(c, q, q + c)  // (1 + q)(1 + c) - 1
    let index = unsafeBitCast(t, to: SIMD8<Int64>.self)
    let (tHi, tLo) = exp2Sixteenths(index)
    let lo = fmadd(tHi, qq, tLo)
    let p = tHi + lo
    let scale = kf * FV(repeating: 0.0625)
    return (_mm512_scalef_ps(p, scale), _mm512_scalef_ps((tHi - p) + lo, scale))
    #else
    return vexpfPairByTable(d, e)
    #endif
}
#endif
