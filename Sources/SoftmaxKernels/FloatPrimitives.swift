#if arch(x86_64) && (SSM_AVX512F || SSM_AVX2)
import _Builtin_intrinsics.intel
#endif

// The few Float-lane operations that Swift's SIMD types lower poorly, each one instruction on
// the tiers that have it (a Float vector is one register: sixteen lanes on AVX-512, eight on
// AVX2), and the portable form elsewhere, which is also what each instruction computes
// (docs/design.md, "Kernels"). The Float-lane kernels (FloatLanes.swift) use these and the SIMD
// operators for everything else.

/// The larger of `v` and `m` per lane; where `v` is NaN, `m` (x86 `maxps` returns its second
/// operand when either is NaN): a running maximum stays NaN-free, and NaN is detected apart.
@inline(__always)
func maxKeeping(_ v: FV, _ m: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_max_ps(v, m)
    #elseif arch(x86_64) && SSM_AVX2
    return _mm256_max_ps(v, m)
    #else
    return m.replacing(with: v, where: v .> m)
    #endif
}

/// c - a b with one rounding: `vfnmadd` on AVX-512, where Swift's `-a` (a subtraction from 0,
/// which keeps the sign of zero apart) is not folded into the FMA.
@inline(__always)
func fnmadd(_ a: FV, _ b: FV, _ c: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_fnmadd_ps(a, b, c)
    #elseif arch(x86_64) && SSM_AVX2
    return _mm256_fnmadd_ps(a, b, c)
    #else
    return c.addingProduct(-a, b)
    #endif
}

/// a b - c with one rounding: `vfmsub` (Swift's `-c` is not folded into the FMA on AVX-512,
/// as in `fnmadd`).
@inline(__always)
func fmsub(_ a: FV, _ b: FV, _ c: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_fmsub_ps(a, b, c)
    #elseif arch(x86_64) && SSM_AVX2
    return _mm256_fmsub_ps(a, b, c)
    #else
    return (-c).addingProduct(a, b)
    #endif
}

/// The smaller of `v` and `m` per lane; where `v` is NaN, `m`.
@inline(__always)
func minKeeping(_ v: FV, _ m: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_min_ps(v, m)
    #elseif arch(x86_64) && SSM_AVX2
    return _mm256_min_ps(v, m)
    #else
    return m.replacing(with: v, where: v .< m)
    #endif
}

/// The low and high eight lanes of a sixteen-lane Float vector: on AVX-512 a register's lower
/// half, and its upper half moved down by one `vpermps` (`vextractf32x8` is a macro Swift does
/// not import), where a bit cast to a pair goes through the stack and its second half's load
/// waits on the whole vector's store (a row of 128 Floats spent a sixth of its exp pass there).
@inline(__always)
func halves(_ v: SIMD16<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
    #if arch(x86_64) && SSM_AVX512F
    let upper = SIMD16<Int32>(8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15)
    return (_mm512_castps512_ps256(v), _mm512_castps512_ps256(_mm512_permutexvar_ps(unsafeBitCast(upper, to: SIMD8<Int64>.self), v)))
    #else
    return (v.lowHalf, v.highHalf)
    #endif
}

/// Eight Floats widened to Double: one `vcvtps2pd` (two on AVX2), where the portable form
/// lowers to a conversion per pair of lanes through the stack.
@inline(__always)
func widen(_ v: SIMD8<Float>) -> DV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_cvtps_pd(v)
    #elseif arch(x86_64) && SSM_AVX2
    let q = unsafeBitCast(v, to: (SIMD4<Float>, SIMD4<Float>).self)
    return unsafeBitCast((_mm256_cvtps_pd(q.0), _mm256_cvtps_pd(q.1)), to: DV.self)
    #else
    return DV(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]),
              Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
    #endif
}

