import SoftmaxCore

// Float rows in Float arithmetic, sixteen lanes a step (two AVX2 registers whose exp chains
// overlap, or one AVX-512 register): twice the lanes of the Double path and about a third of
// its instructions per element, for the same accuracy. The Double path is exact for Float input
// because every step is wider than needed; here each rounding that would matter is made exact
// instead (TwoSum of x - max, an exact Cody–Waite step, 1 + r split off, lane sums that keep
// every addition's error), so exp(x - max) is within half an ulp plus 2^-27.9 when it is
// stored, and each row chunk's sum is within about 2^-28 of its terms' before it is widened. Needs FMA: without it the reduction
// is not exact, and the baseline tier keeps the Double path.

typealias FV = SIMD16<Float>
typealias FMask = SIMDMask<SIMD16<Int32>>
typealias FBits = SIMD16<UInt32>
let floatLanes = FV.scalarCount

/// Eight Floats widened to Double (two vcvtps2pd).
@inline(__always)
func widen(_ v: SIMD8<Float>) -> DV {
    DV(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]),
       Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
}

/// The first `count` (< 16) Floats at `p`, the other lanes `pad`; by memcpy through the stack,
/// as lane-by-lane insertion spills and reloads the vector per lane.
@inline(__always)
func loadFloats(_ p: UnsafePointer<Float>, count: Int, pad: Float) -> FV {
    var v = FV(repeating: pad)
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * 4) }
    return v
}

/// Stores the first `count` (< 16) lanes of `v` at `p`.
@inline(__always)
func storeFloats(_ v: FV, _ p: UnsafeMutablePointer<Float>, count: Int) {
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
}

/// Sixteen Floats widened and added pairwise into eight Double lanes.
@inline(__always)
func widenSum(_ v: FV) -> DV {
    // A bit cast, not lowHalf/highHalf, which lower to per-lane scalar conversions.
    let q = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
    return widen(q.0) + widen(q.1)
}

/// rmax of a contiguous unmasked Float piece, compared as Floats: the same result as the
/// Double walk (the maximum of Floats is one of them), without widening every element.
@inline(__always)
func rmaxFloat(_ x: UnsafePointer<Float>, _ n: Int) -> RowChunkStats {
    let minusInf = FV(repeating: -.infinity)
    var m0 = minusInf, m1 = minusInf
    var nan = FMask(repeating: false)
    @inline(__always) func step(_ m: inout FV, _ v: FV) {
        m = m.replacing(with: v, where: v .> m)
        nan .|= v .!= v
    }
    @inline(__always) func at(_ i: Int) -> FV { UnsafeRawPointer(x + i).loadUnaligned(as: FV.self) }
    var i = 0
    while i + 2 * floatLanes <= n {
        step(&m0, at(i)); step(&m1, at(i + floatLanes))
        i += 2 * floatLanes
    }
    while i + floatLanes <= n {
        step(&m0, at(i))
        i += floatLanes
    }
    if i < n {
        // The last vector overlaps the previous one where it can: a maximum may see an element
        // twice, and a full load is cheaper than filling lanes one by one.
        var tail = minusInf
        if n >= floatLanes {
            tail = at(n - floatLanes)
        } else {
            tail = loadFloats(x + i, count: n - i, pad: -.infinity)
        }
        step(&m1, tail)
    }
    step(&m0, m1)
    let top = Double(hmaxFloat(m0))
    var infs = 0.0
    if top == .infinity {
        for k in 0..<n where x[k] == .infinity { infs += 1 }
    }
    return RowChunkStats(max: top, nan: anyLane(nan), infCount: infs)
}

/// The largest of sixteen NaN-free Floats, by halves in Float (no widening).
@inline(__always)
func hmaxFloat(_ v: FV) -> Float {
    let q = unsafeBitCast(v, to: (SIMD8<Float>, SIMD8<Float>).self)
    let a = q.0.replacing(with: q.1, where: q.1 .> q.0)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
    return Swift.max(c[0], c[1])
}

