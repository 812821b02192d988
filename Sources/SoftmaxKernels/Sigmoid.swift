import SoftmaxCore
import CSoftmaxSupport
#if arch(x86_64) && (SSM_AVX512F || SSM_AVX2)
import _Builtin_intrinsics.intel
#endif

// The logistic sigmoid and its logarithm, elementwise (docs/design.md, "Kernels"):
//
//   vsigmoid     y = n / (1 + e)            e = exp(-|x|), n = 1 (x >= 0) or e (x < 0)
//   vlogsigmoid  y = min(x, 0) - log1p(e)
//
// Both forms never overflow (docs/design.md, "Special values"). The scalar specification they
// are tested against is Reference.sigmoid.
//
// Where x < 0, n / (1 + e) can fall into the binade below e's: a rounded e (half an ulp) is then
// a whole ulp of the result before the division rounds, 1.5 ulp in all. So Double keeps e as an
// unevaluated pair (`vexpPair`), 1 + e exactly (Fast2Sum), and the quotient corrected by its
// remainder; log1p takes the pair too (`vlog1pPair`): both round once, near half an ulp. Float
// input in Double lanes (the baseline tier) has 29 bits to spare: the pair's high part and the
// cheap log1p. Float input on the FMA tiers runs the sigmoid in Float lanes, twice the lanes,
// with the same pair steps in Float (`vexpfPairByTable`; on AVX-512 `vexpfAccurateFinish`, whose
// pair is within 2^-35, so that the float32 sigmoid rounds once from within 2^-34:
// docs/accuracy.md). The log-sigmoid takes log1p from a table of log(c) for c near 1/(1 + e),
// with no division: in Float lanes for Float on the FMA tiers (`LogSigmoidFloatLanes`: 32
// entries on AVX-512, 8 on AVX2), in Double lanes with log(c) as a pair for Double on AVX-512
// (`logSigmoidFromPair`).

extension Kernels {
    /// The logistic sigmoid of `count` elements; `y` may be `x` exactly.
    public static func vsigmoid<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            #if SSM_FMA
            floatLanesStaged(x.as(Float.self), y.as(Float.self), count, SigmoidFloatLanes.self)
            #else
            doubleLanesMap(x.as(Float.self), y.as(Float.self), count, SigmoidLanes.self)
            #endif
        } else {
            #if arch(x86_64) && SSM_AVX512F
            doubleLanesStaged(x.as(Double.self), y.as(Double.self), count, SigmoidByTableStages.self)
            #else
            doubleLanesMap(x.as(Double.self), y.as(Double.self), count, SigmoidLanes.self)
            #endif
        }
    }

    /// log(sigmoid(x)) of `count` elements; `y` may be `x` exactly.
    public static func vlogsigmoid<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            #if SSM_FMA
            floatLanesStaged(x.as(Float.self), y.as(Float.self), count, LogSigmoidFloatLanes.self)
            #else
            doubleLanesMap(x.as(Float.self), y.as(Float.self), count, LogSigmoidLanes.self)
            #endif
        } else {
            #if arch(x86_64) && SSM_AVX512F
            doubleLanesStaged(x.as(Double.self), y.as(Double.self), count, LogSigmoidByTableStages.self)
            #else
            doubleLanesMap(x.as(Double.self), y.as(Double.self), count, LogSigmoidLanes.self)
            #endif
        }
    }
}

/// An elementwise function of eight Double lanes holding values of T, as a type, so that each
/// loop is compiled with its function fixed (a closure argument left the function out of line).
protocol DoubleLaneFunction {
    static func apply<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> DV
}

enum SigmoidLanes: DoubleLaneFunction {
    @inline(__always) static func apply<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> DV { sigmoidLanes(T.self, v) }
}

enum LogSigmoidLanes: DoubleLaneFunction {
    @inline(__always) static func apply<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> DV { logSigmoidLanes(T.self, v) }
}

/// y = F(x) elementwise over `n` values of T in Double lanes, where AVX-512 does not run its
/// stages (`doubleLanesStaged`). Each step loads before it stores, so `y` may be `x`. One vector a
/// step, but two on AVX2 (the Doubles' functions there, whose exp reads a table: sigmoid 2.13 ->
/// 2.01 ns an element, log-sigmoid 4.58 -> 4.42, one thread; the stages, with twice the values
/// live in sixteen registers, were 3% slower than that), and on the baseline tier two copies of
/// log-sigmoid's left its exp's coefficient arrays unfolded (a heap object per step).
@inline(__always)
func doubleLanesMap<T: SoftmaxScalar, F: DoubleLaneFunction>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int, _: F.Type
) {
    var i = 0
    #if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
    while i + 16 <= n {
        let a = T.load8(x + i), b = T.load8(x + i + 8)
        T.store8(F.apply(T.self, a), y + i)
        T.store8(F.apply(T.self, b), y + i + 8)
        i += 16
    }
    #endif
    while i + 8 <= n {
        T.store8(F.apply(T.self, T.load8(x + i)), y + i)
        i += 8
    }
    if i < n { T.storePartial(F.apply(T.self, T.loadPartial(x + i, count: n - i, pad: 0)), y + i, count: n - i) }
}

#if arch(x86_64) && SSM_AVX512F
/// An elementwise function of eight Doubles as two stages (exp(-|v|), then the function of it),
/// for `doubleLanesStaged` (AVX-512 only).
protocol DoubleLaneStages {
    associatedtype Exp
    static func exp(_ v: DV) -> Exp
    static func finish(_ v: DV, _ e: Exp) -> DV
}

/// y = F(x) elementwise over `n` Doubles, each step running one vector's exp and the quotient or
/// logarithm of the vector three before it (as `floatLanesStaged`, whose reasons apply; one
/// before it, the float64 log-sigmoid took 0.96 ns an element on Zen 5, two before 0.81, the
/// sigmoid 0.54 and 0.51, one thread; three before, once the logarithm had lost five operations,
/// 2-3% less again for both). Each vector takes the same operations in any position, so the
/// same bits; each is loaded before any result at or after it is stored, so `y` may be `x`.
@inline(__always)
func doubleLanesStaged<S: DoubleLaneStages>(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int, _: S.Type) {
    @inline(__always) func whole(_ v: DV) -> DV { S.finish(v, S.exp(v)) }
    var i = 0
    if n >= 32 {
        var a = Double.load8(x), b = Double.load8(x + 8), c = Double.load8(x + 16)
        var ea = S.exp(a), eb = S.exp(b), ec = S.exp(c)
        i = 24
        while i + 8 <= n {
            let d = Double.load8(x + i)
            let ed = S.exp(d)
            Double.store8(S.finish(a, ea), y + i - 24)
            (a, ea, b, eb, c, ec) = (b, eb, c, ec, d, ed)
            i += 8
        }
        Double.store8(S.finish(a, ea), y + i - 24)
        Double.store8(S.finish(b, eb), y + i - 16)
        Double.store8(S.finish(c, ec), y + i - 8)
    }
    while i + 8 <= n {
        Double.store8(whole(Double.load8(x + i)), y + i)
        i += 8
    }
    if i < n { Double.storePartial(whole(Double.loadPartial(x + i, count: n - i, pad: 0)), y + i, count: n - i) }
}
#endif

/// -|v|, by setting the sign bit.
@inline(__always)
func minusAbs(_ v: DV) -> DV {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt64>.self) | SIMD8<UInt64>(repeating: 1 << 63), to: DV.self)
}

/// exp(d + dl) for d <= 0 (or NaN) and |dl| <= ulp(d) as an unevaluated pair hi + lo, to about
/// 2^-57 relative (the polynomial's error): `vexp`'s h + rest split by Fast2Sum, both parts
/// scaled by 2^m. hi is `vexp(d, dl)` itself, rounded once where it is subnormal; lo is lost
/// there, where it is below the resolution anyway. 0 below -746 (and for NaN); `clamp` as for
/// `vexp`.
@inline(__always)
func vexpPair(_ d: DV, _ dl: DV = DV(repeating: 0), clamp: Bool = true) -> (hi: DV, lo: DV) {
    let (keep, t, h, rest) = vexpParts(d, dl, clamp: clamp)
    let p = h + rest
    let pl = (h - p) + rest
    // 2^(m+64) from the low bits of t, which hold m >= -1077 (so it is normal); p·2^(m+64) is
    // exact and the multiplication by 2^-64 rounds once, as in `vexp`.
    let bits = (unsafeBitCast(t, to: SIMD8<UInt64>.self) &<< 52) &+ SIMD8<UInt64>(repeating: (1023 + 64) << 52)
    let scale = unsafeBitCast(bits, to: DV.self), down = DV(repeating: 0x1p-64)
    return (zeroUnless(keep, p * scale * down), zeroUnless(keep, pl * scale * down))
}

