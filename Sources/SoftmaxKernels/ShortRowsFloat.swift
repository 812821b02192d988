import SoftmaxCore

// Short Float rows (n <= shortRow) in Float lanes, a row per lane (docs/performance.md, "Float
// rows", its short rows). The Double path moves eight rows into a scratch block [n, 8] and walks
// its columns in Double lanes with the Double exp; here the rows of as many units as a Float
// vector has lanes for (two on AVX-512, one on AVX2) are moved into a block [n, floatLanes] and
// the Float-lane passes of `softmaxRowsFloat` run down its columns: twice the lanes, and the
// cheaper exp.
//
// Every step is lane by lane, so a row's result does not depend on the rows that share its
// vector, nor so on how the units are split between threads. A unit whose rows hold a NaN, a
// +inf, only -inf, or (log results) terms other than the maximal ones summing below 2^-90
// (`hasTinyRest`'s case) is computed again by `general`, the Double walk, whatever its neighbour.

#if SSM_FMA
/// Softmax (or log-softmax when `log`) at temperature 1 of the short rows of `units` (eight rows
/// each, the last one possibly fewer) of x [outer, n] into y, which may be x.
///
/// As `softmaxRowsFloat` computes a row, per lane: the maximum; exp(x - max) with the exact
/// shift (`TwoSumShift`, whose clamp also gives -inf entries +0) summed on compensated lanes (the
/// maximal terms counted apart for log results); the lane sums in Double; then the scale 1/sum
/// as a Float pair (softmax, `vscaleFloat`'s product), or max + log1p(rest) as a Float pair ch +
/// cl and (x - ch) - cl (`vlogfinalizeFloat`'s).
@inline(__always)
func softmaxShortRowsFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, units: Range<Int>, log: Bool,
    general: (Int) -> Void
) {
    // One copy for each, so that neither tests `log` per step.
    if log {
        softmaxShortRowsFloat(x, y, outer: outer, n: n, units: units, TopsApart.self, general: general)
    } else {
        softmaxShortRowsFloat(x, y, outer: outer, n: n, units: units, TopsIncluded.self, general: general)
    }
}

@inline(__always)
private func softmaxShortRowsFloat<A: TopsHandling>(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, units: Range<Int>, _: A.Type,
    general: (Int) -> Void
) {
    let log = A.apart
    let perBlock = floatLanes / 8  // units a block holds
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * floatLanes * shortRow) { buf in
        let xs = buf.baseAddress!, ys = xs + floatLanes * shortRow
        @inline(__always) func at(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> FV {
            UnsafeRawPointer(p + i * floatLanes).loadUnaligned(as: FV.self)
        }
        @inline(__always) func put(_ v: FV, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
            UnsafeMutableRawPointer(p + i * floatLanes).storeBytes(of: v, as: FV.self)
        }
        var u = units.lowerBound
        while u < units.upperBound {
            let blockUnits = Swift.min(perBlock, units.upperBound - u)
            let rows = Swift.min(8 * blockUnits, outer - 8 * u)
            // Lanes without a row hold 0, which nothing reads back.
            if rows < floatLanes { xs.update(repeating: 0, count: floatLanes * n) }
            var h = 0
            while 8 * h < rows {
                transpose(x + (8 * (u + h)) * n, from: n, xs + 8 * h, to: floatLanes, rows: Swift.min(8, rows - 8 * h), n: n,
                          forward: true)
                h += 1
            }
            // Pass 1: each lane's maximum, and whether it holds a NaN.
            var m = FV(repeating: -.infinity)
            var nan = FMask(repeating: false)
            for i in 0..<n {
                let v = at(xs, i)
                m = maxKeeping(v, m)
                nan .|= v .!= v
            }
            var special = laneBits(nan .| (m .== FV(repeating: .infinity)) .| (m .== FV(repeating: -.infinity)))
            // Pass 2: the terms, stored for softmax, summed.
            var acc = FloatLaneCompensatedSum(biased: !log)
            for i in 0..<n {
                let p = expMinusMax(at(xs, i), m, TwoSumShift.self, topsApart: log, &acc)
                if !log { put(p, ys, i) }
            }
            // The lane sums in Double, eight lanes at a time, and what the last pass needs.
            var hi = FV(), lo = FV()
            withUnsafeMutableBytes(of: &hi) { hb in
                withUnsafeMutableBytes(of: &lo) { lb in
                    for k in 0..<perBlock {
                        let s = widen(half(acc.s, k)), c = widen(half(acc.c, k))
                        let a: DV, b: DV
                        if log {
                            // The maximal terms are counted apart (tops >= 1), so rest = S - 1
                            // keeps the precision of the small sum of the others.
                            let (t, e) = vtwoSum(widen(half(acc.tops, k)), s + c)
                            let rest = (t - DV(repeating: 1)) + e
                            let (ls, le) = vtwoSum(widen(half(m, k)), vlog1pForFloat(rest))
                            a = ls + le
                            let ch = widen(narrow(a))
                            b = (ls - ch) + le
                            special |= laneBits(rest .< DV(repeating: 0x1p-90)) << (8 * k)
                        } else {
                            // s - 1 is exact in Double (the lanes start at 1).
                            a = DV(repeating: 1) / ((s - DV(repeating: 1)) + c)
                            b = a - widen(narrow(a))
                        }
                        hb.storeBytes(of: narrow(a), toByteOffset: 32 * k, as: FHalf.self)
                        lb.storeBytes(of: narrow(b), toByteOffset: 32 * k, as: FHalf.self)
                    }
                }
            }
            // Pass 3.
            for i in 0..<n {
                if log {
                    put((at(xs, i) - hi) - lo, ys, i)
                } else {
                    let e = at(ys, i)
                    put(fmadd(e, hi, e * lo), ys, i)
                }
            }
            // Lanes without a row are not looked at.
            let specialBits = special & ((1 << rows) - 1)
            h = 0
            while 8 * h < rows {
                let r = Swift.min(8, rows - 8 * h)
                if specialBits >> (8 * h) & 0xFF == 0 {
                    transpose(UnsafePointer(ys + 8 * h), from: floatLanes, y + (8 * (u + h)) * n, to: n, rows: r, n: n)
                } else {
                    general(u + h)
                }
                h += 1
            }
            u += blockUnits
        }
    }
}

/// Lanes 8k ..< 8k + 8 of a Float vector.
@inline(__always)
private func half(_ v: FV, _ k: Int) -> FHalf {
    withUnsafeBytes(of: v) { $0.load(fromByteOffset: 32 * k, as: FHalf.self) }
}

/// A Float mask's lanes as bits, lane l as bit l.
@inline(__always)
private func laneBits(_ m: FMask) -> Int {
    if floatLanes == 8 {
        let v = unsafeBitCast(m, to: SIMD8<Int32>.self) & SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128)
        return Int(v.wrappedSum())
    }
    let v = unsafeBitCast(m, to: SIMD16<Int32>.self)
        & SIMD16<Int32>(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
    return Int(v.wrappedSum())
}

/// A Double mask's lanes as bits.
@inline(__always)
private func laneBits(_ m: DMask) -> Int {
    let v = unsafeBitCast(m, to: SIMD8<Int64>.self) & SIMD8<Int64>(1, 2, 4, 8, 16, 32, 64, 128)
    return Int(v.wrappedSum())
}
#endif
