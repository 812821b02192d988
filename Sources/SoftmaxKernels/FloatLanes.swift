import SoftmaxCore
import CSoftmaxSupport
#if arch(x86_64) && (SSM_AVX512F || SSM_AVX2)
import _Builtin_intrinsics.intel
#endif

// Float rows in Float arithmetic, one register of Floats a step: sixteen lanes on AVX-512,
// eight on AVX2 (sixteen there, as two registers, left the exp pass's constants and sums
// without registers, spilled to the stack every step). Twice the lanes of the Double path and
// about a third of its instructions per element, for the same accuracy. The Double path is
// exact for Float input because every step is wider than needed; here each rounding that would
// matter is made exact instead (an exact x - max, an exact Cody–Waite step, 1 + r split off,
// lane sums that keep every addition's error), so exp(x - max) is within half an ulp plus
// 2^-27.9 when it is stored, and each row chunk's sum is within about 2^-28 of its terms'
// before it is widened. Needs FMA: without it the reduction is not exact, and the baseline tier
// keeps the Double path.

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
typealias FV = SIMD8<Float>
typealias FMask = SIMDMask<SIMD8<Int32>>
typealias FBits = SIMD8<UInt32>
#else
typealias FV = SIMD16<Float>
typealias FMask = SIMDMask<SIMD16<Int32>>
typealias FBits = SIMD16<UInt32>
#endif
let floatLanes = FV.scalarCount

/// The lanes of a Float vector widened into eight Double lanes, added pairwise where there are
/// sixteen.
@inline(__always)
func widenSum(_ v: FV) -> DV {
    if floatLanes == 8 { return widen(unsafeBitCast(v, to: SIMD8<Float>.self)) }
    let q = halves(unsafeBitCast(v, to: SIMD16<Float>.self))
    return widen(q.0) + widen(q.1)
}

/// rmax of a contiguous unmasked Float piece, compared as Floats: the same result as the
/// Double walk (the maximum of Floats is one of them), without widening every element. The
/// piece's smallest entry comes with it (NaN ignored), which tells the exp pass how exact
/// `x - max` can be had cheaply (`ShiftForm`).
///
/// Without `findNaN` the NaN flag is left false, for callers that find NaN from the row's sum
/// instead (two operations fewer per vector; `FloatRows.swift`).
@inline(__always)
func rmaxFloat(_ x: UnsafePointer<Float>, _ n: Int, findNaN: Bool = true) -> (stats: RowChunkStats, min: Float) {
    let minusInf = FV(repeating: -.infinity), plusInf = FV(repeating: .infinity)
    var m0 = minusInf, m1 = minusInf, l0 = plusInf, l1 = plusInf
    var nan = FMask(repeating: false)
    @inline(__always) func step(_ m: inout FV, _ l: inout FV, _ v: FV) {
        m = maxKeeping(v, m)
        l = minKeeping(v, l)
        if findNaN { nan .|= v .!= v }
    }
    @inline(__always) func at(_ i: Int) -> FV { UnsafeRawPointer(x + i).loadUnaligned(as: FV.self) }
    var i = 0
    while i + 2 * floatLanes <= n {
        step(&m0, &l0, at(i)); step(&m1, &l1, at(i + floatLanes))
        i += 2 * floatLanes
    }
    while i + floatLanes <= n {
        step(&m0, &l0, at(i))
        i += floatLanes
    }
    if i < n {
        // The last vector overlaps the previous one where it can: a maximum may see an element
        // twice, and a full load is cheaper than a partial one.
        step(&m1, &l1, n >= floatLanes ? at(n - floatLanes) : loadFloats(x + i, count: n - i, pad: x[i]))
    }
    let top = Double(hmaxKeeping(maxKeeping(m0, m1)))
    var infs = 0.0
    if top == .infinity {
        for k in 0..<n where x[k] == .infinity { infs += 1 }
    }
    return (RowChunkStats(max: top, nan: anyLane(nan), infCount: infs), hminKeeping(minKeeping(l0, l1)))
}

@inline(__always)
func anyLane(_ m: FMask) -> Bool {
    var a: SIMD8<Int32>
    if floatLanes == 8 {
        a = unsafeBitCast(m, to: SIMD8<Int32>.self)
    } else {
        let lanes = unsafeBitCast(m, to: (SIMD8<Int32>, SIMD8<Int32>).self)
        a = lanes.0 | lanes.1
    }
    let b = a.lowHalf | a.highHalf
    let c = b.lowHalf | b.highHalf
    return (c[0] | c[1]) != 0
}

/// The argument reduction of a table exp (`vexpfPairReduction`, and on AVX2 `vexpfReduction`):
/// what its first steps hand to the rest, so that a loop can run them a vector ahead.
struct ExpfReduction {
    var t: FV
    var k: FV
    var r: FV
}