/// exp(-|v|) for a lane of T: the pair for Double; for Float input the pair's high part, its
/// argument raised to -150 so that only |v| > 745.13, where Double's exp underflows, gives
/// +0: the Float results (and zero signs) of the Double formula (on AVX-512 the table's,
/// `vexpForFloatByTable`, which underflows there by itself).
@inline(__always)
func expMinusAbs<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> (hi: DV, lo: DV) {
    let d = minusAbs(v)
    if T.self == Double.self {
        #if arch(x86_64) && SSM_AVX512F
        return vexpPairByTable(_mm512_max_pd(d, DV(repeating: -750)))
        #else
        return vexpPair(d)
        #endif
    }
    #if arch(x86_64) && SSM_AVX512F
    return (vexpForFloatByTable(d), DV(repeating: 0))
    #else
    // The pair's high part (its own error below 2^-60), not the cheap exp (2^-28.9, which left
    // the float32 sigmoid and log-sigmoid at 0.53 ulp here).
    let floor = DV(repeating: -150)
    let e = vexpPair(floor.replacing(with: d, where: d .> floor)).hi
    return (zeroUnless(d .>= DV(repeating: -745.1332191019412), e), DV(repeating: 0))
    #endif
}

#if arch(x86_64) && SSM_AVX512F
/// exp(d) for d <= 0 to about 2^-34 relative, for Float results: fewer operations than
/// `vexpForFloat`. k/16 = round(16 d / ln 2)/16 from the 1.5·2^48 trick (t's ulp is 2^-4, its low
/// four bits are j = k mod 16), which `vscalefpd` takes as it is (it applies 2^floor(k/16) and
/// rounds a subnormal result once); r = d - (k/16) ln 2 in one FMA (within 2^-45), |r| <= ln2/32,
/// exp(r) - 1 by its series to r^4 (2^-34.5), times 2^(j/16) from `vexpByTable`'s table (one
/// `vpermi2pd`; its high parts alone). d is raised to -750 first, where the result is +0 as it
/// is below -745.13; NaN stays NaN (`vmaxpd` returns its second operand).
@inline(__always)
func vexpForFloatByTable(_ d: DV) -> DV {
    let magic = DV(repeating: 0x1.8p48)
    let x = _mm512_max_pd(DV(repeating: -750), d)
    let t = fmadd(x, DV(repeating: 1.4426950408889634), magic)
    let k16 = t - magic
    let r = fmadd(k16, DV(repeating: -0.6931471805599453), x)
    let q = fmadd(fmadd(r * r, DV(repeating: 1.0 / 24), fmadd(r, DV(repeating: 1.0 / 6), DV(repeating: 0.5))), r * r, r)
    let tHi = _mm512_permutex2var_pd(
        DV(0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
           0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0),
        unsafeBitCast(t, to: SIMD8<Int64>.self),
        DV(0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
           0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0))
    return _mm512_scalef_pd(fmadd(tHi, q, tHi), k16)
}
#endif

#if arch(x86_64) && SSM_AVX512F
/// The float64 sigmoid on AVX-512 (`sigmoidFromParts`) in two stages: exp(-v)'s parts, then the
/// quotient.
enum SigmoidByTableStages: DoubleLaneStages {
    @_transparent static func exp(_ v: DV) -> (k16: DV, tHi: DV, rest: DV) {
        let z = _mm512_min_pd(DV(repeating: 750), _mm512_max_pd(DV(repeating: -40), -v))
        return expByTableParts(z, DV(repeating: 0), roundedReduction: true)
    }
    @_transparent static func finish(_ v: DV, _ e: (k16: DV, tHi: DV, rest: DV)) -> DV { sigmoidFromParts(e.k16, e.tHi, e.rest) }
}

/// sigmoid of eight Doubles as one quotient with an exact numerator: exp(-v) = 2^K (tHi + rest)
/// from `expByTableParts`, so sigmoid(v) = P / (P + tHi + rest) with P = 2^-K, a power of two
/// for either sign of v (no pair exp, no choice of numerator). P + tHi is exact as a pair
/// (Fast2Sum of the larger and the smaller), rest is added by a second Fast2Sum (|rest| <
/// 2^-4 tHi <= P + tHi), so the denominator D = dh + dl is as good as exp's parts (2^-57 at
/// worst, rest's rounding; its reduction rounded, `roundedReduction`); 1/D is inv = 1/dh
/// corrected by the exact residual 1 - inv·dh (one FMA) and by dl, and 2^-K scales it last,
/// rounding once more where the result is subnormal (the 0.75 ulp of the double rounding there,
/// as before). -v is taken within [-40, 750]: below -40 every sigmoid rounds to 1, above 750 the
/// result, below 2^-1082, is +0. NaN passes both bounds (`vmaxpd`/`vminpd` return their
/// second operand) and every step, so NaN lanes give NaN.
/// (This is the second stage, from exp(-v)'s parts, k16 = k/16; `SigmoidByTableStages.exp` is the
/// first.)
@_transparent
func sigmoidFromParts(_ k16: DV, _ tHi: DV, _ rest: DV) -> DV {
    let one = DV(repeating: 1)
    // vscalefpd applies 2^floor(its second operand): floor(15/16 - k/16) = -floor(k/16).
    let minusK = DV(repeating: 0.9375) - k16
    let p = _mm512_scalef_pd(one, minusK)
    // max/min keep a NaN (their second operand), which then runs through every step.
    let q = reciprocalOfSum(big: _mm512_max_pd(p, tHi), small: _mm512_min_pd(p, tHi), rest: rest)
    // Scaled by vscalefpd rather than multiplied by p, which is +0 from 2^-1075 on where a
    // result just above 2^-1075 still rounds up to the least subnormal.
    return _mm512_scalef_pd(q, minusK)
}
#endif

/// sigmoid of eight lanes: for Float input n / (1 + e) rounded once from e with 29 bits to
/// spare; for Doubles `sigmoidByParts` (AVX-512 runs `sigmoidFromParts` in stages instead). NaN
/// lanes return the input.
@inline(__always)
func sigmoidLanes<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> DV {
    let r: DV
    if T.self == Float.self {
        let one = DV(repeating: 1)
        let (eh, _) = expMinusAbs(T.self, v)
        r = one.replacing(with: eh, where: v .< DV(repeating: 0)) / (one + eh)
    } else {
        r = sigmoidByParts(v)
    }
    return r.replacing(with: v, where: v .!= v)
}

/// sigmoid of eight Doubles as `sigmoidFromParts` computes it on AVX-512, from `vexpParts`:
/// exp(-v) = 2^m (h + rest), so sigmoid(v) = P / (P + h + rest) with P = 2^-m, one quotient for
/// either sign of v, where the pair exp and `pairQuotient` took a choice of numerator, the
/// exp's low part split off and scaled, and a remainder (one thread, AVX2: 1.93 -> 1.55 ns an
/// element; worst 0.75 -> 0.65 ulp, and 0.61 on the baseline tier). The denominator is exact as
/// a pair but for rest's rounding (P + h by Fast2Sum of the larger and the smaller; rest, below
/// h/8, by a second one), its reciprocal corrected by the exact residual and its low part, then
/// scaled by 2^(64-m) (normal: m is at most 1082) and 2^-64, which rounds once where the result
/// is subnormal. -v is taken within [-40, 750] (below -40 every sigmoid rounds to 1, above 750
/// the result is +0): `vexpParts` takes arguments above 0 too, its rounding trick's k (at most
/// 4,328 for the quarters' table, 1,082 for Taylor's) well inside its range. NaN lanes are the
/// caller's.
@_transparent
func sigmoidByParts(_ v: DV) -> DV {
    let down = DV(repeating: 0x1p-64)
    let z = vmin(vmax(-v, DV(repeating: -40)), DV(repeating: 750))
    let (_, t, h, rest) = vexpParts(z, DV(repeating: 0), clamp: false)
    // t's low bits hold m: shifted left by 52, m·2^52 (mod 2^64), subtracted from 2^64's bits.
    let mBits = unsafeBitCast(t, to: SIMD8<UInt64>.self) &<< 52
    let up = unsafeBitCast(SIMD8<UInt64>(repeating: (1023 + 64) << 52) &- mBits, to: DV.self)
    let p = up * down  // 2^-m, exact down to 2^-1074 (+0 below, far under h's last bit)
    return reciprocalOfSum(big: vmax(p, h), small: vmin(p, h), rest: rest) * up * down
}

