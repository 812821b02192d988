import SoftmaxCore
#if arch(x86_64) && SSM_AVX512F
import _Builtin_intrinsics.intel
#endif

// Binary cross-entropy with logits, elementwise, fused with its gradient (docs/design.md,
// "Binary cross-entropy"). With e = exp(-|x|), L = log1p(e), u = 1 - t and v = pw·t, PyTorch's
// -w·[v·log σ(x) + u·log(1 - σ(x))] becomes, by log σ(x) = min(x, 0) - L and
// log(1 - σ(x)) = -max(x, 0) - L,
//
//   loss = w·(m·|x| + (u + v)·L)                 m = u for x >= 0, v for x < 0
//   grad = ±w·(m - k·e) / (1 + e) / divisor      k = v for x >= 0, u for x < 0; - for x < 0
//
// The API admits only t in [0, 1] and w, pw >= 0, so every term of the loss is >= 0 and nothing
// cancels. The gradient w·[u·σ(x) - v·σ(-x)] is one numerator over 1 + e, the sigmoids' common
// denominator, so σ(x) - 1 is never rounded (t = 1, x = 40 gives -4.25e-18, not 0); its
// numerator is formed in double-double, so that it only loses what the inputs' own
// cancellation costs. Double input keeps e, L and every product as unevaluated pairs and rounds
// each result once; Float input in Double lanes has 29 bits to spare and takes the cheap exp and
// log1p (`expMinusAbs`, `vlog1pForFloat`).

extension Kernels {
    /// Binary cross-entropy with logits of the elements `range`, with the per-element losses
    /// and the gradient written when the problem asks for them. Returns the sum of the losses.
    public static func binaryCrossEntropyWithLogits<T: SoftmaxScalar>(
        _ pb: BinaryCrossEntropyProblem<T>, range: Range<Int>
    ) -> CompensatedSumWithSpecials {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            return bceElements(unsafeBitCast(pb, to: BinaryCrossEntropyProblem<Float>.self), range)
        }
        return bceElements(unsafeBitCast(pb, to: BinaryCrossEntropyProblem<Double>.self), range)
    }
}

/// a·b as an unevaluated pair, exactly (the rounded product's remainder).
@inline(__always)
func vtwoProduct(_ a: DV, _ b: DV) -> (DV, DV) {
    let p = a * b
    return (p, -remainder(p, a, b))
}

/// exp(d) · 2^64 for d <= 0 (or NaN) as an unevaluated pair: `vexpPair` before its final
/// scaling by 2^-64, so that the low part is kept down to exp(d) = 2^-1010. On AVX-512 from
/// `vexpPairByTable`'s steps (fewer operations), d raised to -750 first (NaN too), where both
/// parts are below anything a result resolves.
@inline(__always)
func vexpPairUp64(_ d: DV) -> (hi: DV, lo: DV) {
    #if arch(x86_64) && SSM_AVX512F
    let (k16, tHi, rest) = expByTableParts(_mm512_max_pd(d, DV(repeating: -750)), DV(repeating: 0))
    let p = tHi + rest
    let scale = k16 + DV(repeating: 64)
    return (_mm512_scalef_pd(p, scale), _mm512_scalef_pd((tHi - p) + rest, scale))
    #else
    let (keep, t, h, rest) = vexpParts(d, DV(repeating: 0))
    let p = h + rest
    let pl = (h - p) + rest
    let bits = (unsafeBitCast(t, to: SIMD8<UInt64>.self) &<< 52) &+ SIMD8<UInt64>(repeating: (1023 + 64) << 52)
    let scale = unsafeBitCast(bits, to: DV.self)
    return (zeroUnless(keep, p * scale), zeroUnless(keep, pl * scale))
    #endif
}