/// exp(d + e) in Float for d = fl(x - max) <= 0 and e its rounding error, d >= -104 (below,
/// the caller passes -104 and e = 0, which gives +0).
///
/// k = round(d / ln 2) by the 1.5·2^23 trick; r = d - k·ln2f is exact in one FMA (|r| < 0.35
/// needs 24 bits from 2^-2 down, and k != 0 means ulp(d) >= 2^-25); c = e - k·ln2Lo carries
/// what is left. exp(r) = 1 + r + r^2 a(r) with a degree-4 minimax a (relative error 2^-27.9
/// over |r| <= 0.3486 with these Float coefficients), 1 + r split exactly (Fast2Sum), and
/// exp(r + c) = exp(r) + c·exp(r) with c·exp(r) taken from a first rounded exp(r). Only the
/// final addition rounds more than 2^-28. 2^k is applied by `scaleByPowerOfTwo`, so subnormal
/// results round once.
///
/// `exact`: e is 0 (d is the exact argument), which saves an operation where a table is read.
/// `normal`: every result is a normal Float (d + e >= -87), which saves one more on AVX2.
@inline(__always)
func vexpf(_ d: FV, _ e: FV, exact: Bool = false, normal: Bool = false) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return vexpfByTable(d, e, exact: exact)
    #elseif arch(x86_64) && SSM_AVX2
    return vexpfByTable(d, e, exact: exact, normal: normal)
    #else
    let (h, v, kf, t) = vexpfParts(d, e)
    return scaleByPowerOfTwo(h + v, kf, t)
    #endif
}

#if arch(x86_64) && SSM_AVX512F
/// 2^(j/16) as a Float pair hi + lo (hi rounded, lo its error to 2^-48 relative) for j the low four
/// bits of each lane of `index`: sixteen Floats are one register, which one `vpermps` reads.
@inline(__always)
func exp2Sixteenths(_ index: SIMD8<Int64>) -> (hi: FV, lo: FV) {
    let tHi = _mm512_permutexvar_ps(index, FV(
        0x1.000000p+0, 0x1.0b5586p+0, 0x1.172b84p+0, 0x1.2387a6p+0, 0x1.306fe0p+0, 0x1.3dea64p+0, 0x1.4bfdaep+0, 0x1.5ab07ep+0,
        0x1.6a09e6p+0, 0x1.7a1148p+0, 0x1.8ace54p+0, 0x1.9c4918p+0, 0x1.ae89fap+0, 0x1.c199bep+0, 0x1.d5818ep+0, 0x1.ea4afap+0))
    let tLo = _mm512_permutexvar_ps(index, FV(
        0, 0x1.9f3122p-25, -0x1.c15742p-27, 0x1.ceac48p-25, 0x1.4636e2p-25, 0x1.824684p-25, -0x1.593abcp-25, -0x1.5bd5ecp-27,
        0x1.9fcef4p-26, -0x1.829fd0p-25, 0x1.15506ep-27, 0x1.51f848p-27, -0x1.a94b14p-26, -0x1.3d56b2p-27, -0x1.822dbcp-27, 0x1.52486cp-27))
    return (tHi, tLo)
}

/// `vexpf` with a table of 2^(j/16), on AVX-512, where the sixteen Floats are one register and
/// one `vpermps` reads it: r = d - k·ln2/16 (one FMA, rounded once: within 2^-30) is at most
/// ln2/32, and c = e - k·(ln2/16)lo is added to it (rounding once more, 2^-30), so that
/// exp(r + c) - 1 is one polynomial r + r²(c2 + c3·r), a degree-3 minimax (2^-29.2 relative
/// over |r| <= ln2/32); 2^(j/16) is a Float pair from the table (j = k mod 16), their product
/// rounds once in the last addition, and `vscalefps` applies 2^floor(k/16). 2^-28.2 in all
/// before that rounding, in thirteen operations (docs/performance.md, "Float rows").
@inline(__always)
func vexpfByTable(_ d: FV, _ e: FV, exact: Bool = false) -> FV {
    // t = d/ln2 + 1.5·2^19 has an ulp of 1/16, so t - 1.5·2^19 is k/16 by one addition (the
    // same k as 16 d/ln2 + 1.5·2^23, the multiplier scaled by 16 exactly; t's low four bits are
    // j as before): both the reduction's multiplier and the operand of vscalefps, which
    // multiplies by 2^floor(k/16).
    let magic = FV(repeating: 0x1.8p19)
    let t = fmadd(d, FV(repeating: 0x1.715476p+0), magic)
    let k16 = t - magic
    let rHi = fmadd(k16, FV(repeating: -0x1.62e430p-1), d)
    // Without e, the low part of k·ln2/16 is added in the same FMA (one rounding, as before).
    let r = exact ? fmadd(k16, FV(repeating: 0x1.05c610p-29), rHi) : rHi + fmadd(k16, FV(repeating: 0x1.05c610p-29), e)
    let q = fmadd(r * r, fmadd(r, FV(repeating: 0x1.55559ap-3), FV(repeating: 0x1.00022p-1)), r)
    // t's low four bits are k mod 16, the index vpermps reads.
    let index = unsafeBitCast(t, to: SIMD8<Int64>.self)
    let (tHi, tLo) = exp2Sixteenths(index)
    return _mm512_scalef_ps(tHi + fmadd(tHi, q, tLo), k16)
}
#endif

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// `vexpf` with a table of 2^(j/8), on AVX2, where eight Floats are one register and one
/// `vpermps` reads it: as the AVX-512 table's (r + c within 2^-28 of the reduced argument, now
/// at most ln2/16), with a degree-4 minimax for exp(r) - 1 (2^-32.3). There is no `vscalefps`:
/// the table holds 2^(j/8 + 64), 2^floor(k/8) goes into the exponent field, and a multiplication
/// by 2^-64 brings the result back, rounding once where it is subnormal (`scaleByPowerOfTwo`'s
/// way). Seventeen operations, where the polynomial `exp` with 1 + r split takes twenty.
///
/// `normal` (unshifted rows' terms, arguments in [-80, 32]): no result is subnormal, so the 2^64
/// is taken out of the exponent field instead, by a magic number 512 less (k's low bits, the
/// index, and its rounding are the same), and the multiplication goes: sixteen operations, the
/// same results.
@inline(__always)
func vexpfByTable(_ d: FV, _ e: FV, exact: Bool = false, normal: Bool = false) -> FV {
    vexpfFinish(vexpfReduction(d, e, exact: exact, normal: normal), normal: normal)
}

