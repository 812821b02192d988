import SoftmaxCore
#if arch(x86_64) && (SSM_AVX512F || SSM_AVX2)
import _Builtin_intrinsics.intel
#endif

// Vector arithmetic in Double, eight lanes at a time. Only operations that the compiler turns
// into straight SIMD code are used (docs/design.md, "Kernels"): + - * /, comparisons, replacing(with:where:),
// bit casts and shifts. No .rounded, .clamped, pointwiseMin/Max, .max() or .sum().

typealias DV = SIMD8<Double>
typealias DMask = SIMDMask<SIMD8<Int64>>

/// a * b + c, fused where the tier has FMA (a libm call per lane where it has not).
@inline(__always)
func fmadd(_ a: DV, _ b: DV, _ c: DV) -> DV {
    #if SSM_FMA
    return c.addingProduct(a, b)
    #else
    return a * b + c
    #endif
}

@inline(__always) func vmax(_ a: DV, _ b: DV) -> DV { a.replacing(with: b, where: b .> a) }

/// The largest lane (NaN-free input).
@inline(__always)
func hmax(_ v: DV) -> Double {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
    return Swift.max(b[0], b[1])
}

@inline(__always) func vmin(_ a: DV, _ b: DV) -> DV { a.replacing(with: b, where: b .< a) }

/// The smallest lane (NaN-free input).
@inline(__always)
func hmin(_ v: DV) -> Double {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .< a.lowHalf)
    return Swift.min(b[0], b[1])
}

/// Lane-wise TwoSum: (s, e) with s + e == a + b exactly.
@inline(__always)
func vtwoSum(_ a: DV, _ b: DV) -> (DV, DV) {
    let s = a + b
    let bb = s - a
    return (s, (a - (s - bb)) + (b - bb))
}

/// The range reduction shared by both exps: hi + lo = k ln 2 + rHi + rLo, |rHi| <= ln2/2 (Cody–
/// Waite, k rounded by the 1.5·2^52 trick; rHi is exact since k ln2Hi is exact and close to hi,
/// rLo tiny). Lanes below -746 (including -inf, whose lo may be NaN) are flagged in `keep`;
/// without `clamp` (every hi >= -745, so none is) `keep` is all set, which folds away.
/// Constants are literals, not globals: a global SIMD constant costs a swift_once per call.
@inline(__always)
func expReduce(_ hi: DV, _ lo: DV, clamp: Bool = true) -> (keep: DMask, t: DV, rHi: DV, rLo: DV) {
    let log2e = DV(repeating: 1.4426950408889634)
    // ln 2 split so that k * ln2Hi is exact for |k| < 2^21 (ln2Hi has 32 trailing zero bits).
    let minusLn2Hi = DV(repeating: -6.93147180369123816490e-01)
    let minusLn2Lo = DV(repeating: -1.90821492927058770002e-10)
    // Below -746 every exp rounds to +0 (half the least subnormal is e^-745.13).
    let floor = DV(repeating: -746)
    let keep = clamp ? hi .> floor : DMask(repeating: true)
    let x = floor.replacing(with: hi, where: keep)
    let t = fmadd(x, log2e, roundMagic)
    let kf = t - roundMagic
    return (keep, t, fmadd(kf, minusLn2Hi, x), fmadd(kf, minusLn2Lo, zeroUnless(keep, lo)))
}

@inline(__always) var roundMagic: DV { DV(repeating: 0x1.8p52) }

/// The least argument that `vexp(clamp: false)` accepts: exp(-700) is about 2^-1010, so down to
/// it every result is normal, with room for the reduction's 2^floor(k/4) (or 2^k) times a
/// polynomial's value below 1, and none needs the clamp or the subnormal range's care. Double
/// rows (and slices) whose entries all lie within it of their maximum take the unclamped forms
/// (`ShiftFormChoice.unclampedDouble`).
let unclampedExpFloor = -700.0