/// 1 / (big + small + rest) rounded once, for big >= small >= 0 and |rest| < big/8 (the
/// sigmoids' P + h + rest): big + small exact as a pair (Fast2Sum), rest added by a second one,
/// the reciprocal of the high part corrected by the exact residual 1 - inv·dh (`remainder`: an
/// FMA, or Dekker's product on the baseline tier, where a rounded one left 1.09 ulp) and by the
/// low part, to 2^-104 before the last rounding.
@_transparent
func reciprocalOfSum(big: DV, small: DV, rest: DV) -> DV {
    let one = DV(repeating: 1)
    let a = big + small
    let al = (big - a) + small
    let dh = a + rest
    let dl = ((a - dh) + rest) + al
    let inv = one / dh
    let c = fmadd(-dl, inv, remainder(one, inv, dh))
    return fmadd(inv, c, inv)
}

/// (nh + nl) / (1 + eh + el) for 0 <= eh <= 1, rounded once (about half an ulp): 1 + eh split
/// exactly (Fast2Sum), one division for 1 / (1 + eh), the quotient's remainder (`remainder`,
/// exact with FMA or Dekker's product) and the low parts folded into one correction. (`vrcp14pd`
/// and a Newton step in place of the division measured slower: the FMA ports, not the
/// divider, bound this loop.)
@inline(__always)
func pairQuotient(_ nh: DV, _ nl: DV, _ eh: DV, _ el: DV) -> DV {
    let one = DV(repeating: 1)
    let sh = one + eh
    let sl = ((one - sh) + eh) + el
    let inv = one / sh
    let q = nh * inv
    let corr = (remainder(nh, q, sh) + nl) - q * sl
    return fmadd(corr, inv, q)
}

/// log(sigmoid) of eight lanes, for Doubles on AVX2 and both types on the baseline tier (the
/// others take `LogSigmoidFloatLanes` and `logSigmoidFromPair`): min(v, 0) - log1p(e), the
/// subtraction exact (TwoSum) and rounded once with log1p's low part. Below -40, log1p(e) <
/// 2^-57 is below half an ulp of v, so the result is v itself (which also covers -inf). NaN
/// lanes return the input.
@inline(__always)
func logSigmoidLanes<T: SoftmaxScalar>(_: T.Type, _ v: DV) -> DV {
    let zero = DV(repeating: 0)
    let a = zero.replacing(with: v, where: v .< zero)
    let (eh, el) = expMinusAbs(T.self, v)
    var r: DV
    if T.self == Float.self {
        r = a - vlog1pForFloat(eh)
    } else {
        // Below 2^-54, log1p(e) = e - e^2/2 rounds as e does, and the reduction in vlog1pPair
        // would lose a subnormal e's last bit.
        let tiny = eh .< DV(repeating: 0x1p-54)
        var (lh, ll) = vlog1pPair(eh, el)
        lh = lh.replacing(with: eh, where: tiny)
        ll = ll.replacing(with: el, where: tiny)
        let (s, t) = vtwoSum(a, -lh)
        r = s + (t - ll)
        r = r.replacing(with: v, where: v .< DV(repeating: -40))
    }
    return r.replacing(with: v, where: v .!= v)
}

/// min(v, 0) + log(c) - log1p(r) of both table log-sigmoids (Float and Double lanes), from big =
/// min(a, log c) and small = max(a, log c), a = min(v, 0): both are <= 0, so big + small is exact
/// as a pair by Fast2Sum; so is s - rh, since |s| >= |log c| > |rh| where c != 1, and where c = 1
/// s = a is 0 or below -2.6. The low parts (the sums' errors, log c's own `low` where it is a
/// pair, log1p's `tail`) are added last, one rounding (docs/design.md, "The passes").
@_transparent
func logSigmoidSum<V: SIMD>(big: V, small: V, rh: V, tail: V, low: V?) -> V where V.Scalar: FloatingPoint {
    let s = big + small
    let sl = (big - s) + small
    let h = s - rh
    let hl = (s - h) - rh
    // h - (tail - lows) rather than h + (lows - tail): the same bits, but -0 where every term
    // is a zero of either sign (-0 - (+0 - +0)), the log-sigmoid's result where e = +0.
    if let low { return h - (tail - ((sl + hl) + low)) }
    return h - (tail - (sl + hl))
}

#if arch(x86_64) && SSM_AVX512F
/// The float64 log-sigmoid on AVX-512 (`logSigmoidFromPair`) in two stages: exp(-|v|) as a pair,
/// then the logarithm. -|v| raised to -750 (where the exp is +0) by one `vrangepd`, -min(|v|,
/// 750), where setting the sign bit and a maximum took two steps (a quiet NaN gives -750, a
/// signalling one a NaN; the last step returns v for both).
enum LogSigmoidByTableStages: DoubleLaneStages {
    @_transparent static func exp(_ v: DV) -> (hi: DV, lo: DV) {
        vexpPairByTable(ssm_support_minus_min_abs_pd(v, DV(repeating: 750)), roundedReduction: true)
    }
    @_transparent static func finish(_ v: DV, _ e: (hi: DV, lo: DV)) -> DV { logSigmoidFromPair(v, e.hi, e.lo) }
}