/// `vexpfByTable`'s first steps: t (k and j in its bits), k/8 and r + c.
@_transparent
func vexpfReduction(_ d: FV, _ e: FV, exact: Bool = false, normal: Bool = false) -> ExpfReduction {
    let magic = FV(repeating: normal ? 0x1.8p23 - 512 : 0x1.8p23)
    let t = fmadd(d, FV(repeating: 0x1.715476p+3), magic)
    // k/8 exactly in one FMA (t - magic is the integer k).
    let k8 = fmadd(t, FV(repeating: 0.125), FV(repeating: normal ? -0x1.8p20 + 64 : -0x1.8p20))
    let rHi = fmadd(k8, FV(repeating: -0x1.62e430p-1), d)
    let r = exact ? fmadd(k8, FV(repeating: 0x1.05c610p-29), rHi) : rHi + fmadd(k8, FV(repeating: 0x1.05c610p-29), e)
    return ExpfReduction(t: t, k: k8, r: r)
}

/// `vexpfByTable`'s other steps, from its reduction (`normal` as given to it).
@_transparent
func vexpfFinish(_ reduction: ExpfReduction, normal: Bool = false) -> FV {
    let (t, r) = (reduction.t, reduction.r)
    let q = expm1Eighths(r)
    let (tHi, tLo) = exp2EighthsScaled(t)
    let p = tHi + fmadd(tHi, q, tLo)
    // t's bits are those of 1.5·2^23 (a multiple of 8) plus k: shifted right by three, their low
    // bits are floor(k/8) (floor(k/8) - 64 with the smaller magic number), which the left shift
    // moves into the exponent field.
    let bits = unsafeBitCast(p, to: FBits.self) &+ ((unsafeBitCast(t, to: FBits.self) &>> 3) &<< 23)
    return normal ? unsafeBitCast(bits, to: FV.self) : unsafeBitCast(bits, to: FV.self) * FV(repeating: 0x1p-64)
}
#endif

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// exp(r) - 1 for |r| <= ln2/16: r + r²(1/2 + c3·r + c4·r²), a degree-4 minimax (2^-32.3
/// relative in exp(r)).
@inline(__always)
func expm1Eighths(_ r: FV) -> FV {
    let r2 = r * r
    return fmadd(r2, fmadd(r2, FV(repeating: 0x1.55484p-5), fmadd(r, FV(repeating: 0x1.555c76p-3), FV(repeating: 0.5))), r)
}

/// 2^(j/8 + 64) as a Float pair hi + lo, j = the low three bits of t (k mod 8 where t = 1.5·2^23
/// + k): one `vpermps` each.
@inline(__always)
func exp2EighthsScaled(_ t: FV) -> (hi: FV, lo: FV) {
    let index = unsafeBitCast(t, to: SIMD4<Int64>.self)
    let tHi = _mm256_permutevar8x32_ps(FV(
        0x1.000000p+64, 0x1.172b84p+64, 0x1.306fe0p+64, 0x1.4bfdaep+64, 0x1.6a09e6p+64, 0x1.8ace54p+64, 0x1.ae89fap+64, 0x1.d5818ep+64), index)
    let tLo = _mm256_permutevar8x32_ps(FV(
        0, -0x1.c15742p+37, 0x1.4636e2p+39, -0x1.593abcp+39, 0x1.9fcef4p+38, 0x1.15506ep+37, -0x1.a94b14p+38, -0x1.822dbcp+37), index)
    return (tHi, tLo)
}
#endif