/// exp(hi + lo) for hi <= 0 (or NaN) and |lo| <= ulp(hi), to within one ulp; 0 below -746.
/// `clamp: false` promises hi >= `unclampedExpFloor` (no NaN) and leaves out the test and the
/// zeroing, with the same results there.
///
/// After the reduction, exp(r) by a polynomial (Taylor's, or a table's value times a shorter
/// one) summed so that only the last addition rounds (about 0.5 ulp), and the scaling by a power
/// of two put into the exponent field with a bias that a final multiplication removes, so
/// results in the subnormal range round only once (where no result can be subnormal, the power
/// goes into the exponent field alone: `vexpByParts`).
@inline(__always)
func vexp(_ hi: DV, _ lo: DV, clamp: Bool = true) -> DV {
    #if arch(x86_64) && SSM_AVX512F
    return vexpByTable(hi, lo, clamp: clamp)
    #else
    return vexpByParts(hi, lo, clamp: clamp)
    #endif
}

#if arch(x86_64) && SSM_AVX512F
/// `vexp` with a table of 2^(j/16), on AVX-512, where a sixteen-entry table of Doubles is two
/// registers and one `vpermi2pd` reads it: about two thirds of the Taylor form's operations
/// for the same accuracy.
///
/// k = round(16 (hi) / ln 2); r = hi - k ln2/16 is exact in one FMA (ln2/16 split so that k times
/// its high part, 38 bits, is exact for |k| < 2^15, and r is within 2^-5 of a multiple of it),
/// |r| <= ln2/32; its low part carries lo - k·(ln2/16)lo. exp(r) - 1 by its Taylor polynomial
/// to degree 7 (truncation below 2^-59 relative; pairs of coefficients, the pairs by Horner's
/// scheme in r², one multiplication fewer than Estrin's r^4), the low part folded in to first
/// order (its square is below 2^-80), then 2^(j/16) (a Double pair from the table, j = k mod 16) times
/// 1 + that, rounded once in the last addition, and 2^floor(k/16) applied by `vscalefpd`, which
/// rounds a subnormal result once more.
@inline(__always)
func vexpByTable(_ hi: DV, _ lo: DV, clamp: Bool = true) -> DV {
    let floor = DV(repeating: -746)
    let keep = clamp ? hi .> floor : DMask(repeating: true)
    let (k16, tHi, rest) = expByTableParts(floor.replacing(with: hi, where: keep), zeroUnless(keep, lo))
    let p = tHi + rest
    // vscalefpd multiplies by 2^floor(its second operand): floor(k/16).
    return zeroUnless(keep, _mm512_scalef_pd(p, k16))
}

/// `vexpByTable`'s steps before the last addition and the scaling, for x >= -750 (|k| < 2^15):
/// exp(x + lo) = 2^floor(k/16) (tHi + rest), tHi = 2^(j/16) rounded, |rest| < 2^-4 tHi; k/16
/// itself is returned, what `vscalefpd` takes (t = x/ln2 + 1.5·2^48 has an ulp of 2^-4, so
/// t - 1.5·2^48 is k/16 with no multiplication, and t's low four bits are j, as in
/// `vexpForFloatByTable`; the same k and r as 16x/ln2 + 1.5·2^52, the constants scaled by 16
/// exactly).
/// `roundedReduction` (for a zero lo) adds the low part of k·ln2/16 to r in one more FMA, which
/// rounds (2^-59 relative, below rest's own rounding) instead of carrying it to first order.
@inline(__always)
func expByTableParts(_ x: DV, _ lo: DV, roundedReduction: Bool = false) -> (k16: DV, tHi: DV, rest: DV) {
    let magic = DV(repeating: 0x1.8p48)
    let t = fmadd(x, DV(repeating: 0x1.71547652b82fep+0), magic)
    let k16 = t - magic
    let rHi = fmadd(k16, DV(repeating: -0x1.62e42fefa0000p-1), x)
    let rLo = fmadd(k16, DV(repeating: -0x1.cf79abc9e3b3ap-40), lo)
    let r = roundedReduction ? fmadd(k16, DV(repeating: -0x1.cf79abc9e3b3ap-40), rHi) : rHi
    let r2 = r * r
    let a = fmadd(r, DV(repeating: 0x1.5555555555555p-3), DV(repeating: 0.5))
    let b = fmadd(r, DV(repeating: 0x1.1111111111111p-7), DV(repeating: 0x1.5555555555555p-5))
    let c = fmadd(r, DV(repeating: 0x1.a01a01a01a01ap-13), DV(repeating: 0x1.6c16c16c16c17p-10))
    let q = fmadd(r2, fmadd(r2, fmadd(r2, c, b), a), r)
    let qq = roundedReduction ? q : fmadd(rLo, q, q + rLo)  // (1 + q)(1 + rLo) - 1
    // t's low four bits are k mod 16, the index vpermi2pd reads.
    let index = unsafeBitCast(t, to: SIMD8<Int64>.self)
    let tHi = _mm512_permutex2var_pd(
        DV(0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
           0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0),
        index,
        DV(0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
           0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0))
    let tLo = _mm512_permutex2var_pd(
        DV(0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54,
           0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55, 0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54),
        index,
        DV(-0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56,
           0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55, -0x1.e9c23179c2893p-54))
    return (k16, tHi, fmadd(tHi, qq, tLo))
}