/// The elements `range`, eight at a time; losses summed per lane (TwoSum) and the lanes folded in
/// a fixed order, so that the result depends only on the range.
func bceElements<T: SoftmaxScalar>(_ pb: BinaryCrossEntropyProblem<T>, _ range: Range<Int>) -> CompensatedSumWithSpecials {
    let end = range.upperBound
    var state = BCESums(cls: range.lowerBound % pb.n)
    var k = range.lowerBound
    #if !(arch(x86_64) && SSM_AVX512F)
    if T.self == Double.self && k + 16 <= end {
        // Each step one vector's exp and the rest of the one two before it (as
        // `floatLanesStaged`, whose reasons apply): the same operations on each vector (float64
        // 4096x1000 6.9 -> 5.9 ns an element on AVX2, 39 -> 26 on the baseline tier, one
        // thread; on AVX-512, where the compiler leaves the step out of line, the exp's pair
        // went through memory and took half as long again).
        var e = vexpPairUp64(minusAbs(T.load8(pb.logits + k)))
        var f = vexpPairUp64(minusAbs(T.load8(pb.logits + k + 8)))
        while k + 24 <= end {
            let next = vexpPairUp64(minusAbs(T.load8(pb.logits + k + 16)))
            bceStep(pb, k, 8, &state, exp: e)
            (e, f) = (f, next)
            k += 8
        }
        bceStep(pb, k, 8, &state, exp: e)
        bceStep(pb, k + 8, 8, &state, exp: f)
        k += 16
    }
    #endif
    while k + 8 <= end {
        bceStep(pb, k, 8, &state)
        k += 8
    }
    if k < end { bceStep(pb, k, end - k, &state) }
    // An infinite or NaN loss leaves NaN compensations; the sum with specials then takes the
    // plain total.
    var total = CompensatedSumWithSpecials()
    for i in 0..<8 {
        total.add(state.sum[i])
        if state.comp[i].isFinite { total.compensated.add(state.comp[i]) }
    }
    return total
}

/// What `bceStep` carries from one vector to the next: the per-lane sums and the class of the
/// first lane.
struct BCESums {
    var sum = DV(repeating: 0), comp = DV(repeating: 0)
    var cls: Int
}

/// The `c` (<= 8) elements from k: one step for the whole vectors and the tail, inlined twice,
/// so that the loop's copy is compiled with c = 8. (A function, not a closure over the loop's
/// variables, which cost a heap box per call.)
@inline(__always)
func bceStep<T: SoftmaxScalar>(
    _ pb: BinaryCrossEntropyProblem<T>, _ k: Int, _ c: Int, _ st: inout BCESums, exp: (hi: DV, lo: DV)? = nil
) {
    @inline(__always) func load(_ p: UnsafePointer<T>) -> DV {
        c == 8 ? T.load8(p + k) : T.loadPartial(p + k, count: c, pad: 0)
    }
    @inline(__always) func store(_ v: DV, _ p: UnsafeMutablePointer<T>) {
        if c == 8 { T.store8(v, p + k) } else { T.storePartial(v, p + k, count: c) }
    }
    let one = DV(repeating: 1), n = pb.n
    let x = load(pb.logits), t = load(pb.targets)
    let w = pb.weight.map { load($0) } ?? one
    var p = one
    if let pw = pb.posWeight {
        let cls = st.cls
        if cls + 8 <= n {
            p = T.load8(pw + cls)
        } else {
            // The classes wrap within these eight lanes: gathered through a small buffer.
            p = withUnsafeTemporaryAllocation(of: T.self, capacity: 8) { b in
                var j = cls
                for i in 0..<8 {
                    b[i] = pw[j]
                    j += 1
                    if j == n { j = 0 }
                }
                return T.load8(UnsafePointer(b.baseAddress!))
            }
        }
        let next = cls + 8
        st.cls = next < n ? next : n >= 8 ? next - n : next % n
    }
    // The gradient divided by the divisor as a product by its reciprocal (see `bceLanes`).
    let (loss, grad) = bceLanes(T.self, x, t, w, p, pb.gradientDivisor, 1 / pb.gradientDivisor, gradient: pb.gradient != nil,
                                exp: exp)
    if let out = pb.perElement { store(loss, out) }
    if let g = pb.gradient { store(grad, g) }
    let lane = DV(0, 1, 2, 3, 4, 5, 6, 7)
    let (s, e) = vtwoSum(st.sum, c == 8 ? loss : zeroUnless(lane .< DV(repeating: Double(c)), loss))
    st.sum = s
    st.comp += e
}