@inline(__always)
func anyLane(_ m: FMask) -> Bool {
    let lanes = unsafeBitCast(m, to: (SIMD8<Int32>, SIMD8<Int32>).self)
    let a = lanes.0 | lanes.1
    let b = a.lowHalf | a.highHalf
    let c = b.lowHalf | b.highHalf
    return (c[0] | c[1]) != 0
}

/// exp(d + e) in Float for d = fl(x - max) <= 0 and e its rounding error, d >= -104 (below,
/// the caller passes -104 and e = 0, which gives +0).
///
/// k = round(d / ln 2) by the 1.5·2^23 trick; r = d - k·ln2f is exact in one FMA (|r| < 0.35
/// needs 24 bits from 2^-2 down, and k != 0 means ulp(d) >= 2^-25); c = e - k·ln2Lo carries
/// what is left. exp(r) = 1 + r + r^2 a(r) with a degree-4 minimax a (relative error 2^-27.9
/// over |r| <= 0.3486 with these Float coefficients), 1 + r split exactly (Fast2Sum), and
/// exp(r + c) = exp(r) + c·exp(r) with c·exp(r) taken from a first rounded exp(r). Only the
/// final addition rounds more than 2^-28. 2^k goes into the exponent field as 2^(k+64) and a
/// multiplication by 2^-64 brings it back, so subnormal results round once.
@inline(__always)
func vexpf(_ d: FV, _ e: FV) -> FV {
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
    let p = h + v
    let bits = unsafeBitCast(p, to: FBits.self) &+ (unsafeBitCast(t, to: FBits.self) &<< 23)
        &+ FBits(repeating: 64 << 23)
    return unsafeBitCast(bits, to: FV.self) * FV(repeating: 0x1p-64)
}

/// exp(v - m) for a finite row maximum m, added to `acc` (without the terms of maximal
/// entries, which are counted apart, when `topsApart`).
@inline(__always)
func expMinusMax(_ v: FV, _ m: FV, topsApart: Bool, _ acc: inout FloatLaneCompensatedSum) -> FV {
    let floor = FV(repeating: -104), zero = FV(repeating: 0)
    let d = v - m
    // TwoSum's error of v + (-m): d is not exact once v and m differ in magnitude.
    let vp = d + m
    let mp = d - vp
    let keep = d .> floor
    let err = (v - vp) - (m + mp)
    let p = vexpf(floor.replacing(with: d, where: keep), zero.replacing(with: err, where: keep))
    if topsApart {
        let top = v .== m
        acc.add(zero.replacing(with: p, where: .!top))
        acc.tops += zero.replacing(with: 1, where: top)
    } else {
        acc.add(p)
    }
    return p
}

@inline(__always)
func fmadd(_ a: FV, _ b: FV, _ c: FV) -> FV { c.addingProduct(a, b) }

/// raddstoreexpminusmax of a contiguous unmasked Float piece without special values and at
/// temperature 1: exp(x - max) stored to `y` (when given) and summed per chunk of
/// `rowChunkLength`, the chunk sums merged in order as the Double walk merges them. With
/// `topsApart`, the maximal terms (exactly 1) are counted apart from the lanes, for log1p.
@inline(__always)
func raddstoreexpminusmaxFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ n: Int, max: Float, topsApart: Bool
) -> CompensatedSum {
    let m = FV(repeating: max)
    var row: CompensatedSum? = nil
    var i = 0
    // One call site, so that the exp inlines: the partial last vector takes the same path,
    // through a stack buffer filled and emptied outside the loop (a memcpy call inside the
    // loop, or the partial vector held in registers, would push the lane sums to memory).
    return withUnsafeTemporaryAllocation(of: FV.self, capacity: 1) { b in
        let tailBuffer = UnsafeMutableRawPointer(b.baseAddress!)
        repeat {
            let end = Swift.min(n, i + rowChunkLength)
            let fullEnd = i + (end - i) / floatLanes * floatLanes
            if fullEnd < end {
                tailBuffer.storeBytes(of: FV(repeating: -.infinity), as: FV.self)
                tailBuffer.copyMemory(from: x + fullEnd, byteCount: (end - fullEnd) * 4)
            }
            var acc = FloatLaneCompensatedSum(biased: !topsApart)
            while i < end {
                let full = i < fullEnd
                let src = full ? UnsafeRawPointer(x + i) : UnsafeRawPointer(tailBuffer)
                let p = expMinusMax(src.loadUnaligned(as: FV.self), m, topsApart: topsApart, &acc)
                if let y { (full ? UnsafeMutableRawPointer(y + i) : tailBuffer).storeBytes(of: p, as: FV.self) }
                i = Swift.min(i + floatLanes, end)
            }
            if fullEnd < end, let y { UnsafeMutableRawPointer(y + fullEnd).copyMemory(from: tailBuffer, byteCount: (end - fullEnd) * 4) }
            let lanes = acc.total
            merge(&row, topsApart ? chunkTotal(LaneCompensatedSum(hi: lanes, lo: DV(repeating: 0)), widenSum(acc.tops), plainLanes: true)
                                  : plainTotal(lanes))
        } while i < n
        return row!
    }
}