/// `vexpPair` for -750 <= d <= 0 (or NaN) and a zero low part, from `vexpByTable`'s steps: tHi +
/// rest split by Fast2Sum, both parts scaled by `vscalefpd` (hi rounds once where it is
/// subnormal; lo is lost there, below the resolution anyway). Callers raise d to -750, where
/// both parts underflow to +0, as `vexpPair`'s do below -746 (`vmaxpd`, which makes a NaN -750,
/// or `vrangepd`). `roundedReduction` as for `expByTableParts`.
@inline(__always)
func vexpPairByTable(_ d: DV, roundedReduction: Bool = false) -> (hi: DV, lo: DV) {
    let (k16, tHi, rest) = expByTableParts(d, DV(repeating: 0), roundedReduction: roundedReduction)
    let p = tHi + rest
    return (_mm512_scalef_pd(p, k16), _mm512_scalef_pd((tHi - p) + rest, k16))
}
#endif

/// log S of sums S = sh + sl >= 1 (|sl| <= ulp(sh)) lane-wise, as an unevaluated pair to about
/// 2^-58 relative: the exp sums of slices whose maximal term is exactly 1 (`logOfSum`, entropy).
/// S = 2^k m with m in [1, 2): the scaling and m - 1 are exact, log1p(m - 1) is `vlog1pPair`'s,
/// and k ln 2 is added with ln 2 split as in `expReduce` (k·ln2Hi exact for k < 2^21) by TwoSum.
/// Lanes with S below 1, infinite or NaN give meaningless results, which callers replace.
@inline(__always)
func vlogOfSum(_ sh: DV, _ sl: DV) -> (hi: DV, lo: DV) {
    let bits = unsafeBitCast(sh, to: SIMD8<UInt64>.self)
    let e = bits &>> 52  // the biased exponent: S >= 1 is normal and positive
    let scale = unsafeBitCast((SIMD8<UInt64>(repeating: 2046) &- e) &<< 52, to: DV.self)
    let (mh, ml) = vlog1pPair(sh * scale - DV(repeating: 1), sl * scale)
    // k = e - 1023 as a Double without an integer conversion (AVX2 has none for 64 bits).
    let k = unsafeBitCast(e | SIMD8<UInt64>(repeating: 0x433 << 52), to: DV.self) - DV(repeating: 0x1p52 + 1023)
    let (h, l) = vtwoSum(k * DV(repeating: 6.93147180369123816490e-01), mh)
    return (h, l + fmadd(k, DV(repeating: 1.90821492927058770002e-10), ml))
}