/// Lanes `m` of `bceLanes`' results near the subnormal range, scaled by 2^64: the pair (h, l) of
/// a product, and e's pair (eh, el) replaced by e·2^64 (exact; log1p(e) is e there). Returns the
/// factor that scales the result back, 2^-64 in those lanes and 1 elsewhere. Transparent, as
/// `bceLanes` is, for the same reason.
@_transparent
func scaledUp64(_ m: DMask, _ h: inout DV, _ l: inout DV, _ eh: inout DV, _ el: inout DV,
                e64: (hi: DV, lo: DV)) -> DV {
    let one = DV(repeating: 1)
    guard anyLane(m) else { return one }
    let up = DV(repeating: 0x1p64)
    h = h.replacing(with: h * up, where: m)
    l = l.replacing(with: l * up, where: m)
    eh = eh.replacing(with: e64.hi, where: m)
    el = el.replacing(with: e64.lo, where: m)
    return one.replacing(with: DV(repeating: 0x1p-64), where: m)
}

/// The loss and (when `gradient`) the gradient of eight elements: logits x, targets t, weights w
/// and positive weights p (see the top of the file); the gradient is divided by `divisor`
/// (`inverse` is its reciprocal). NaN logits give NaN; a zero coefficient of an infinite |x|,
/// or a zero weight, contributes 0 (the limit, where PyTorch's 0·inf is NaN). Transparent: as
/// an ordinary inlined function it stayed out of line, its vectors passed through memory.
@_transparent
func bceLanes<T: SoftmaxScalar>(
    _: T.Type, _ x: DV, _ t: DV, _ w: DV, _ p: DV, _ divisor: Double, _ inverse: Double, gradient: Bool,
    exp: (hi: DV, lo: DV)? = nil
) -> (loss: DV, grad: DV) {
    if T.self == Float.self { return bceLanesForFloat(x, t, w, p, divisor, gradient: gradient) }
    let zero = DV(repeating: 0), one = DV(repeating: 1)
    let pos = x .>= zero
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt64>.self) & SIMD8<UInt64>(repeating: ~(1 << 63)), to: DV.self)
    // e·2^64 as a pair (esh, esl), so that its low part survives where e is near the bottom of
    // the normal range; results of that size are formed scaled by 2^64 (see below).
    let (esh, esl): (DV, DV)
    if let exp { (esh, esl) = exp } else { (esh, esl) = vexpPairUp64(minusAbs(x)) }
    let eh = esh * DV(repeating: 0x1p-64), el = esl * DV(repeating: 0x1p-64)
    // Below 2^-54, log1p(e) rounds as e does (see `logSigmoidLanes`).
    let tiny = eh .< DV(repeating: 0x1p-54)
    var (lh, ll) = vlog1pPair(eh, el)
    lh = lh.replacing(with: eh, where: tiny)
    ll = ll.replacing(with: el, where: tiny)
    // Lanes whose e is below 2^-900 and whose other terms are as small give results in or near
    // the subnormal range, where each rounding of a product would cost a whole unit of the
    // result: their terms are scaled by 2^64 (exactly; log1p(e) is e there) and the result
    // scaled back once.
    let small = DV(repeating: 0x1p-900)
    let eTiny = eh .< small
    let (uh, ul) = vtwoSum(one, -t)
    let (vh, vl) = vtwoProduct(p, t)
    let (ch, cl0) = vtwoSum(uh, vh)
    let cl = cl0 + (ul + vl)
    let mh = vh.replacing(with: uh, where: pos), ml = vl.replacing(with: ul, where: pos)
    // m·|x|, 0 where m = 0 (also for |x| = inf).
    let live = mh .!= zero
    let (ah0, al0) = vtwoProduct(mh, ax)
    var ah = zeroUnless(live, ah0), al = zeroUnless(live, fmadd(ml, ax, al0))
    let lossScale = scaledUp64(eTiny .& (ah .< small), &ah, &al, &lh, &ll, e64: (esh, esl))
    let (bh, bl0) = vtwoProduct(ch, lh)
    let bl = bl0 + fmadd(ch, ll, cl * lh)
    let (sh, sl0) = vtwoSum(ah, bh)
    let sl = sl0 + (al + bl)
    let (qh, ql) = vtwoProduct(w, sh)
    var loss = (qh + fmadd(w, sl, ql)) * lossScale
    // An overflowing loss is +inf (its low parts are NaN there).
    loss = loss.replacing(with: qh, where: (qh - qh) .!= zero)
    loss = zeroUnless(w .!= zero, loss).replacing(with: x, where: x .!= x)
    guard gradient else { return (loss, zero) }
    let kh = uh.replacing(with: vh, where: pos), kl = ul.replacing(with: vl, where: pos)
    var gmh = mh, gml = ml, geh = eh, gel = el
    let gradScale = scaledUp64(eTiny .& (mh .< small), &gmh, &gml, &geh, &gel, e64: (esh, esl))
    let (keh, kel0) = vtwoProduct(kh, geh)
    let kel = kel0 + fmadd(kh, gel, kl * geh)
    let (dh0, dl0) = vtwoSum(gmh, -keh)
    let (dh, dl) = vtwoSum(dh0, dl0 + (gml - kel))
    let (wh, wl0) = vtwoProduct(w, dh)
    let wl = fmadd(w, dl, wl0)
    // (wh + wl) / divisor as a pair: a product by the reciprocal is within an ulp of the
    // quotient, so its remainder is exact and the low part carries the rest.
    let d = DV(repeating: divisor), inv = DV(repeating: inverse)
    let nh = wh * inv
    let nl = (remainder(wh, nh, d) + wl) * inv
    let q = pairQuotient(nh, nl, eh, el) * gradScale
    let g = q.replacing(with: -q, where: .!pos)
    return (loss, g.replacing(with: x, where: x .!= x))
}