/// `vexpf`'s portable form before its scaling, for tiers without a table read: exp(d + e) =
/// 2^k (h + v), h = 1 + r, with kf = k and t (whose low bits hold k); the unevaluated sum h + v
/// carries exp(r + c) to 2^-27.9. (The FMA tiers' pair exps read tables: `vexpfPairByTable`.)
@inline(__always)
func vexpfParts(_ d: FV, _ e: FV) -> (h: FV, v: FV, kf: FV, t: FV) {
    let magic = FV(repeating: 0x1.8p23)
    let t = fmadd(d, FV(repeating: 0x1.715476p0), magic)
    let kf = t - magic
    let r = fmadd(kf, FV(repeating: -0x1.62e430p-1), d)
    let c = fmadd(kf, FV(repeating: 0x1.05c610p-29), e)  // -(ln 2 - ln2f) = +1.9046e-9
    // Estrin's scheme: a chain of three operations instead of Horner's four.
    let r2 = r * r
    let a01 = fmadd(r, FV(repeating: 0x1.5554a0p-3), FV(repeating: 0.5))
    let a23 = fmadd(r, FV(repeating: 0x1.1232c2p-7), FV(repeating: 0x1.555690p-5))
    let a = fmadd(fmadd(r2, FV(repeating: 0x1.6b6bf4p-10), a23), r2, a01)
    let one = FV(repeating: 1)
    let h = one + r
    let hl = (one - h) + r
    let v0 = fmadd(r2, a, hl)
    let v = fmadd(c, h + v0, v0)
    return (h, v, kf, t)
}

/// How `x - max` and its rounding error are had exactly in a row whose maximum m and minimum
/// are known. TwoSum (five operations) always works; Fast2Sum (two) needs the operand of larger
/// exponent first, which the row's extremes can guarantee for every entry: where m <= 0 every
/// entry is at least as large in magnitude as m (`EntryLeads`), and where m > 0 and every entry
/// is above -2^(exponent(m)+1), none has a larger exponent than m (`MaxLeads`). `TwoSumShift`
/// also clamps x - m at -104 (below, every term is +0), which the other two leave out: they are
/// chosen only where min - m >= -103. Each is a type, so that each loop is compiled with its
/// form fixed.
protocol ShiftForm {
    /// (d, e) with d = fl(v - m) and d + e = v - m exactly, for v <= m and finite m; e is NaN
    /// where v is -inf, which only `TwoSumShift` meets. Float and Double lanes alike.
    static func shift<V: SIMD>(_ v: V, _ m: V) -> (d: V, e: V) where V.Scalar: FloatingPoint
    /// Whether the row may hold entries that exp clamps: -inf, and those below m - 103 in Float
    /// lanes, m + `unclampedExpFloor` in Double lanes (where the forms that do not clamp are
    /// chosen only for rows within that range).
    static var clamps: Bool { get }
    /// Whether e is always 0 (`NoShift`).
    static var exact: Bool { get }
}

enum MaxLeads: ShiftForm {
    static var clamps: Bool { false }
    static var exact: Bool { false }
    @inline(__always) static func shift<V: SIMD>(_ v: V, _ m: V) -> (d: V, e: V) where V.Scalar: FloatingPoint {
        let d = v - m
        return (d, v - (d + m))  // Fast2Sum(-m, v)
    }
}

enum EntryLeads: ShiftForm {
    static var clamps: Bool { false }
    static var exact: Bool { false }
    @inline(__always) static func shift<V: SIMD>(_ v: V, _ m: V) -> (d: V, e: V) where V.Scalar: FloatingPoint {
        let d = v - m
        return (d, -(m + (d - v)))  // Fast2Sum(v, -m)
    }
}

enum TwoSumShift: ShiftForm {
    static var clamps: Bool { true }
    static var exact: Bool { false }
    @inline(__always) static func shift<V: SIMD>(_ v: V, _ m: V) -> (d: V, e: V) where V.Scalar: FloatingPoint {
        let d = v - m
        let vp = d + m
        let mp = d - vp
        return (d, (v - vp) - (m + mp))
    }
}

/// TwoSum without the clamp, for Float rows that need it only for the order of their operands
/// (m > 0 and an entry below -2^(exponent(m)+1)) while min - m >= -103: three operations a vector
/// fewer than `TwoSumShift`; and for Double rows within `-unclampedExpFloor` of their maximum,
/// whose exp then needs no clamp either.
enum TwoSumInRange: ShiftForm {
    static var clamps: Bool { false }
    static var exact: Bool { false }
    @inline(__always) static func shift<V: SIMD>(_ v: V, _ m: V) -> (d: V, e: V) where V.Scalar: FloatingPoint {
        TwoSumShift.shift(v, m)
    }
}

/// No shift at all, for softmax rows whose terms exp(x) stay normal and small enough to sum
/// (`unshiftedBias`): x itself is the exact argument, four operations a vector fewer than the
/// cheapest exact x - max (its error term's, too, where the exp reads a table). m is ignored.
enum NoShift: ShiftForm {
    static var clamps: Bool { false }
    static var exact: Bool { true }
    @inline(__always) static func shift<V: SIMD>(_ v: V, _: V) -> (d: V, e: V) where V.Scalar: FloatingPoint {
        (v, V(repeating: 0))
    }
}