/// `vexp` from `vexpParts`, on the tiers without a two-register table lookup.
@inline(__always)
func vexpByParts(_ hi: DV, _ lo: DV, clamp: Bool = true) -> DV {
    let (keep, t, h, rest) = vexpParts(hi, lo, clamp: clamp)
    let p = h + rest
    // t's low bits hold m >= -1077: shifted left by 52 they are m·2^52 (mod 2^64).
    let power = unsafeBitCast(t, to: SIMD8<UInt64>.self) &<< 52
    if !clamp {
        // hi >= unclampedExpFloor: p·2^m is normal, its exponent field p's plus m, exact: the
        // bias and the multiplication below leave the same bits, two operations a register
        // fewer (float64 exp pass, AVX2: 8% of its time).
        return unsafeBitCast(unsafeBitCast(p, to: SIMD8<UInt64>.self) &+ power, to: DV.self)
    }
    // p·2^(m+64) is a normal Double, and the multiplication by 2^-64 rounds a subnormal result
    // only once.
    let scaled = unsafeBitCast(p, to: SIMD8<UInt64>.self) &+ power &+ SIMD8<UInt64>(repeating: 64 << 52)
    return zeroUnless(keep, unsafeBitCast(scaled, to: DV.self) * DV(repeating: 0x1p-64))
}

/// `vexp` before its scaling: exp(hi + lo) = 2^m (h + rest) with h > 8|rest|, lanes below
/// -746 (and NaN) flagged in `keep`, and m in the low bits of t, for callers that need more than
/// the rounded result (`vexpPair`). The unevaluated sum h + rest carries exp to 2^-57.
@inline(__always)
func vexpParts(_ hi: DV, _ lo: DV, clamp: Bool = true) -> (keep: DMask, t: DV, h: DV, rest: DV) {
    #if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
    return vexpPartsByQuarters(hi, lo, clamp: clamp)
    #else
    return vexpPartsByTaylor(hi, lo, clamp: clamp)
    #endif
}

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// `vexpParts` with a table of 2^(j/4), on AVX2, which has no variable permute of Doubles across
/// a register's halves: four Doubles are eight Floats, and one `vpermps` reads them by pairs of
/// Float indices (2j, 2j + 1). As `vexpByTable`'s steps on AVX-512, a quarter of the reach:
/// k = round(4 x / ln 2), r = x - k ln2/4 exact in one FMA (ln2/4's high part, 38 bits, times
/// |k| < 2^15 is exact), |r| <= ln2/8, and its low part lo - k·(ln2/4)lo (below 2^-28) added to
/// it, which rounds by at most 2^-57; exp(r) - 1 = r + r² p(r), p a degree-7 near-minimax
/// polynomial (2^-63 relative in exp(r) over |r| <= ln2/8, where Taylor's degree 13 over ln2/2
/// has 2^-57.8), rounded once more; h = 2^(j/4) (j = k mod 4) and rest = h·(exp(r) - 1) plus
/// h's low part, rounded within 2^-56: about 2^-55 relative in h + rest, and m = floor(k/4).
/// Two thirds of the Taylor form's multiplications.
@inline(__always)
func vexpPartsByQuarters(_ hi: DV, _ lo: DV, clamp: Bool = true) -> (keep: DMask, t: DV, h: DV, rest: DV) {
    let floor = DV(repeating: -746)
    let keep = clamp ? hi .> floor : DMask(repeating: true)
    let x = floor.replacing(with: hi, where: keep)
    // 2^30 in the magic number keeps t's low word 2^30 + k in [0, 2^31): its bits are k's modulo
    // 4, and its high word (0x43380000) the same for every k, which the index below relies on.
    let magic = DV(repeating: 0x1.8p52 + 0x1p30)
    let t = fmadd(x, DV(repeating: 0x1.71547652b82fep+2), magic)
    let kf = t - magic
    let rHi = fmadd(kf, DV(repeating: -0x1.62e42fefa0000p-3), x)
    let r = rHi + fmadd(kf, DV(repeating: -0x1.cf79abc9e3b3ap-42), zeroUnless(keep, lo))
    let r2 = r * r, r4 = r2 * r2
    let p01 = fmadd(r, DV(repeating: 0x1.5555555555555p-3), DV(repeating: 0x1.0000000000000p-1))
    let p23 = fmadd(r, DV(repeating: 0x1.1111111111709p-7), DV(repeating: 0x1.55555555565bep-5))
    let p45 = fmadd(r, DV(repeating: 0x1.a01a016200a35p-13), DV(repeating: 0x1.6c16c116b387ap-10))
    let p67 = fmadd(r, DV(repeating: 0x1.71eb2716b10ccp-19), DV(repeating: 0x1.a02bc737db6c0p-16))
    let q = fmadd(r2, fmadd(r4, fmadd(r2, p67, p45), fmadd(r2, p23, p01)), r)
    let bits = unsafeBitCast(t, to: SIMD8<UInt64>.self)
    // vpermps reads the low three bits of each Float index: 2j in a Double's low word, 2j + 1 in
    // its high word (2(2^30 + k) + 2 · 0x43380000 + 1).
    let b = bits &<< 1
    let index = b &+ (b &<< 32) &+ SIMD8<UInt64>(repeating: 1 << 32)
    @inline(__always) func read(_ table: SIMD4<Double>, _ i: SIMD4<UInt64>) -> SIMD4<Double> {
        unsafeBitCast(_mm256_permutevar8x32_ps(unsafeBitCast(table, to: SIMD8<Float>.self),
                                               unsafeBitCast(i, to: SIMD4<Int64>.self)), to: SIMD4<Double>.self)
    }
    // 2^(j/4) as a Double pair: hi rounded, lo its error.
    let tableHi = SIMD4<Double>(0x1.0000000000000p+0, 0x1.306fe0a31b715p+0, 0x1.6a09e667f3bcdp+0, 0x1.ae89f995ad3adp+0)
    let tableLo = SIMD4<Double>(0, 0x1.6f46ad23182e4p-55, -0x1.bdd3413b26456p-54, 0x1.7a1cd345dcc81p-54)
    let h = DV(lowHalf: read(tableHi, index.lowHalf), highHalf: read(tableHi, index.highHalf))
    let hLo = DV(lowHalf: read(tableLo, index.lowHalf), highHalf: read(tableLo, index.highHalf))
    // t >> 2 holds floor(k/4) in its low bits (2^28 + floor(k/4): 2^28 leaves them at the shift by 52).
    return (keep, unsafeBitCast(bits &>> 2, to: DV.self), h, fmadd(h, q, hLo))
}
#endif