/// The largest of a vector's NaN-free lanes.
@inline(__always)
func hmaxKeeping(_ v: FV) -> Float {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_reduce_max_ps(v)
    #elseif arch(x86_64) && SSM_AVX2
    let h = unsafeBitCast(v, to: (SIMD4<Float>, SIMD4<Float>).self)
    let a = _mm_max_ps(h.0, h.1)
    let b = _mm_max_ps(a, _mm_movehl_ps(a, a))
    return _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)))
    #else
    var m = v[0]
    for i in 1..<floatLanes where v[i] > m { m = v[i] }
    return m
    #endif
}

/// The smallest of a vector's NaN-free lanes.
@inline(__always)
func hminKeeping(_ v: FV) -> Float {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_reduce_min_ps(v)
    #elseif arch(x86_64) && SSM_AVX2
    let h = unsafeBitCast(v, to: (SIMD4<Float>, SIMD4<Float>).self)
    let a = _mm_min_ps(h.0, h.1)
    let b = _mm_min_ps(a, _mm_movehl_ps(a, a))
    return _mm_cvtss_f32(_mm_min_ss(b, _mm_movehdup_ps(b)))
    #else
    var m = v[0]
    for i in 1..<floatLanes where v[i] < m { m = v[i] }
    return m
    #endif
}

/// Whether `scaleByPowerOfTwo` (and so `vexpf`) keeps a NaN lane NaN: `vscalefps` does; the
/// exponent-field addition turns NaN's bits into some number.
#if arch(x86_64) && SSM_AVX512F
let scaleKeepsNaN = true
#else
let scaleKeepsNaN = false
#endif

/// p · 2^k for p in [0.5, 2) and an integral k >= -151 (`kf`), rounded once where the result
/// is subnormal; `t` is 1.5·2^23 + k, whose low bits hold k. One `vscalefps` on AVX-512;
/// elsewhere 2^(k+64) goes into the exponent field (a normal Float for every such k) and a
/// multiplication by 2^-64 brings it back, rounding once.
@inline(__always)
func scaleByPowerOfTwo(_ p: FV, _ kf: FV, _ t: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_scalef_ps(p, kf)
    #else
    let bits = unsafeBitCast(p, to: FBits.self) &+ (unsafeBitCast(t, to: FBits.self) &<< 23)
        &+ FBits(repeating: 64 << 23)
    return unsafeBitCast(bits, to: FV.self) * FV(repeating: 0x1p-64)
    #endif
}

#if arch(x86_64) && SSM_AVX2 && !SSM_AVX512F
/// The AVX2 lane mask of the first `count` lanes.
@inline(__always)
private func laneMask(_ count: Int) -> SIMD4<Int64> {
    let on = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int32>(repeating: Int32(count))
    return unsafeBitCast(SIMD8<Int32>(repeating: 0).replacing(with: -1, where: on), to: SIMD4<Int64>.self)
}
#endif

/// The first `count` (< `floatLanes`) Floats at `p`, the other lanes `pad`, without touching
/// memory past them: a masked load where the tier has one, a copy through the stack elsewhere
/// (lane-by-lane insertion spills and reloads the vector per lane).
@inline(__always)
func loadFloats(_ p: UnsafePointer<Float>, count: Int, pad: Float) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_mask_loadu_ps(FV(repeating: pad), __mmask16(truncatingIfNeeded: (1 << count) - 1), p)
    #elseif arch(x86_64) && SSM_AVX2
    let m = laneMask(count)
    return _mm256_blendv_ps(FV(repeating: pad), _mm256_maskload_ps(p, m), unsafeBitCast(m, to: SIMD8<Float>.self))
    #else
    var v = FV(repeating: pad)
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * 4) }
    return v
    #endif
}

/// Stores the first `count` (< `floatLanes`) lanes of `v` at `p`, leaving the memory after them
/// alone.
@inline(__always)
func storeFloats(_ v: FV, _ p: UnsafeMutablePointer<Float>, count: Int) {
    #if arch(x86_64) && SSM_AVX512F
    _mm512_mask_storeu_ps(p, __mmask16(truncatingIfNeeded: (1 << count) - 1), v)
    #elseif arch(x86_64) && SSM_AVX2
    _mm256_maskstore_ps(p, laneMask(count), v)
    #else
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
    #endif
}