/// log(sigmoid) of eight Doubles on AVX-512, `LogSigmoidFloatLanes`'s steps in Double, without
/// `vlog1pPair`'s division: e = exp(-|v|) as `vexpPairByTable`'s pair (2^-57), j = round(15 e)
/// (the 1.5·2^52 trick; one `vpermt2pd` of a two-register table reads each of c and log(c); c - 1
/// is computed), c within 2^-24 of 1/(1 + j/15) and chosen so that log(c) is within 2^-20 of an
/// ulp of a Double (an accurate table, python/tools/log_table.py: log(c) needs no low part; c is
/// at least 15/16 for j = 1, which keeps e·c and 1 - c within a factor 2 there),
/// r = (e + el) c - 1 = rh + rl exactly but for rl's rounding (e·c rounded, its error by FMA,
/// e·c + (c - 1) exact by Sterbenz), |r| <= 1/30, and log1p(r) = r + r²g(r), g a degree-8
/// polynomial (Chebyshev fit, 2^-60.6 of log1p(r)) in pairs of coefficients, the pairs by
/// Horner's scheme in r² (no r^4, one multiplication fewer on the FMA units, this loop's
/// busiest). min(v, 0) + log(c) is exact as a pair (Fast2Sum of the larger magnitude and the
/// smaller), and so is its sum with -rh (at least 0.064 where j > 0, 0 or beyond 3.4 where j = 0,
/// and |rh| <= 1/30); the lows are added last: one rounding, about half an ulp. The pair's low
/// part is dropped below 2^-1009, where it would be rounded to the least subnormal (a tie of the
/// final rounding, 0.75 ulp) and e alone is within half an ulp. e = +0 from v > 745.13 on, where
/// every step gives +0. Below -40, log1p(e) < 2^-57 is below half an ulp of v, and the steps give
/// v itself; NaN lanes (the exp's argument -750 or NaN) and -inf (the Fast2Sums' inf - inf would
/// be NaN) take v by one `vfixupimmpd` by v's class. The exp's reduction is rounded
/// (`roundedReduction`), its low part added to r by one FMA.
/// (This is the second stage, from e's pair eh + pairLow; `LogSigmoidByTableStages.exp` is the
/// first.)
@_transparent
func logSigmoidFromPair(_ v: DV, _ eh: DV, _ pairLow: DV) -> DV {
    let zero = DV(repeating: 0)
    let index = unsafeBitCast(fmadd(eh, DV(repeating: 15), roundMagic), to: SIMD8<Int64>.self)
    let c = _mm512_permutex2var_pd(
        DV(0x1.0000000000000p+0, 0x1.e00000935fe02p-1, 0x1.c3c3c3d2d6bc0p-1, 0x1.aaaaab7fd7767p-1,
           0x1.9435e5a885c76p-1, 0x1.800000795fe44p-1, 0x1.6db6dc2cfa471p-1, 0x1.5d1746b09fe79p-1),
        index,
        DV(0x1.4de9bdfcca138p-1, 0x1.400000435f6acp-1, 0x1.33333396c1732p-1, 0x1.276276b187e62p-1,
           0x1.1c71c7c8bbb77p-1, 0x1.124924987118ap-1, 0x1.08d3dd8070804p-1, 0x1.00000055a7252p-1))
    // c - 1 is exact (Sterbenz: c is in [1/2, 1]): a subtraction where a table read took two
    // registers more.
    let cm1 = c - DV(repeating: 1)
    let logC = _mm512_permutex2var_pd(
        DV(0, -0x1.085986704b179p-4, -0x1.00558868e15bep-3, -0x1.7564fd1f0bfcbp-3,
           -0x1.e41fc9a5d64f1p-3, -0x1.26961fcfa358bp-2, -0x1.588c2b79a9b5cp-2, -0x1.882f1c699cfaap-2),
        index,
        DV(-0x1.b5b3dfe5a813dp-2, -0x1.e148a0cadab0fp-2, -0x1.058aef0224300p-1, -0x1.199fab7940944p-1,
           -0x1.2cf25e77706c0p-1, -0x1.3f912746c2b98p-1, -0x1.5188a30e42ef0p-1, -0x1.62e42f445554dp-1))
    let p = eh * c
    let rh = p + cm1
    // The pair's low part only where |v| <= 700: e at least exp(-700) rounded
    // (0x1.14f2b0fb9307fp-1010, 0.04 ulp above its Double; e's next value down is 2^-43 of e
    // below), one masked FMA.
    let product = _mm512_fmsub_pd(eh, c, p)
    let rl = product.replacing(with: fmadd(pairLow, c, product), where: eh .>= DV(repeating: 0x1.14f2b0fb9307fp-1010))
    // g(rh) = (log1p(r) - r)/r² (rl's share of the square is below 2^-58 of the result).
    let r2 = rh * rh
    @inline(__always) func k(_ x: Double) -> DV { DV(repeating: x) }
    let p01 = fmadd(rh, k(0x1.55555555554fcp-2), k(-0.5))
    let p23 = fmadd(rh, k(0x1.9999999ba30bcp-3), k(-0x1.fffffffffff5cp-3))
    let p45 = fmadd(rh, k(0x1.24922f78999e2p-3), k(-0x1.5555555733569p-3))
    let p67 = fmadd(rh, k(0x1.c80c0cf218c5ap-4), k(-0x1.ffffd0ef1829dp-4))
    // The last coefficient folded into the top pair (c8 r² + p67), not added as r^8 c8: one
    // multiplication fewer on the FMA units, this loop's busiest.
    let p68 = fmadd(r2, k(-0x1.9a753e348c58dp-4), p67)
    let g = fmadd(fmadd(fmadd(p68, r2, p45), r2, p23), r2, p01)
    let tail = fmadd(r2, g, rl)
    // vminpd returns its second operand where either is NaN: 0 (the end restores NaN lanes).
    let a = _mm512_min_pd(v, zero)
    let y = logSigmoidSum(big: _mm512_min_pd(a, logC), small: _mm512_max_pd(a, logC), rh: rh, tail: tail, low: nil)
    // NaN and -inf lanes take v by one `vfixupimmpd` (code 1 for the NaN classes and -inf),
    // where a blend by a comparison took two steps: y is v itself below -40 otherwise.
    return ssm_support_fixup_pd(y, v, fixupCodes(doubleLogSigmoidFixups))
}
#endif

/// log1p(uh + ul) for 0 <= uh <= 1 (|ul| <= ulp(uh)) as an unevaluated pair, to about 2^-58
/// relative.
///
/// 1 + u = 2^k m with k = 1 where 1 + uh >= sqrt(2), else 0; f = m - 1 is exact as a pair (u
/// itself when k = 0; (1 + u)/2 - 1 by Sterbenz when k = 1). log(m) = 2 atanh(z), z = f/(2+f),
/// |z| <= 0.1716: 2z as a pair (the quotient's remainder), the rest of the odd series to z^21
/// (truncation 2^-60) in plain Double, about 1% of the result. k ln 2 is added with ln 2 as a
/// pair and TwoSum.
@_transparent
func vlog1pPair(_ uh: DV, _ ul: DV) -> (hi: DV, lo: DV) {
    let one = DV(repeating: 1), two = DV(repeating: 2), half = DV(repeating: 0.5), zero = DV(repeating: 0)
    let s = one + uh
    let sl = ((one - s) + uh) + ul
    let big = s .>= DV(repeating: 1.4142135623730951)
    let fh = uh.replacing(with: (s - two) * half, where: big)
    let fl = ul.replacing(with: sl * half, where: big)
    // z = f / (2 + f): 2 + fh split exactly (|fh| < 2), one division, the remainder's correction.
    let dh = two + fh
    let dl = ((two - dh) + fh) + fl
    let inv = one / dh
    let zh = fh * inv
    let zl = ((remainder(fh, zh, dh) + fl) - zh * dl) * inv
    // 2/3 + 2/5 w + ... + 2/21 w^9 by Estrin's scheme, written out: an array literal of
    // coefficients (`estrin`) is not folded in a function this large.
    let w = zh * zh, w2 = w * w, w4 = w2 * w2
    @inline(__always) func c(_ k: Double) -> DV { DV(repeating: 2 / k) }
    let p01 = fmadd(c(5), w, c(3)), p23 = fmadd(c(9), w, c(7)), p45 = fmadd(c(13), w, c(11))
    let p67 = fmadd(c(17), w, c(15)), p89 = fmadd(c(21), w, c(19))
    let p03 = fmadd(p23, w2, p01), p47 = fmadd(p67, w2, p45)
    let series = zh * w * fmadd(fmadd(p89, w4, p47), w4, p03)
    let k = zero.replacing(with: one, where: big)
    let (h, e) = vtwoSum(k * DV(repeating: 0.6931471805599453), zh + zh)
    let lo = fmadd(k, DV(repeating: 2.3190468138462996e-17), e + ((zl + zl) + series))
    return (h, lo)
}

#if SSM_FMA
/// An elementwise Float-lane function as three stages (the exp's reduction, the rest of the exp,
/// the function of it), for `floatLanesStaged`.
protocol FloatLaneStages {
    associatedtype Exp
    static func reduce(_ v: FV) -> ExpfReduction
    static func exp(_ reduction: ExpfReduction) -> Exp
    static func finish(_ v: FV, _ e: Exp) -> FV
}