extension ShiftForm {
    /// exp(v - m); `padded`: lanes past a row's end hold a padding whose term must be +0 (for
    /// `NoShift`, -104: a subnormal result, which the unpadded terms never are).
    @inline(__always) static func expMinusMax(_ v: FV, _ m: FV, padded: Bool = false) -> FV {
        let (d, e) = shift(v, m)
        if !clamps { return vexpf(d, e, exact: exact, normal: exact && !padded) }
        let floor = FV(repeating: -104), zero = FV(repeating: 0)
        // Clamped where below, so that a NaN entry stays NaN (and its row's sum NaN).
        let clamp = d .< floor
        return vexpf(d.replacing(with: floor, where: clamp), e.replacing(with: zero, where: clamp))
    }
}

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
extension ShiftForm {
    /// `expMinusMax` (unpadded) in two stages, for a loop that runs one vector's reduction while
    /// it finishes the one before (`raddstoreexpminusmaxFloat`).
    @_transparent static func expReduction(_ v: FV, _ m: FV) -> ExpfReduction {
        let (d, e) = shift(v, m)
        if !clamps { return vexpfReduction(d, e, exact: exact, normal: exact) }
        let floor = FV(repeating: -104), zero = FV(repeating: 0)
        let clamp = d .< floor
        return vexpfReduction(d.replacing(with: floor, where: clamp), e.replacing(with: zero, where: clamp))
    }

    @_transparent static func expFinish(_ reduction: ExpfReduction) -> FV {
        vexpfFinish(reduction, normal: !clamps && exact)
    }
}
#endif

/// Which `ShiftForm` is the cheapest exact one for a row with maximum m and minimum `min` (-inf
/// where it is not known).
enum ShiftFormChoice {
    case maxLeads, entryLeads, twoSum

    /// For Float rows, whose exp clamps below -104: a Fast2Sum form only where min - m >= -103.
    @inline(__always) init(max m: Float, min: Float) {
        self.init(leader: m, min: min, spread: -103)
    }

    /// For a Double row (or slice) at temperature 1 whose entries lie within `-unclampedExpFloor`
    /// (700) of its maximum m, where exp needs no clamp; nil for other rows, which take
    /// `TwoSumShift`. Otherwise the cheapest exact form on AVX2, and `.twoSum` (`TwoSumInRange`)
    /// on AVX-512, whose table exp is shorter: there the Fast2Sum forms made log results 4-5%
    /// slower (16384x128).
    @inline(__always) static func unclampedDouble(max m: Double, min: Double) -> ShiftFormChoice? {
        guard min - m >= unclampedExpFloor else { return nil }  // also false for -inf and NaN
        #if arch(x86_64) && SSM_AVX512F
        return .twoSum
        #else
        return ShiftFormChoice(leader: m, min: min, spread: unclampedExpFloor)
        #endif
    }