/// `vexpParts` by a Taylor polynomial: h = 1 + rHi and m = k, with `keep` and t from `expReduce`.
@inline(__always)
func vexpPartsByTaylor(_ hi: DV, _ lo: DV, clamp: Bool = true) -> (keep: DMask, t: DV, h: DV, rest: DV) {
    let (keep, t, rHi, rLo) = expReduce(hi, lo, clamp: clamp)
    // exp(r) = 1 + r + r^2 q(r), q by Horner. The leading 1 + rHi is split exactly (Fast2Sum)
    // and every small term is added to its low part.
    // Estrin's scheme: the same polynomial with a dependency chain of 4 multiply-adds
    // instead of Horner's 11, so successive vectors overlap in the FMA pipeline.
    let q = estrin(rHi, [1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
                         1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800])
    let one = DV(repeating: 1)
    let h = one + rHi
    let hLo = (one - h) + rHi
    let tail = rHi * rHi * q
    // exp(rHi + rLo) = exp(rHi) (1 + rLo + rLo^2/2): |rLo| <= 1077 ln2Lo = 2.1e-7, so the
    // square still matters at 2^-53 and the cube does not.
    let eLo = fmadd(rLo * rLo, DV(repeating: 0.5), rLo)
    let small = fmadd(eLo, h + tail, tail)
    return (keep, t, h, hLo + small)
}