/// y = F(x) elementwise over `n` Floats in Float lanes, each step running the three stages of
/// successive vectors: i's reduction, i - 2's exp, i - 4's finish, so that the processor's
/// schedulers hold operations whose operands are ready, not a chain of ones waiting on each
/// other (the exp and the quotient or logarithm after it are each a long dependent chain; run in
/// order a vector at a time, or two, the float32 sigmoid kept the FMA units less than half busy
/// on Zen 4; float32 sigmoid 0.40 -> 0.34 ns an element, one thread, avx512). The finish two
/// steps behind the exp rather than one gave the log-sigmoid's longer chain room on Zen 5:
/// 0.33 -> 0.29 ns an element on AVX-512, 0.74 -> 0.69 on AVX2 (sigmoid 2-3%); the exp two
/// behind the reduction rather than one, the finish four, took AVX2's log-sigmoid 6-7% further
/// (0.635 -> 0.589), level elsewhere. Each vector takes the same operations in any position, so
/// the same bits; the tail by a masked load and store (an overlapping full vector would, in
/// place, read results already stored).
@inline(__always)
func floatLanesStaged<S: FloatLaneStages>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _: S.Type) {
    @inline(__always) func at(_ i: Int) -> FV { UnsafeRawPointer(x + i).loadUnaligned(as: FV.self) }
    @inline(__always) func put(_ v: FV, _ i: Int) { UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: FV.self) }
    @inline(__always) func whole(_ v: FV) -> FV { S.finish(v, S.exp(S.reduce(v))) }
    var i = 0
    if n >= 4 * floatLanes {
        // Each vector is loaded before any result at or after it is stored: `y` may be `x`.
        var a = at(0), b = at(floatLanes), c = at(2 * floatLanes), d = at(3 * floatLanes)
        var ea = S.exp(S.reduce(a)), eb = S.exp(S.reduce(b))
        var rc = S.reduce(c), rd = S.reduce(d)
        i = 4 * floatLanes
        while i + floatLanes <= n {
            let e = at(i)
            let re = S.reduce(e)
            let ec = S.exp(rc)
            put(S.finish(a, ea), i - 4 * floatLanes)
            (a, ea, b, eb) = (b, eb, c, ec)
            (c, rc, d, rd) = (d, rd, e, re)
            i += floatLanes
        }
        put(S.finish(a, ea), i - 4 * floatLanes)
        put(S.finish(b, eb), i - 3 * floatLanes)
        put(S.finish(c, S.exp(rc)), i - 2 * floatLanes)
        put(S.finish(d, S.exp(rd)), i - floatLanes)
    }
    while i + floatLanes <= n {
        put(whole(at(i)), i)
        i += floatLanes
    }
    if i < n { storeFloats(whole(loadFloats(x + i, count: n - i, pad: 0)), y + i, count: n - i) }
}

enum SigmoidFloatLanes: FloatLaneStages {
    #if arch(x86_64) && SSM_AVX512F
    @_transparent static func reduce(_ v: FV) -> ExpfReduction { vexpfAccurateReduction(sigmoidExpArgument(v)) }
    @_transparent static func exp(_ reduction: ExpfReduction) -> (hi: FV, lo: FV, k: FV) {
        let (hi, lo) = vexpfAccurateFinish(reduction)
        return (hi, lo, reduction.k)
    }
    @_transparent static func finish(_ v: FV, _ e: (hi: FV, lo: FV, k: FV)) -> FV { sigmoidFromUnscaledExp(v, e.hi, e.lo, e.k) }
    #else
    @_transparent static func reduce(_ v: FV) -> ExpfReduction { vexpfPairReduction(sigmoidExpArgument(v)) }
    @_transparent static func exp(_ reduction: ExpfReduction) -> (hi: FV, lo: FV) { vexpfPairFinish(reduction) }
    @_transparent static func finish(_ v: FV, _ e: (hi: FV, lo: FV)) -> FV { sigmoidFromExp(v, e.hi, e.lo) }
    #endif
}

#if arch(x86_64) && SSM_AVX512F
/// sigmoid of a Float vector from e = exp(-|v|) = 2^floor(k)·(uh + ul) (`vexpfAccurateFinish`),
/// within 2^-34 before its one rounding: (nh + nl)/(1 + e) with nh + nl = 1 where v >= 0 and
/// uh + ul where v < 0, unscaled (so that its low part never meets the subnormals: results of
/// 2^-126 to 2^-115 were 0.76 ulp when it did), the quotient scaled by 2^floor(k) at the end,
/// exactly where it is normal. inv = 1/(1 + eh + el) from the divider (rounded once; about three
/// cycles a vector on Zen 5, beside the FMA units; el, up to 2^-14 of eh, must be in it: the
/// correction below is as large and inv scales it), q = nh·inv, the remainder
/// nh + nl - q(1 + eh + el) with nh - q exact (Sterbenz: q is in [nh/2, nh]) and every later
/// step rounding far below q's ulp, and q + remainder·inv. NaN stays NaN throughout; below -104
/// the argument is -104, whose sigmoid rounds to +0.
@_transparent
func sigmoidFromUnscaledExp(_ v: FV, _ uh: FV, _ ul: FV, _ k: FV) -> FV {
    let one = FV(repeating: 1)
    let eh = _mm512_scalef_ps(uh, k), el = _mm512_scalef_ps(ul, k)
    let neg = v .< FV(repeating: 0)
    let nh = one.replacing(with: uh, where: neg)
    let inv = one / ((one + eh) + el)
    let q = nh * inv
    let partial = fnmadd(q, eh, nh - q)
    let corr = fnmadd(q, el, partial.replacing(with: partial + ul, where: neg))
    let s = fmadd(corr, inv, q)
    return s.replacing(with: _mm512_scalef_ps(s, k), where: neg)
}
#endif

#if arch(x86_64) && SSM_AVX512F
/// exp(d) as an unevaluated Float pair hi + lo from a table of 2^(j/32) (two registers each for
/// its high and low parts, one `vpermt2ps` reads them) for -104 <= d <= 0, or NaN, which stays
/// NaN: k = round(32 d / ln 2) comes as k/32 from the 1.5·2^18 trick (t's ulp is 2^-5 and its
/// low five bits are j = k mod 32), which is what `vscalefps` takes (it applies 2^floor(k/32)),
/// with no multiplication; r = d - k ln2/32 in two FMAs (within 2^-31), |r| <= ln2/64, where
/// exp(r) - 1 = r + r²/2 + r³/6 to 2^-30.7. 2^(j/32)'s pair times 1 + that, as a normalised
/// pair (Fast2Sum), then scaled: to about 2^-29 relative.
@inline(__always)
func vexpfPairByTable(_ d: FV) -> (hi: FV, lo: FV) {
    vexpfPairFinish(vexpfPairReduction(d))
}

/// `vexpfPairByTable`'s first steps: t (k/32 and j in its bits), k/32 and r.
@_transparent
func vexpfPairReduction(_ d: FV) -> ExpfReduction {
    let magic = FV(repeating: 0x1.8p18)
    let t = fmadd(d, FV(repeating: 0x1.715476p+0), magic)
    let k32 = t - magic
    // ln 2 = 0x1.62e430p-1 - 0x1.05c610p-29: the first step rounds once, 2^-31 absolute (|r| < 2^-6).
    let r = fmadd(k32, FV(repeating: 0x1.05c610p-29), fmadd(k32, FV(repeating: -0x1.62e430p-1), d))
    return ExpfReduction(t: t, k: k32, r: r)
}

/// `vexpfPairByTable`'s other steps, from its reduction.
@_transparent
func vexpfPairFinish(_ reduction: ExpfReduction) -> (hi: FV, lo: FV) {
    let (t, k32, r) = (reduction.t, reduction.k, reduction.r)
    let qq = fmadd(fmadd(r, FV(repeating: 0x1.555556p-3), FV(repeating: 0.5)), r * r, r)
    let (tHi, tLo) = exp2ThirtySeconds(t)
    // hi + lo as a normalised pair (Fast2Sum: |tHi| >= |its correction|), then scaled.
    let lo = fmadd(tHi, qq, tLo)
    let p = tHi + lo
    return (_mm512_scalef_ps(p, k32), _mm512_scalef_ps((tHi - p) + lo, k32))
}