/// `bceLanes` for Float input, in plain Double arithmetic, which has 29 bits to spare: v = pw·t
/// is exact, u = 1 - t is exact or within 2^-53 of u, each other step rounds by 2^-53, e and
/// log1p(e) are good to 2^-28.9 and 2^-33 (`expMinusAbs`, `vlog1pForFloat`), and no product of
/// Float inputs overflows or leaves Double's normal range: the Double path's pairs and scalings
/// would change no Float result. The numerator m - k·e is one FMA, rounded once relative to
/// itself; only e's own error, relative to k·e, passes through its cancellation.
@_transparent
func bceLanesForFloat(_ x: DV, _ t: DV, _ w: DV, _ p: DV, _ divisor: Double, gradient: Bool) -> (loss: DV, grad: DV) {
    let zero = DV(repeating: 0), one = DV(repeating: 1)
    let pos = x .>= zero
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt64>.self) & SIMD8<UInt64>(repeating: ~(1 << 63)), to: DV.self)
    let (e, _) = expMinusAbs(Float.self, x)
    let l = vlog1pForFloat(e)
    let u = one - t, v = p * t
    let m = v.replacing(with: u, where: pos)
    // m·|x|, 0 where m = 0 (also for |x| = inf).
    let a = zeroUnless(m .!= zero, m * ax)
    var loss = w * fmadd(u + v, l, a)
    loss = zeroUnless(w .!= zero, loss).replacing(with: x, where: x .!= x)
    guard gradient else { return (loss, zero) }
    let k = u.replacing(with: v, where: pos)
    let num = w * fmadd(-k, e, m)
    let g = num / ((one + e) * DV(repeating: divisor))
    return (loss, g.replacing(with: -g, where: .!pos).replacing(with: x, where: x .!= x))
}