/// exp(z) for z <= 0 to 2^-28.9 relative: ample for results rounded to Float (half an ulp is
/// 2^-25 relative at best), and about a third of the work of `vexp`. Lanes below -200 (and -inf
/// and NaN) give +0: such terms cannot reach a Float result, nor a log-sum whose result is normal.
///
/// One Cody–Waite step with a one-piece ln 2 (its error, |k| ulp(ln 2), stays below 2^-45),
/// a degree-6 minimax polynomial with p(0) = 1 exactly (so the maximum's term is exactly 1),
/// and 2^k added to the exponent field (k >= -289 keeps every result a normal Double).
@inline(__always)
func vexpForFloat(_ z: DV) -> DV {
    let keep = z .>= DV(repeating: -200)
    let x = zeroUnless(keep, z)
    let t = fmadd(x, DV(repeating: 1.4426950408889634), roundMagic)
    let r = fmadd(t - roundMagic, DV(repeating: -0.6931471805599453), x)
    var p = DV(repeating: 0x1.6ae71f81bfefap-10)
    p = fmadd(p, r, DV(repeating: 0x1.126792eb2338cp-7))
    p = fmadd(p, r, DV(repeating: 0x1.5558228b1154ep-5))
    p = fmadd(p, r, DV(repeating: 0x1.5554194156d2ep-3))
    p = fmadd(p, r, DV(repeating: 0x1.fffffc1c860bep-2))
    p = fmadd(p, r, DV(repeating: 0x1.0000008a3a70bp+0))
    p = fmadd(p, r, DV(repeating: 1))
    // t = 1.5·2^52 + k: shifted left by 52 its low bits are k·2^52 (mod 2^64), the exponent step.
    let scaled = unsafeBitCast(p, to: SIMD8<UInt64>.self) &+ (unsafeBitCast(t, to: SIMD8<UInt64>.self) &<< 52)
    return zeroUnless(keep, unsafeBitCast(scaled, to: DV.self))
}

/// c[0] + c[1] r + ... + c[11] r^11 (missing coefficients are 0) by Estrin's scheme: pairs,
/// then pairs of pairs with r^2, r^4 and r^8. The array is a literal and folds to constants.
@inline(__always)
func estrin(_ r: DV, _ c: [Double]) -> DV {
    @inline(__always) func k(_ i: Int) -> DV { DV(repeating: i < c.count ? c[i] : 0) }
    let r2 = r * r
    let r4 = r2 * r2
    let r8 = r4 * r4
    let p01 = fmadd(k(1), r, k(0)), p23 = fmadd(k(3), r, k(2))
    let p45 = fmadd(k(5), r, k(4)), p67 = fmadd(k(7), r, k(6))
    let p89 = fmadd(k(9), r, k(8)), pab = fmadd(k(11), r, k(10))
    let p03 = fmadd(p23, r2, p01), p47 = fmadd(p67, r2, p45), p8b = fmadd(pab, r2, p89)
    return fmadd(p8b, r8, fmadd(p47, r4, p03))
}

/// exp of the double-double (hi, lo) at the accuracy the storage type T needs (`clamp` as for
/// Doubles' `vexp`).
@inline(__always)
func vexp<T: SoftmaxScalar>(_: T.Type, _ hi: DV, _ lo: DV, clamp: Bool = true) -> DV {
    T.self == Float.self ? vexpForFloat(hi) : vexp(hi, lo, clamp: clamp)
}

/// Whether any lane is set, as bitwise ors: the standard library's `any` is an out-of-line
/// `min()` call.
@inline(__always)
func anyLane(_ m: DMask) -> Bool {
    let v = unsafeBitCast(m, to: SIMD8<Int64>.self)
    let a = v.lowHalf | v.highHalf
    let b = a.lowHalf | a.highHalf
    return (b[0] | b[1]) != 0
}

/// v where the mask is set, +0 elsewhere, as one bitwise and.
@inline(__always)
func zeroUnless(_ m: DMask, _ v: DV) -> DV {
    let bits = unsafeBitCast(m, to: SIMD8<Int64>.self) & unsafeBitCast(v, to: SIMD8<Int64>.self)
    return unsafeBitCast(bits, to: DV.self)
}