/// 2^(j/32) as a Float pair hi + lo (to 2^-48) for j the low five bits of t, from two-register
/// tables, one `vpermt2ps` each.
@_transparent
func exp2ThirtySeconds(_ t: FV) -> (hi: FV, lo: FV) {
    let index = unsafeBitCast(t, to: SIMD8<Int64>.self)
    let hi = _mm512_permutex2var_ps(
        FV(0x1.000000p+0, 0x1.059b0ep+0, 0x1.0b5586p+0, 0x1.11301ep+0, 0x1.172b84p+0, 0x1.1d4874p+0, 0x1.2387a6p+0, 0x1.29e9e0p+0,
           0x1.306fe0p+0, 0x1.371a74p+0, 0x1.3dea64p+0, 0x1.44e086p+0, 0x1.4bfdaep+0, 0x1.5342b6p+0, 0x1.5ab07ep+0, 0x1.6247ecp+0),
        index,
        FV(0x1.6a09e6p+0, 0x1.71f75ep+0, 0x1.7a1148p+0, 0x1.82589ap+0, 0x1.8ace54p+0, 0x1.93737cp+0, 0x1.9c4918p+0, 0x1.a5503cp+0,
           0x1.ae89fap+0, 0x1.b7f770p+0, 0x1.c199bep+0, 0x1.cb720ep+0, 0x1.d5818ep+0, 0x1.dfc974p+0, 0x1.ea4afap+0, 0x1.f50766p+0))
    let lo = _mm512_permutex2var_ps(
        FV(0, -0x1.9d4f52p-25, 0x1.9f3122p-25, -0x1.fdb496p-25, -0x1.c15742p-27, -0x1.d2e8cap-25, 0x1.ceac48p-25, -0x1.5c0424p-25,
           0x1.4636e2p-25, -0x1.18aac6p-25, 0x1.824684p-25, 0x1.8624b4p-30, -0x1.593abcp-25, -0x1.2c5610p-25, -0x1.5bd5ecp-27, -0x1.f8b550p-25),
        index,
        FV(0x1.9fcef4p-26, 0x1.1d8beep-25, -0x1.829fd0p-25, -0x1.accc7cp-26, 0x1.15506ep-27, -0x1.e64744p-25, 0x1.51f848p-27, -0x1.b83b54p-25,
           -0x1.a94b14p-26, -0x1.a09438p-25, -0x1.3d56b2p-27, -0x1.8837ccp-27, -0x1.822dbcp-27, -0x1.908c94p-25, 0x1.52486cp-27, -0x1.246eb0p-26))
    return (hi, lo)
}

/// exp(d) for -104 <= d <= 0, or NaN (which stays NaN), as 2^floor(k/32) times an unscaled
/// Float pair hi + lo within 2^-35 of it, for the float32 sigmoid's single rounding
/// (docs/accuracy.md). k/32 and j as in `vexpfPairByTable`; r = d - k·(ln 2)hi/32 is exact in one
/// FMA (Cody–Waite: (ln 2)hi has 21 bits; every Float d in [-104, 0] was tried), |r| <= ln2/64.
/// 2^(j/32) = tHi·(1 + ρ) with ρ a Float table (to 2^-47), and exp(d) = 2^floor(k/32)·tHi·
/// exp(r + s) to 2^-48 with s = k·(ln 2)lo/32 + ρ, about 2^-21.8 at most, which rides with the
/// polynomial as s·(1 + r). tHi·(1 + r) is hi plus its rounding error exactly (one FMA rounds
/// it, a second gives the error: tHi - hi is exact by Sterbenz), and tHi·(r²/2 + r³/6 + r⁴/24 +
/// s(1 + r)), about 2^-14 of hi, is added to that error with one rounding, far below 2^-35.
/// (`vexpfPairByTable` rounds its linear term tHi·r once, 2^-30.5, and its third-degree
/// polynomial stops at 2^-30.7.) lo is up to 2^-14 of hi: the pair is not normalised.
@_transparent
func vexpfAccurateFinish(_ reduction: ExpfReduction) -> (hi: FV, lo: FV) {
    let (t, k32, r) = (reduction.t, reduction.k, reduction.r)
    let index = unsafeBitCast(t, to: SIMD8<Int64>.self)
    let ratio = _mm512_permutex2var_ps(
        FV(0, -0x1.947414p-25, 0x1.8d96d4p-25, -0x1.dda2fcp-25, -0x1.9c0c22p-27, -0x1.a2fbb2p-25, 0x1.964904p-25, -0x1.2b0dbcp-25,
           0x1.125002p-25, -0x1.cde8cep-26, 0x1.370be4p-25, 0x1.336de2p-30, -0x1.0a3550p-25, -0x1.c541b4p-26, -0x1.00d8acp-27, -0x1.6cb284p-25),
        index,
        FV(0x1.26055cp-26, 0x1.8b2bb8p-26, -0x1.05cb44p-25, -0x1.1c2142p-26, 0x1.67a1cap-28, -0x1.348e56p-25, 0x1.a3b5e4p-28, -0x1.0b7ec8p-25,
           -0x1.f9c304p-27, -0x1.e4c886p-26, -0x1.6961b4p-28, -0x1.b5151ep-28, -0x1.a5217cp-28, -0x1.ab7132p-26, 0x1.61428ep-28, -0x1.2ad5f8p-27))
    let small = fmadd(k32, FV(repeating: 0x1.05c610p-29), ratio)
    let cubic = fmadd(fmadd(r, FV(repeating: 0x1.555556p-5), FV(repeating: 0x1.555556p-3)), r, FV(repeating: 0.5))
    let poly = fmadd(r * r, cubic, fmadd(small, r, small))
    let tHi = exp2ThirtySeconds(t).hi
    let hi = fmadd(tHi, r, tHi)
    return (hi, fmadd(tHi, poly, fmadd(tHi, r, tHi - hi)))
}

/// `vexpfAccurateFinish`'s reduction: t, k/32 and the exact r.
@_transparent
func vexpfAccurateReduction(_ d: FV) -> ExpfReduction {
    let magic = FV(repeating: 0x1.8p18)
    let t = fmadd(d, FV(repeating: 0x1.715476p+0), magic)
    let k32 = t - magic
    return ExpfReduction(t: t, k: k32, r: fmadd(k32, FV(repeating: -0x1.62e430p-1), d))
}
#endif

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// exp(d) as an unevaluated Float pair hi + lo from `vexpfByTable`'s AVX2 table of 2^(j/8 + 64)
/// (a Float pair, one `vpermps` each) for -104 <= d <= 0: r = d - k ln2/8 in two FMAs, |r| <=
/// ln2/16 (so its rounding is within 2^-30, where the polynomial `vexpf`'s r, up to ln2/2,
/// rounds by up to 2^-26.5: as the pair's source, 0.64 ulp in log-sigmoid rather than 0.57),
/// exp(r) - 1 by `expm1Eighths` (2^-32.3), 2^(j/8)'s pair times 1 + that as a normalised pair
/// (Fast2Sum), then scaled: hi by 2^floor(k/8) in the exponent field and 2^-64, which rounds
/// once where it is subnormal (as in `vexpfByTable`); lo, which may be 0, by two
/// multiplications. To about 2^-28.5 relative. NaN gives NaN in both parts (t is NaN, and its
/// bits shifted right by three and left by 23 are 0).
/// With `e`, exp(d + e) for |e| <= ulp(d)/2, e added to r with k ln2/8's low part (one more
/// rounding, 2^-30), as in `vexpfByTable`.
@inline(__always)
func vexpfPairByTable(_ d: FV, _ e: FV? = nil) -> (hi: FV, lo: FV) {
    vexpfPairFinish(vexpfPairReduction(d, e))
}

/// `vexpfPairByTable`'s first steps: t (k and j in its bits), k/8 and r.
@_transparent
func vexpfPairReduction(_ d: FV, _ e: FV? = nil) -> ExpfReduction {
    let magic = FV(repeating: 0x1.8p23)
    let t = fmadd(d, FV(repeating: 0x1.715476p+3), magic)
    let k8 = fmadd(t, FV(repeating: 0.125), FV(repeating: -0x1.8p20))
    let rHi = fmadd(k8, FV(repeating: -0x1.62e430p-1), d)
    let r = e.map { rHi + fmadd(k8, FV(repeating: 0x1.05c610p-29), $0) } ?? fmadd(k8, FV(repeating: 0x1.05c610p-29), rHi)
    return ExpfReduction(t: t, k: k8, r: r)
}

/// `vexpfPairByTable`'s other steps, from its reduction.
@_transparent
func vexpfPairFinish(_ reduction: ExpfReduction) -> (hi: FV, lo: FV) {
    let (t, r) = (reduction.t, reduction.r)
    let (tHi, tLo) = exp2EighthsScaled(t)
    let lo = fmadd(tHi, expm1Eighths(r), tLo)
    let p = tHi + lo
    let pl = (tHi - p) + lo
    // t's bits shifted right by three hold floor(k/8) in their low bits (see `vexpfByTable`).
    let exponent = (unsafeBitCast(t, to: FBits.self) &>> 3) &<< 23
    let hi = unsafeBitCast(unsafeBitCast(p, to: FBits.self) &+ exponent, to: FV.self) * FV(repeating: 0x1p-64)
    // pl·2^-100 is exact and normal, and 2^(floor(k/8) + 36) a normal Float: no subnormal
    // operand (each one a microcode assist), one rounding.
    let scale = unsafeBitCast(exponent &+ FBits(repeating: (127 + 36) << 23), to: FV.self)
    return (hi, pl * FV(repeating: 0x1p-100) * scale)
}
#endif