    /// The form for v - m over entries v in [min, m], m finite, where min - m may go down to
    /// `spread` (computed in Double, so that it does not overflow); -inf excluded either way.
    @inline(__always) init<S: BinaryFloatingPoint>(leader m: S, min: S, spread: Double) {
        if !(Double(min) - Double(m) >= spread) || min == -.infinity {
            self = .twoSum
        } else if m <= 0 {
            self = .entryLeads
        } else {
            // 2^(exponent(m)+1): m's exponent field plus one, the significand cleared, in Double
            // (exact for Float m; `binade` is an out-of-line call).
            let bound = Double(bitPattern: (Double(m).bitPattern & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000)
            self = -Double(min) < bound ? .maxLeads : .twoSum
        }
    }
}

/// exp(v - m) for a finite row maximum m, added to `acc` (without the terms of maximal
/// entries, which are counted apart, when `topsApart`).
@inline(__always)
func expMinusMax<F: ShiftForm>(_ v: FV, _ m: FV, _: F.Type, topsApart: Bool, _ acc: inout FloatLaneCompensatedSum) -> FV {
    let p = F.expMinusMax(v, m)
    accumulate(p, v, m, topsApart: topsApart, &acc)
    return p
}

/// The term p = exp(v - m) added to `acc` (apart, when `topsApart`, where v is the maximum).
/// Transparent: merely always-inlined, it was left a call in the exp pass's loop.
@_transparent
func accumulate(_ p: FV, _ v: FV, _ m: FV, topsApart: Bool, _ acc: inout FloatLaneCompensatedSum) {
    let zero = FV(repeating: 0)
    if topsApart {
        let top = v .== m
        acc.add(zero.replacing(with: p, where: .!top))
        acc.tops += zero.replacing(with: 1, where: top)
    } else {
        acc.add(p)
    }
}

@inline(__always)
func fmadd(_ a: FV, _ b: FV, _ c: FV) -> FV { c.addingProduct(a, b) }

/// raddstoreexpminusmax of a contiguous unmasked Float piece without special values and at
/// temperature 1: exp(x - max) stored to `y` (when given) and summed per chunk of
/// `rowChunkLength`, the chunk sums merged in order as the Double walk merges them. With
/// `topsApart`, the maximal terms (exactly 1) are counted apart from the lanes, for log1p.
/// `min` is the piece's smallest entry, or -inf where it is not known. With `unshiftedBias`
/// (softmax only), the terms are exp(x) without a shift, summed on lanes biased by it.
@inline(__always)
func raddstoreexpminusmaxFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, max: Float, min: Float, topsApart: Bool,
    unshiftedBias: Float? = nil, ahead: PrefetchAhead = PrefetchAhead()
) -> CompensatedSum {
    if topsApart && y == nil {
        // The cheaper sum of every term first (Fast2Sum on lanes biased by 1, as softmax's):
        // its total less one is log1p's argument, to about 2^-21 absolute per chunk (the
        // compensation's own Float roundings), which is enough wherever that argument is not
        // small. A small one (a confident row, where the maximal entries' log-probability is
        // about -argument) is summed again with the maximal terms apart, every other term
        // exactly compensated. Only when nothing is stored: a second pass reads x again.
        let all = raddstoreexpminusmaxFloat(x, nil, n, max: max, min: min, topsApart: false, ahead: ahead)
        // A one-chunk row's sum has no compensation: its pair is (sum, 0).
        let p = all.compensation == 0 ? (hi: all.sum, lo: 0) : all.pair
        if (p.hi - 1) + p.lo >= 0x1p-10 * Double(n / rowChunkLength + 1) { return all }
    }
    // One loop per form, per kind of sum and with or without hints, each fixed in its loop (a
    // test of the hints in every step cost rows of 128 Floats 3% on AVX2).
    @inline(__always) func run<P: Prefetching>(_: P.Type) -> CompensatedSum {
        if let bias = unshiftedBias, !topsApart {
            return raddstoreexpminusmaxFloat(x, y, n, max: 0, NoShift.self, TopsIncluded.self, bias: bias, ahead, P.self)
        }
        switch (ShiftFormChoice(max: max, min: min), topsApart) {
        case (.maxLeads, false): return raddstoreexpminusmaxFloat(x, y, n, max: max, MaxLeads.self, TopsIncluded.self, ahead, P.self)
        case (.maxLeads, true): return raddstoreexpminusmaxFloat(x, y, n, max: max, MaxLeads.self, TopsApart.self, ahead, P.self)
        case (.entryLeads, false): return raddstoreexpminusmaxFloat(x, y, n, max: max, EntryLeads.self, TopsIncluded.self, ahead, P.self)
        case (.entryLeads, true): return raddstoreexpminusmaxFloat(x, y, n, max: max, EntryLeads.self, TopsApart.self, ahead, P.self)
        case (.twoSum, false) where Double(min) - Double(max) >= -103:
            return raddstoreexpminusmaxFloat(x, y, n, max: max, TwoSumInRange.self, TopsIncluded.self, ahead, P.self)
        case (.twoSum, true) where Double(min) - Double(max) >= -103:
            return raddstoreexpminusmaxFloat(x, y, n, max: max, TwoSumInRange.self, TopsApart.self, ahead, P.self)
        case (.twoSum, false): return raddstoreexpminusmaxFloat(x, y, n, max: max, TwoSumShift.self, TopsIncluded.self, ahead, P.self)
        case (.twoSum, true): return raddstoreexpminusmaxFloat(x, y, n, max: max, TwoSumShift.self, TopsApart.self, ahead, P.self)
        }
    }
    return ahead.read == nil && ahead.write == nil ? run(NoPrefetch.self) : run(Prefetch.self)
}

/// Rows to have in the cache when the exp pass is done, fetched a line per vector while it
/// computes (the pass is bound by its arithmetic, the memory idle): the next row's x, which the
/// maximum's pass would otherwise wait for, and (log results, which store in a later pass) the
/// row of y to be written, which would otherwise be read from memory when its first store
/// misses (docs/performance.md, "Float rows").
struct PrefetchAhead {
    var read: UnsafeRawPointer? = nil
    var write: UnsafeRawPointer? = nil
    /// Lines for the vector at element i of the pass (Floats; one line per sixteen).
    @inline(__always) func fetch(_ i: Int) { fetch(i, Float.self) }
    /// Lines for the vector at element i of a pass over T (Doubles: one line per eight).
    @inline(__always) func fetch<T>(_ i: Int, _: T.Type) {
        let offset = i &* MemoryLayout<T>.stride
        if let read { ssm_support_prefetch(read + offset) }
        if let write { ssm_support_prefetch_for_write(write + offset) }
    }
}

/// Whether the exp pass issues `PrefetchAhead`'s hints, as a type (see `TopsHandling`).
protocol Prefetching { static var on: Bool { get } }
enum Prefetch: Prefetching { static var on: Bool { true } }
enum NoPrefetch: Prefetching { static var on: Bool { false } }

/// Whether the exp pass counts the maximal terms apart (log results), as a type, so that each
/// loop is compiled with it fixed.
protocol TopsHandling { static var apart: Bool { get } }
enum TopsApart: TopsHandling { static var apart: Bool { true } }
enum TopsIncluded: TopsHandling { static var apart: Bool { false } }

@inline(__always)
private func raddstoreexpminusmaxFloat<F: ShiftForm, A: TopsHandling, P: Prefetching>(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, max: Float, _ form: F.Type, _: A.Type,
    bias: Float = 1, _ ahead: PrefetchAhead, _: P.Type
) -> CompensatedSum {
    var row: CompensatedSum? = nil
    var i = 0
    repeat {
        let end = Swift.min(n, i + rowChunkLength)
        let acc = expChunkLanes(x, y, i..<end, max: max, form, A.self, bias: bias, ahead, P.self)
        let lanes = acc.total
        merge(&row, A.apart ? chunkTotal(LaneCompensatedSum(hi: lanes, lo: DV(repeating: 0)), widenSum(acc.tops), plainLanes: true)
                            : plainTotal(lanes))
        i = end
    } while i < n
    return row!
}