/// hi - q * t, exact when q is within about an ulp of hi / t: one FMA where the tier
/// has it, Dekker's exact product (Veltkamp splitting) where it has not.
@inline(__always)
func remainder(_ hi: DV, _ q: DV, _ t: DV) -> DV {
    #if SSM_FMA
    return fmadd(-q, t, hi)
    #else
    let split = DV(repeating: 134217729)  // 2^27 + 1
    let cq = split * q, ct = split * t
    let qh = cq - (cq - q), ql = q - qh
    let th = ct - (ct - t), tl = t - th
    let p = q * t
    let e = ((qh * th - p) + qh * tl + ql * th) + ql * tl
    // Splitting overflows above ~2^996; there the remainder is far below what exp or the
    // log-probability can resolve, so it is dropped rather than turned into NaN.
    let limit = DV(repeating: 0x1p995)
    let safe = (q .< limit) .& (q .> -limit) .& (t .< limit) .& (hi .< limit) .& (hi .> -limit)
    return zeroUnless(safe, (hi - p) - e)
    #endif
}

/// (x - m) / t as a lane-wise double-double. For Double input TwoSum makes the subtraction
/// exact and the division keeps its exact remainder; for Float input x - m is already exact in
/// Double (lo = 0), and scaling it by 1/t rounds far below Float's resolution.
@inline(__always)
func vshift<T: SoftmaxScalar>(_: T.Type, _ x: DV, _ m: DV, _ t: Double, _ invT: Double) -> (DV, DV) {
    if T.self == Float.self {
        // A Float temperature has a finite Double reciprocal, and the product's rounding
        // (2^-53) is far below what a Float result resolves.
        return ((x - m) * DV(repeating: invT), DV(repeating: 0))
    }
    var (hi, lo) = vtwoSum(x, -m)
    if t != 1 {
        let tv = DV(repeating: t)
        let q = hi / tv
        // Divided, not multiplied by 1/T: a subnormal T has an infinite reciprocal.
        lo = (remainder(hi, q, tv) + lo) / tv
        hi = q
    }
    return (hi, lo)
}

/// log1p(r) for finite r >= 0 to 2^-33 relative: ample for Float results, and eight lanes for
/// the price of about one libm call.
///
/// 1 + r = 2^k m with m in [sqrt(1/2), sqrt(2)) from the exponent bits, f = m - 1 (exact; r
/// itself when k = 0, so small r keeps its relative precision), then
/// log(m) = 2 atanh(z), z = f / (f + 2), |z| <= 0.1716, by its odd series to z^11.
@inline(__always)
func vlog1pForFloat(_ r: DV) -> DV {
    let one = DV(repeating: 1)
    let bits = unsafeBitCast(one + r, to: SIMD8<Int64>.self)
    // Subtracting sqrt(1/2)'s bits makes the exponent field k: m's bits are what is left.
    let k = (bits &- SIMD8<Int64>(repeating: 0x3FE6_A09E_667F_3BCD)) &>> 52
    let m = unsafeBitCast(bits &- (k &<< 52), to: DV.self)
    let f = (m - one).replacing(with: r, where: k .== SIMD8<Int64>(repeating: 0))
    let z = f / (f + DV(repeating: 2))
    let z2 = z * z
    var p = DV(repeating: 2.0 / 11)
    p = fmadd(p, z2, DV(repeating: 2.0 / 9))
    p = fmadd(p, z2, DV(repeating: 2.0 / 7))
    p = fmadd(p, z2, DV(repeating: 2.0 / 5))
    p = fmadd(p, z2, DV(repeating: 2.0 / 3))
    p = fmadd(p, z2, DV(repeating: 2))
    // k as a Double by the 1.5·2^52 trick (|k| < 2^51).
    let kd = unsafeBitCast(k &+ unsafeBitCast(roundMagic, to: SIMD8<Int64>.self), to: DV.self) - roundMagic
    return fmadd(kd, DV(repeating: 0.6931471805599453), z * p)
}

/// `vlog1pForFloat` of one number: a row's log(sum) for Float results, the same as a lane's.
@inline(__always)
func log1pForFloat(_ r: Double) -> Double { vlog1pForFloat(DV(repeating: r))[0] }