/// -|v| raised to -104, the argument of the sigmoids' exp; NaN stays NaN.
@_transparent
func sigmoidExpArgument(_ v: FV) -> FV {
    let d = unsafeBitCast(unsafeBitCast(v, to: FBits.self) | FBits(repeating: 0x8000_0000), to: FV.self)
    // maxps returns its second operand where either is NaN: d's NaN goes on.
    return maxKeeping(FV(repeating: -104), d)
}

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// sigmoid of a Float vector in Float arithmetic on AVX2: `pairQuotient`'s idea with the pair
/// from `vexpfPairByTable`, a quotient that the remainder corrects, and the remainder from
/// nh - q rather than a split 1 + e, 0.57 ulp at worst. Below -104, e = exp(-104) rounds to +0,
/// as every sigmoid there does. NaN lanes give NaN: the NaN itself, quieted and negated, carried
/// through every step.
/// (`SigmoidFloatLanes` runs it in stages: `vexpfPairByTable` of `sigmoidExpArgument`, then this,
/// from e = exp(-|v|) as the pair eh + el.)
@_transparent
func sigmoidFromExp(_ v: FV, _ eh: FV, _ el: FV) -> FV {
    let one = FV(repeating: 1), zero = FV(repeating: 0)
    let sh = one + eh
    // The numerator chosen by v's sign bit itself (vblendvps reads only that bit; -0 has
    // exp(-0) = 1 either way), with no comparison.
    let nh = _mm256_blendv_ps(one, eh, v)
    // q rounded once by the divider, whose latency (11 cycles on Zen 4) is shorter than the
    // estimate's Newton step and product it replaces, off the FMA units, three operations
    // fewer; vrcpps' estimate (2^-12) is enough for the correction, itself below 2^-22 of q.
    // (A division for 1/sh, then a product, had been slower than the Newton step.)
    let q = nh / sh
    let inv = _mm256_rcp_ps(sh)
    // The remainder nh + nl - q (1 + eh + el) without splitting 1 + eh: nh - q is exact
    // (Sterbenz: q is in [nh/2, 2 nh]) and the rest is about 2^-24 of nh, so each step after it
    // rounds far below q's ulp; then the numerator's low part, el where v < 0 (else 0).
    let partial = fnmadd(q, eh, nh - q)
    let corr = fnmadd(q, el, partial + _mm256_blendv_ps(zero, el, v))
    return fmadd(corr, inv, q)
}
#endif

enum LogSigmoidFloatLanes: FloatLaneStages {
    #if arch(x86_64) && SSM_AVX512F
    // -min(|v|, 104) by one `vrangeps`, where setting the sign bit and a maximum took two: a
    // quiet NaN gives -104 there, and the last step's fix-up gives NaN lanes their NaN.
    @_transparent static func reduce(_ v: FV) -> ExpfReduction {
        vexpfPairReduction(ssm_support_minus_min_abs_ps(v, FV(repeating: 104)))
    }
    #else
    @_transparent static func reduce(_ v: FV) -> ExpfReduction { vexpfPairReduction(sigmoidExpArgument(v)) }
    #endif
    @_transparent static func exp(_ reduction: ExpfReduction) -> (hi: FV, lo: FV) { vexpfPairFinish(reduction) }
    @_transparent static func finish(_ v: FV, _ e: (hi: FV, lo: FV)) -> FV { logSigmoidFromExp(v, e.hi, e.lo) }
}

/// log(sigmoid) of a Float vector in Float arithmetic: min(v, 0) + log(c) - log1p(r) with
/// e = exp(-|v|) as an unevaluated pair (`vexpfPairByTable`: 2^-29 on AVX-512, 2^-28.5 on AVX2),
/// j = round(J e) (the 1.5·2^23 trick, whose low bits index two tables: `logSigmoidTables`),
/// c ≈ 1/(1 + j/J) a Float chosen among its neighbours so that log(c) is a Float to 2^-34 (no
/// low part), and r = (e + el) c - 1 = rh + rl: e·c rounded and its exact error (FMA), and
/// e·c + (c - 1) exact (Sterbenz: e is within 1/(2J) of j/J, and each c keeps e·c within a
/// factor 2 of 1 - c over its interval, which for j = 1 needs c >= J/(J + 1); for j = 0, c = 1
/// and rh is e itself). |r| <= 1/(2J), where log1p(r) = r + r²g(r) (`log1pTailRatio`).
/// min(v, 0) + log(c), two non-positive terms, is exact as a pair (Fast2Sum of the larger
/// magnitude and the smaller), and so is its sum with -rh (it is at least log(1 + 1/J) where
/// j > 0, 0 or beyond ln(2J) where j = 0, and |rh| <= 1/(2J)): the lows are added last, one
/// rounding, about half an ulp. e = +0 from v >= 103.98 on (the argument is raised to -104),
/// where every result is -0, but beyond 745.13318 (the last Float where the reference's Double
/// exp does not underflow) the result is +0, and -inf gives -inf (the Fast2Sums' inf - inf
/// would be NaN). On AVX-512 the zeros come out -0 by themselves (a = min(v, -0), log c = -0
/// for c = 1, and the lows subtracted from h, `logSigmoidSum`) and one `vfixupimmps` by the
/// class of v - 745.13318 gives the +0s and -inf (four operations fewer than the form below:
/// float32 4096×1000 0.30 -> 0.25 ns an element, one thread, Zen 5, the same bits); on AVX2 the
/// sign bit is set on every result (all <= 0) and both ends are min(v, 0), chosen by
/// |v - 362.5| > 382.63318 (its other side, v < -20.13, gives v there anyway). NaN lanes give
/// NaN (on AVX-512 by the fix-up, its argument -104 for a quiet NaN; on AVX2 through e).
/// (`LogSigmoidFloatLanes` runs it in stages: `vexpfPairByTable` of -|v| raised to -104
/// (`sigmoidExpArgument`; on AVX-512 one `vrangeps`), then this, from e = exp(-|v|) as the pair
/// eh + pairLow.)
@_transparent
func logSigmoidFromExp(_ v: FV, _ eh: FV, _ pairLow: FV) -> FV {
    // Below 2^-110 the low part, scaled into the subnormals, is rounded to 2^-149, a sizeable
    // share of the result's ulp: a low part of just over half of that, rounded up to it, made a
    // tie of the final rounding (0.75 ulp). There e alone is within 0.52 ulp.
    #if arch(x86_64) && SSM_AVX512F
    // |v| > 76 is told from e itself: below exp(-76) rounded (0x1.4775e0p-110, a quarter of an
    // ulp above its Float, so e's 2^-29 cannot move it), as e's next value down is 2^-17 of e
    // below (a NaN v's lane, whatever e is, ends as NaN by the fix-up).
    let small = eh .< FV(repeating: 0x1.4775e0p-110)
    #else
    // From -|v|: AVX2's exp carries a NaN in its low part only (its high part takes its exponent
    // from t's bits, which a NaN's payload can make those of a finite number), so a NaN v must
    // keep that part.
    let d = unsafeBitCast(unsafeBitCast(v, to: FBits.self) | FBits(repeating: 0x8000_0000), to: FV.self)
    let small = d .< FV(repeating: -76)
    #endif
    let (c, logC) = logSigmoidTables(eh)
    // c - 1 is exact (Sterbenz: c is in [1/2, 1]).
    let cm1 = c - FV(repeating: 1)
    let p = eh * c
    let rh = p + cm1
    let product = fmsub(eh, c, p)
    #if arch(x86_64) && SSM_AVX512F
    // The low part's share added only where it is kept: one masked FMA, where a blend and an FMA
    // took two.
    let rl = product.replacing(with: fmadd(pairLow, c, product), where: .!small)
    #else
    let rl = fmadd(pairLow.replacing(with: FV(repeating: 0), where: small), c, product)
    #endif
    // log1p(r) - rh = rl + rh² g(rh) (rl's share of the square is below 2^-30 of the result).
    let r2 = rh * rh
    let tail = fmadd(r2, log1pTailRatio(rh, r2), rl)
    #if arch(x86_64) && SSM_AVX512F
    // minps returns its second operand where either is NaN or both are zeros: -0 (the fix-up
    // gives NaN lanes their NaN), so that with log c = -0 for c = 1 every term of a zero result
    // is -0.
    let a = minKeeping(v, FV(repeating: -0.0))
    let y = logSigmoidSum(big: minKeeping(a, logC), small: maxKeeping(a, logC), rh: rh, tail: tail, low: nil)
    // v > 745.13318 (w > 0, w exact by Sterbenz near 0) gives +0, v = -inf (w = -inf) -inf; one
    // `vfixupimmps` by w's class, where a blend by a comparison of |v - 362.5| took four steps.
    let w = v - FV(repeating: 0x1.74910cp+9)
    return ssm_support_fixup_ps(y, w, fixupCodes(logSigmoidFixups))
    #else
    // minps returns its second operand where either is NaN: 0 (e carries the NaN).
    let sign = FBits(repeating: 0x8000_0000)
    let a = minKeeping(v, FV(repeating: 0))
    let y = logSigmoidSum(big: minKeeping(a, logC), small: maxKeeping(a, logC), rh: rh, tail: tail, low: nil)
    let signed = unsafeBitCast(unsafeBitCast(y, to: FBits.self) | sign, to: FV.self)
    let offset = unsafeBitCast(unsafeBitCast(v - FV(repeating: 362.5), to: FBits.self) & ~sign, to: FV.self)
    return signed.replacing(with: a, where: offset .> FV(repeating: 0x1.7ea218p+8))
    #endif
}