/// The unshifted exp pass (`unshiftedBias`) of a Float row of at most `unreducedRow` entries
/// (one chunk, and no next row to fetch): exp(x) stored to `y` (when given) and
/// summed on lanes biased by `bias`, the lanes returned in Double without the bias and not
/// reduced. `plainTotals` reduces eight rows' lanes at once, each as `plainTotal` would: a row's
/// own reduction is a chain of dependent steps that a row of 128 Floats waited on for about
/// an eighth of its time (docs/performance.md, "Float rows").
@inline(__always)
func raddstoreexpLanesFloat(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, bias: Float) -> DV {
    expChunkLanes(x, y, 0..<n, max: 0, NoShift.self, TopsIncluded.self, bias: bias, PrefetchAhead(), NoPrefetch.self).total
}

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// `expChunkLanes`' vectors from i while a whole one is left, two vectors' stages a step: this
/// vector's reduction, the previous one's exp (see `floatLanesStaged`); the terms are stored and
/// added in the same order. On AVX2 only: 3-5% less time there (float32 softmax 4096x1000 0.50
/// -> 0.47 ns an element, one thread), 10-15% more on AVX-512, whose exp is shorter.
@inline(__always)
private func stagedExpLanes<F: ShiftForm, A: TopsHandling, P: Prefetching>(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ i: inout Int, _ end: Int, _ m: FV, _: F.Type, _: A.Type,
    _ acc: inout FloatLaneCompensatedSum, _ ahead: PrefetchAhead, _: P.Type
) {
    var a = UnsafeRawPointer(x + i).loadUnaligned(as: FV.self)
    var ra = F.expReduction(a, m)
    i += floatLanes
    while i + floatLanes <= end {
        let b = UnsafeRawPointer(x + i).loadUnaligned(as: FV.self)
        let rb = F.expReduction(b, m)
        let p = F.expFinish(ra)
        accumulate(p, a, m, topsApart: A.apart, &acc)
        if let y { UnsafeMutableRawPointer(y + i - floatLanes).storeBytes(of: p, as: FV.self) }
        if P.on { ahead.fetch(i - floatLanes) }
        (a, ra) = (b, rb)
        i += floatLanes
    }
    let p = F.expFinish(ra)
    accumulate(p, a, m, topsApart: A.apart, &acc)
    if let y { UnsafeMutableRawPointer(y + i - floatLanes).storeBytes(of: p, as: FV.self) }
    if P.on { ahead.fetch(i - floatLanes) }
}
#endif

/// exp(x - max) of one chunk of a row (`chunk`, at most `rowChunkLength` entries), stored to `y`
/// (when given) and summed on the lanes returned.
@inline(__always)
private func expChunkLanes<F: ShiftForm, A: TopsHandling, P: Prefetching>(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ chunk: Range<Int>, max: Float, _ form: F.Type, _: A.Type,
    bias: Float, _ ahead: PrefetchAhead, _: P.Type
) -> FloatLaneCompensatedSum {
    let topsApart = A.apart
    let m = FV(repeating: max)
    var i = chunk.lowerBound
    let end = chunk.upperBound
    var acc = topsApart ? FloatLaneCompensatedSum(biased: false) : FloatLaneCompensatedSum(bias: bias)
    #if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
    if i + 2 * floatLanes <= end {
        // One loop for each, so that neither tests y a step.
        if let y {
            stagedExpLanes(x, y, &i, end, m, form, A.self, &acc, ahead, P.self)
        } else {
            stagedExpLanes(x, nil, &i, end, m, form, A.self, &acc, ahead, P.self)
        }
    }
    #endif
    while i + floatLanes <= end {
        let p = expMinusMax(UnsafeRawPointer(x + i).loadUnaligned(as: FV.self), m, form, topsApart: topsApart, &acc)
        if let y { UnsafeMutableRawPointer(y + i).storeBytes(of: p, as: FV.self) }
        if P.on { ahead.fetch(i) }
        i += floatLanes
    }
    if i < end {
        // The padding (-inf) needs the clamping form; the true lanes get the same terms.
        // Unshifted, the padding is -104, whose exp is +0 (`padded`), and each term is the one
        // the same entry gets in a full vector (which `unshiftedMaxTerms` recomputes). The term
        // is computed apart from the sum, so that the sum's lanes stay in registers (passed to
        // a call with it, they went through the stack, and so did every row's total).
        let c = end - i
        let v = loadFloats(x + i, count: c, pad: F.exact ? -104 : -.infinity)
        let p = F.exact ? F.expMinusMax(v, m, padded: true) : TwoSumShift.expMinusMax(v, m)
        accumulate(p, v, m, topsApart: topsApart, &acc)
        if let y { storeFloats(p, y + i, count: c) }
    }
    return acc
}