/// vscale of a contiguous Float piece: y = y * scale, rounded once from the exact product by a
/// Float scale split in two (hi + lo carries the Double's 48 bits): hi·y exactly as p + FMA's
/// error of p, then lo·y added to that error. The same results as the Double path except
/// where y·scale lies within 2^-40 ulp of a rounding boundary, at half its instructions.
@inline(__always)
func vscaleFloat(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Double) {
    let hiScalar = Float(scale)
    let hi = FV(repeating: hiScalar), lo = FV(repeating: Float(scale - Double(hiScalar)))
    var i = 0
    while i + floatLanes <= n {
        let e = UnsafeRawPointer(y + i).loadUnaligned(as: FV.self)
        let p = e * hi
        let pe = fmadd(e, hi, -p)
        UnsafeMutableRawPointer(y + i).storeBytes(of: p + fmadd(e, lo, pe), as: FV.self)
        i += floatLanes
    }
    while i < n {
        y[i] = Float(Double(y[i]) * scale)
        i += 1
    }
}

/// (v - m) - (lh + ll) for v <= m and lh >= 0, rounded once: v - m carried exactly as TwoSum's
/// pair (d, e), then d - lh as another (both terms <= 0, so nothing cancels). -inf where the
/// difference is -inf, where TwoSum's error would be NaN.
@inline(__always)
func logProbability(_ v: FV, max m: FV, lh: FV, ll: FV) -> FV {
    let d = v - m
    let vp = d + m
    let mp = d - vp
    let e = (v - vp) - (m + mp)
    let s = d - lh
    let dp = s + lh
    let lp = s - dp
    let t = (d - dp) - (lh + lp)
    let r = s + ((t + e) - ll)
    return r.replacing(with: FV(repeating: -.infinity), where: s .== FV(repeating: -.infinity))
}

/// vlogfinalize of a contiguous unmasked Float piece at temperature 1: y = (x - max) - log(sum)
/// for a finite maximum, with log(sum) = lh + ll as a Float pair (`logProbability`). Not inlined,
/// and lh, ll are arguments: where the optimiser sees how ll is derived from lh it lowers the
/// loop to part-scalar code.
@inline(never)
func vlogfinalizeFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, max: Float, lh lhScalar: Float, ll llScalar: Float
) {
    let m = FV(repeating: max)
    let lh = FV(repeating: lhScalar), ll = FV(repeating: llScalar)
    var i = 0
    while i + floatLanes <= n {
        let r = logProbability(UnsafeRawPointer(x + i).loadUnaligned(as: FV.self), max: m, lh: lh, ll: ll)
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: FV.self)
        i += floatLanes
    }
    // Not an overlapping full vector: in place, it would read results already stored.
    if i < n {
        let r = logProbability(loadFloats(x + i, count: n - i, pad: -.infinity), max: m, lh: lh, ll: ll)
        storeFloats(r, y + i, count: n - i)
    }
}