#if arch(x86_64) && SSM_AVX512F
/// `vfixupimmps`'s codes for the float32 log-sigmoid's last step, one nibble per class of w = v -
/// 745.13318: +0 (code 8) for one, +inf and positive; -inf (code 4) for -inf; w itself (1), a
/// quiet NaN with v's payload, for the NaNs; the result as it is (0) for zero and negative.
let logSigmoidFixups: UInt32 = 0x8084_8011

/// The float64 log-sigmoid's codes, by the class of v: v itself (code 1) for the NaNs and -inf,
/// the result as it is (0) otherwise.
let doubleLogSigmoidFixups: UInt32 = 0x0001_0011

/// A `vfixupimm` table: the same eight 4-bit codes (one per class, QNaN's lowest) in every lane.
@inline(__always)
func fixupCodes(_ codes: UInt32) -> SIMD8<Int64> {
    unsafeBitCast(SIMD16<UInt32>(repeating: codes), to: SIMD8<Int64>.self)
}
#endif

#if arch(x86_64) && SSM_AVX512F
/// c and log(c) of entry j = round(31 e) for e in [0, 1], as `LogSigmoidFloatLanes` describes:
/// two-register tables of 32 Floats, one `vpermt2ps` each. (c - 1 read from a third table, not
/// computed, held two more registers: 2% slower, Zen 5.)
@inline(__always)
func logSigmoidTables(_ eh: FV) -> (c: FV, logC: FV) {
    let index = unsafeBitCast(fmadd(eh, FV(repeating: 31), FV(repeating: 0x1.8p23)), to: SIMD8<Int64>.self)
    let c = _mm512_permutex2var_ps(
        FV(0x1.000000p+0, 0x1.f0055ap-1, 0x1.e0f1cep-1, 0x1.d2d5aap-1, 0x1.c59196p-1, 0x1.b8cfb0p-1, 0x1.ad09d8p-1, 0x1.a1b172p-1,
           0x1.96eb86p-1, 0x1.8cd918p-1, 0x1.8321b2p-1, 0x1.79e7a8p-1, 0x1.71095cp-1, 0x1.68ca82p-1, 0x1.60bde6p-1, 0x1.58fe20p-1),
        index,
        FV(0x1.51ab7ap-1, 0x1.4ab10cp-1, 0x1.43e584p-1, 0x1.3d6992p-1, 0x1.3749eep-1, 0x1.3136bep-1, 0x1.2b85eep-1, 0x1.25d716p-1,
           0x1.2090e2p-1, 0x1.1b59c4p-1, 0x1.1672d6p-1, 0x1.11b5c4p-1, 0x1.0d1364p-1, 0x1.0873e8p-1, 0x1.041b98p-1, 0x1.00040cp-1))
    let logC = _mm512_permutex2var_ps(
        FV(-0.0, -0x1.03bd76p-5, -0x1.004c2cp-4, -0x1.7a4386p-4, -0x1.f0583ap-4, -0x1.3299fep-3, -0x1.6a0aa0p-3, -0x1.a0ed46p-3,
           -0x1.d67124p-3, -0x1.04e2c0p-2, -0x1.1e44f2p-2, -0x1.36f86cp-2, -0x1.4f4986p-2, -0x1.666d20p-2, -0x1.7d87cap-2, -0x1.9446d4p-2),
        index,
        FV(-0x1.aa3f06p-2, -0x1.bfa138p-2, -0x1.d4e3dcp-2, -0x1.e99906p-2, -0x1.fd8bcap-2, -0x1.08dd1ep-1, -0x1.128002p-1, -0x1.1c4ecap-1,
           -0x1.2594d0p-1, -0x1.2eeb5ep-1, -0x1.37dacep-1, -0x1.40a48cp-1, -0x1.4962c6p-1, -0x1.52424ap-1, -0x1.5abdb2p-1, -0x1.62dc18p-1))
    return (c, logC)
}

/// g(r) = (log1p(r) - r) / r² for |r| <= 1/62: a degree-3 minimax (2^-33.9 relative).
@inline(__always)
func log1pTailRatio(_ rh: FV, _ r2: FV) -> FV {
    fmadd(r2, fmadd(rh, FV(repeating: 0x1.99b83ap-3), FV(repeating: -0x1.000e38p-2)),
          fmadd(rh, FV(repeating: 0x1.555554p-2), FV(repeating: -0.5)))
}
#else
/// c and log(c) of entry j = round(7 e) for e in [0, 1], as `LogSigmoidFloatLanes` describes:
/// tables of eight Floats, one `vpermps` each. (Thirty-two entries, as on AVX-512,
/// would take four `vpermps` and three blends per table; eight cost two more FMAs in g.)
@inline(__always)
func logSigmoidTables(_ eh: FV) -> (c: FV, logC: FV) {
    let index = unsafeBitCast(fmadd(eh, FV(repeating: 7), FV(repeating: 0x1.8p23)), to: SIMD4<Int64>.self)
    let c = _mm256_permutevar8x32_ps(FV(
        0x1.000000p+0, 0x1.c01198p-1, 0x1.8e40fap-1, 0x1.6657e6p-1, 0x1.45cd3ap-1, 0x1.2ab494p-1, 0x1.13ab4ap-1, 0x1.000408p-1), index)
    let logC = _mm256_permutevar8x32_ps(FV(
        0, -0x1.11287cp-3, -0x1.0143c6p-2, -0x1.6d65a2p-2, -0x1.cee27ap-2, -0x1.13e65cp-1, -0x1.3cfdbep-1, -0x1.62dc20p-1), index)
    return (c, logC)
}

/// g(r) = (log1p(r) - r) / r² for -1/16 <= r <= 1/14: a degree-5 minimax (2^-28.7 relative),
/// by Estrin's scheme. (The rounding of r² and g, with r up to 1/14, costs up to 0.07 ulp of the
/// result; an exact r²/2 in their place cut that to 0.05 for 12% more time.)
@inline(__always)
func log1pTailRatio(_ rh: FV, _ r2: FV) -> FV {
    @inline(__always) func k(_ x: Float) -> FV { FV(repeating: x) }
    let p01 = fmadd(rh, k(0x1.555554p-2), k(-0.5))
    let p23 = fmadd(rh, k(0x1.99a090p-3), k(-0x1.ffff52p-3))
    let p45 = fmadd(rh, k(0x1.1f4e42p-3), k(-0x1.56f912p-3))
    return fmadd(fmadd(p45, r2, p23), r2, p01)
}
#endif
#endif
