#if arch(x86_64) && (SSM_AVX512F || SSM_AVX2)
import _Builtin_intrinsics.intel
#endif

// The few Float-lane operations that Swift's SIMD types lower poorly, each one instruction (or
// two, one per AVX2 half) on the tiers that have it, and the portable form elsewhere, which is
// also what each instruction computes (docs/design.md, "Kernels"). The Float-lane kernels
// (FloatLanes.swift) use these and the SIMD operators for everything else.

/// The larger of `v` and `m` per lane; where `v` is NaN, `m` (x86 `maxps` returns its second
/// operand when either is NaN): a running maximum stays NaN-free, and NaN is detected apart.
@inline(__always)
func maxKeeping(_ v: FV, _ m: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_max_ps(v, m)
    #elseif arch(x86_64) && SSM_AVX2
    let a = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self), b = unsafeBitCast(m, to: (SIMD8<Float>, SIMD8<Float>).self)
    return unsafeBitCast((_mm256_max_ps(a.0, b.0), _mm256_max_ps(a.1, b.1)), to: FV.self)
    #else
    return m.replacing(with: v, where: v .> m)
    #endif
}

/// The smaller of `v` and `m` per lane; where `v` is NaN, `m`.
@inline(__always)
func minKeeping(_ v: FV, _ m: FV) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_min_ps(v, m)
    #elseif arch(x86_64) && SSM_AVX2
    let a = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self), b = unsafeBitCast(m, to: (SIMD8<Float>, SIMD8<Float>).self)
    return unsafeBitCast((_mm256_min_ps(a.0, b.0), _mm256_min_ps(a.1, b.1)), to: FV.self)
    #else
    return m.replacing(with: v, where: v .< m)
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

/// The largest of sixteen NaN-free lanes, by halves.
@inline(__always)
func hmaxKeeping(_ v: FV) -> Float {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_reduce_max_ps(v)
    #else
    let q = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
    let a = halfMax(q.0, q.1)
    let b = halfMax(a.lowHalf, a.highHalf)
    let c = halfMax(b.lowHalf, b.highHalf)
    return Swift.max(c[0], c[1])
    #endif
}

/// The smallest of sixteen NaN-free lanes, by halves.
@inline(__always)
func hminKeeping(_ v: FV) -> Float {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_reduce_min_ps(v)
    #else
    let q = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
    let a = halfMin(q.0, q.1)
    let b = halfMin(a.lowHalf, a.highHalf)
    let c = halfMin(b.lowHalf, b.highHalf)
    return Swift.min(c[0], c[1])
    #endif
}

@inline(__always)
private func halfMax<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar == Float {
    #if arch(x86_64) && SSM_AVX2
    if V.self == SIMD8<Float>.self {
        return unsafeBitCast(_mm256_max_ps(unsafeBitCast(a, to: SIMD8<Float>.self), unsafeBitCast(b, to: SIMD8<Float>.self)), to: V.self)
    }
    if V.self == SIMD4<Float>.self {
        return unsafeBitCast(_mm_max_ps(unsafeBitCast(a, to: SIMD4<Float>.self), unsafeBitCast(b, to: SIMD4<Float>.self)), to: V.self)
    }
    #endif
    return a.replacing(with: b, where: b .> a)
}

@inline(__always)
private func halfMin<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar == Float {
    #if arch(x86_64) && SSM_AVX2
    if V.self == SIMD8<Float>.self {
        return unsafeBitCast(_mm256_min_ps(unsafeBitCast(a, to: SIMD8<Float>.self), unsafeBitCast(b, to: SIMD8<Float>.self)), to: V.self)
    }
    if V.self == SIMD4<Float>.self {
        return unsafeBitCast(_mm_min_ps(unsafeBitCast(a, to: SIMD4<Float>.self), unsafeBitCast(b, to: SIMD4<Float>.self)), to: V.self)
    }
    #endif
    return a.replacing(with: b, where: b .< a)
}

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
/// The AVX2 lane masks of the first `count` of sixteen lanes, one per half.
@inline(__always)
private func halfMasks(_ count: Int) -> (SIMD4<Int64>, SIMD4<Int64>) {
    let c = SIMD8<Int32>(repeating: Int32(count))
    let lo = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< c, hi = SIMD8<Int32>(8, 9, 10, 11, 12, 13, 14, 15) .< c
    let zero = SIMD8<Int32>(repeating: 0), ones = SIMD8<Int32>(repeating: -1)
    return (unsafeBitCast(zero.replacing(with: ones, where: lo), to: SIMD4<Int64>.self),
            unsafeBitCast(zero.replacing(with: ones, where: hi), to: SIMD4<Int64>.self))
}
#endif

/// The first `count` (< 16) Floats at `p`, the other lanes `pad`, without touching memory past
/// them: a masked load where the tier has one, a copy through the stack elsewhere (lane-by-lane
/// insertion spills and reloads the vector per lane).
@inline(__always)
func loadFloats(_ p: UnsafePointer<Float>, count: Int, pad: Float) -> FV {
    #if arch(x86_64) && SSM_AVX512F
    return _mm512_mask_loadu_ps(FV(repeating: pad), __mmask16(truncatingIfNeeded: (1 << count) - 1), p)
    #elseif arch(x86_64) && SSM_AVX2
    let (m0, m1) = halfMasks(count)
    let v = unsafeBitCast((_mm256_maskload_ps(p, m0), _mm256_maskload_ps(p + 8, m1)), to: FV.self)
    let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    return FV(repeating: pad).replacing(with: v, where: lanes .< SIMD16<Int32>(repeating: Int32(count)))
    #else
    var v = FV(repeating: pad)
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * 4) }
    return v
    #endif
}

/// Stores the first `count` (< 16) lanes of `v` at `p`, leaving the memory after them alone.
@inline(__always)
func storeFloats(_ v: FV, _ p: UnsafeMutablePointer<Float>, count: Int) {
    #if arch(x86_64) && SSM_AVX512F
    _mm512_mask_storeu_ps(p, __mmask16(truncatingIfNeeded: (1 << count) - 1), v)
    #elseif arch(x86_64) && SSM_AVX2
    let (m0, m1) = halfMasks(count)
    let h = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
    _mm256_maskstore_ps(p, m0, h.0)
    _mm256_maskstore_ps(p + 8, m1, h.1)
    #else
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
    #endif
}