/// vscale of a contiguous Float piece: y = y * scale, rounded once from y·(hi + lo), where the
/// Float pair hi + lo carries the Double scale to 48 bits: y·lo is far below half an ulp of the
/// result, so its own rounding (2^-48 relative) is all the product loses before the one FMA
/// that adds y·hi rounds. The same results as the Double path except where y·scale lies within
/// 2^-40 ulp of a rounding boundary, in two operations per vector.
@inline(__always)
func vscaleFloat(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Double) {
    let hi = Float(scale)
    vscaleFloatPiece(UnsafePointer(y), y, n, hi: hi, lo: Float(scale - Double(hi)))
}

/// y = x·(hi + lo), rounded once from fma(x, hi, x·lo); each vector is loaded before it is
/// stored, so `y` may be `x`. The loop of both `vscaleFloat`s, inlined into each.
@inline(__always)
func vscaleFloatPiece(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, hi hiScalar: Float, lo loScalar: Float) {
    let hi = FV(repeating: hiScalar), lo = FV(repeating: loScalar)
    @inline(__always) func scaled(_ e: FV) -> FV { fmadd(e, hi, e * lo) }
    var i = 0
    while i + floatLanes <= n {
        let e = UnsafeRawPointer(x + i).loadUnaligned(as: FV.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: scaled(e), as: FV.self)
        i += floatLanes
    }
    if i < n { storeFloats(scaled(loadFloats(x + i, count: n - i, pad: 0)), y + i, count: n - i) }
}

/// (v - m) - (lh + ll) for v <= m and lh >= 0: v - m carried exactly as the pair (d, e) of the
/// row's `ShiftForm`, d - lh rounded (both terms <= 0, so nothing cancels and the rounding is
/// half an ulp of a number at least as large as the result's magnitude), then the small rest
/// e - ll added, rounding once more: about one ulp in all (1.01 measured, docs/accuracy.md),
/// where a TwoSum of d - lh would keep it to half an ulp for five operations more. -inf where
/// the difference is -inf, where the pair's error would be NaN.
@inline(__always)
func logProbability<F: ShiftForm>(_ v: FV, max m: FV, lh: FV, ll: FV, _: F.Type) -> FV {
    let (d, e) = F.shift(v, m)
    let s = d - lh
    let r = s + (e - ll)
    if !F.clamps { return r }
    return r.replacing(with: FV(repeating: -.infinity), where: s .== FV(repeating: -.infinity))
}

/// max + log(sum) of eight Float rows as Float pairs ch + cl, for `vlogfinalizeFloat`, from each
/// row's maximum and log(sum) = lh + ll (Floats): max + lh exactly as a Double pair (TwoSum: max
/// may be far larger than lh), then ll; ch is that rounded to Float (to Double precision, so cl
/// is within half an ulp of itself), cl the rest (s - ch is exact: ch is s rounded, give or take
/// the small rest). Eight rows at once, where one row's steps are a chain of scalar operations.
@inline(__always)
func logShifts(max: FHalf, lh: FHalf, ll: FHalf) -> (ch: FHalf, cl: FHalf) {
    let (s, e) = vtwoSum(widen(max), widen(lh))
    let l = widen(ll)
    let ch = narrow(s + (e + l))
    return (ch, narrow(((s - widen(ch)) + e) + l))
}

/// vlogfinalize of a contiguous unmasked Float piece at temperature 1: y = x - (max + log(sum))
/// for a finite maximum, with max + log(sum) = ch + cl as a Float pair (`logShifts`), and y =
/// (x - ch) - cl: two operations a vector. x - ch is exact where x and ch are within a factor of
/// two of each other (Sterbenz), the only entries whose result can be as small as cl; elsewhere
/// |x - ch| >= |ch| / 2, so |cl| <= 2^-23 |x - ch| and y is x - ch to one part in 2^23: each
/// rounding is within half an ulp of y, one ulp where the first lands on a power of two just
/// above |y|, 1.5 ulp at worst (docs/accuracy.md). -inf entries stay -inf. The loop inlined
/// where rows are short (`softmaxRowsFloat`, rows of up to `unreducedRow`: a call per row of 128
/// cost 5% of log-softmax there); `vlogfinalizeFloat` for the others. ch and cl come as
/// arguments: where the optimiser sees how cl is derived from ch it lowers the loop to
/// part-scalar code.
@inline(__always)
func vlogfinalizeFloatPiece(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, ch: FV, cl: FV) {
    var i = 0
    while i + floatLanes <= n {
        let r = (UnsafeRawPointer(x + i).loadUnaligned(as: FV.self) - ch) - cl
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: FV.self)
        i += floatLanes
    }
    // Not an overlapping full vector: in place, it would read results already stored.
    if i < n {
        storeFloats((loadFloats(x + i, count: n - i, pad: 0) - ch) - cl, y + i, count: n - i)
    }
}

/// `vlogfinalizeFloatPiece` as a call, for long rows.
@inline(never)
func vlogfinalizeFloat(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, ch: Float, cl: Float) {
    vlogfinalizeFloatPiece(x, y, n, ch: FV(repeating: ch), cl: FV(repeating: cl))
}
