import SoftmaxCore

// Whole contiguous Float rows at temperature 1, straight through the Float-lane passes
// (FloatLanes.swift): the same results as the general row walk (Passes.swift), without its
// per-row set-up (docs/performance.md, "Float rows").

#if SSM_FMA
/// Softmax (or log-softmax when `log`) of the Float rows `rows` of x (n entries each) into y.
///
/// Rows go in groups of eight: the maximum and exp-sum passes row after row, then the eight
/// sums turned into scales (a vector division) or log-sums (a vector log1p) at once, then the
/// last pass row after row. A row's sum-to-scale step is a serial chain (horizontal sums, a
/// division or a logarithm) that a row of 128 classes would otherwise wait on for about as
/// long as its arithmetic takes; grouped, the chains of eight rows cost one, and the passes of
/// neighbouring rows overlap. Groups stay within the L2 cache (`groupedRow`).
/// A row with a special value, or whose log result needs its terms summed in Double
/// (`hasTinyRest`), goes to `general` in the first phase instead; on AVX-512, where the exp keeps
/// NaN, a row holding NaN is found from its sum and filled with NaN.
@inline(__always)
func softmaxRowsFloat(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, rows: Range<Int>, log: Bool,
    general: (Int) -> Void
) {
    if n >= segmentedRow {
        for u in rows {
            let done = UnsafeRawPointer(x) != UnsafeRawPointer(y)
                ? softmaxSegmentedRowFloat(x + u * n, y + u * n, n, log: log, nextRow: u + 1 < rows.upperBound ? x + (u + 1) * n : nil)
                // In place, a row handed to `general` midway would no longer be whole.
                : softmaxRowBySegmentsFloat(x + u * n, y + u * n, n, log: log) { count, body in body(0..<count) }
            if !done { general(u) }
        }
        return
    }
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 88) { scratch in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { extremes in
            let his = scratch.baseAddress!, los = his + 8, negTops = his + 16, lanes = his + 24
            let maxima = extremes.baseAddress!, minima = maxima + 8
            // `unshiftedMaxTerms` reads a whole Float vector from maxima, every lane defined.
            extremes.initialize(repeating: 0)
            lanes.initialize(repeating: 0, count: 64)  // `groupSums` reads every row's lanes
            let group = n <= groupedRow(Float.self) ? 8 : 1
            let lanesLeft = group == 8 && n <= unreducedRow
            var u = rows.lowerBound
            while u < rows.upperBound {
                let count = Swift.min(group, rows.upperBound - u)
                var done: UInt8 = 0  // rows handed to `general`
                var unshifted: UInt8 = 0  // rows summed without a shift
                var unreduced: UInt8 = 0  // rows whose lanes are in `lanes`, reduced together
                // Where the exp keeps NaN, NaN shows in the sum (every form keeps a NaN term
                // NaN), and the maximum pass does not look for it.
                @inline(__always) func rowStats(_ k: Int) {
                    let (stats, smallest) = rmaxFloat(x + (u + k) * n, n, findNaN: !scaleKeepsNaN)
                    let top = Float(stats.max)
                    his[k] = 1
                    los[k] = 0
                    negTops[k] = 0
                    maxima[k] = top
                    minima[k] = smallest
                    if stats.nan || !top.isFinite { general(u + k); done |= 1 << k }
                }
                // Short rows: the group's maximum passes first, then its exp passes, so that a
                // row's exp pass does not wait on its maximum's horizontal reduction (16384x128:
                // 5% less time). Longer rows take both passes row by row, while the row is in
                // L1 (a group of 1000-element rows read twice took 14% more).
                let maxFirst = n <= 512
                if maxFirst { for k in 0..<count { rowStats(k) } }
                for k in 0..<count where done & (1 << k) == 0 {
                    if !maxFirst {
                        rowStats(k)
                        if done & (1 << k) != 0 { continue }
                    }
                    let xr = x + (u + k) * n
                    let top = maxima[k], smallest = minima[k]
                    let bias = unshiftedBias(max: top, min: smallest, n: n)
                    let shift = log || bias != nil ? top : softmaxShift(max: top, min: smallest)
                    if lanesLeft, let bias {
                        let lane = raddstoreexpLanesFloat(xr, log ? nil : y + (u + k) * n, n, bias: bias)
                        UnsafeMutableRawPointer(lanes + 8 * k).storeBytes(of: lane, as: DV.self)
                        unreduced |= 1 << k
                        unshifted |= 1 << k
                        negTops[k] = -Double(top)
                        continue
                    }
                    // The row whose maximum is taken next (the next group's where the maxima go
                    // first), where it fits in the L2 cache beside this one; none for rows of up
                    // to 256, which the hardware's prefetcher keeps up with (16384x128 softmax
                    // took 11% longer with the hints' tests in its loop).
                    let next = u + k + (maxFirst ? count : 1)
                    let ahead = n <= 256 ? PrefetchAhead()
                                         : rowsAhead(x, log ? y : nil, n, row: u + k, next: next, end: rows.upperBound)
                    let sum = raddstoreexpminusmaxFloat(
                        xr, log ? nil : y + (u + k) * n, n, max: shift, min: smallest, topsApart: log && bias == nil,
                        unshiftedBias: bias, ahead: ahead)
                    if sum.sum.isNaN {
                        // NaN anywhere in a slice makes it all NaN (docs/design.md, "Special
                        // values"); x may already hold the terms, so the row is not redone.
                        (y + (u + k) * n).update(repeating: .nan, count: n)
                        done |= 1 << k
                        continue
                    }
                    if bias != nil {
                        unshifted |= 1 << k
                        negTops[k] = -Double(top)
                    } else if log && sum.hasTinyRest {
                        general(u + k); done |= 1 << k; continue
                    }
                    // A one-chunk row's sum has no compensation: its pair is (sum, 0).
                    let p = sum.compensation == 0 ? (hi: sum.sum, lo: 0) : sum.pair
                    his[k] = p.hi
                    los[k] = p.lo
                }
                let (hi, nanRows) = groupSums(his, lanes: lanes, unreduced)
                let lo = UnsafeRawPointer(los).loadUnaligned(as: DV.self)
                for k in 0..<count where nanRows & (1 << k) != 0 {
                    (y + (u + k) * n).update(repeating: .nan, count: n)
                    done |= 1 << k
                    unshifted &= ~(1 << k)
                    negTops[k] = 0
                }
                // As the row walk computes them (Passes.swift, `vdivide` and `logOfSum`), lane by lane:
                // the scale 1 / (hi + lo), or log1p of the sum without its maximal terms (hi >= 1,
                // so hi - 1 is exact).
                let r: DV
                if log {
                    var rest = restOfSums(hi, lo, tops: maxima, negTops: negTops, unshifted).rest
                    if unshifted != 0 {
                        UnsafeMutableRawPointer(his).storeBytes(of: rest, as: DV.self)
                        for k in 0..<count where unshifted & (1 << k) != 0 && his[k] < unshiftedRestFloor(n) {
                            let sum = raddstoreexpminusmaxFloat(x + (u + k) * n, nil, n, max: maxima[k], min: minima[k], topsApart: true)
                            if sum.hasTinyRest { general(u + k); done |= 1 << k; his[k] = 0; continue }
                            let p = sum.compensation == 0 ? (hi: sum.sum, lo: 0) : sum.pair
                            his[k] = (p.hi - 1) + p.lo
                        }
                        rest = UnsafeRawPointer(his).loadUnaligned(as: DV.self)
                    }
                    r = vlog1pForFloat(rest)
                } else if unshifted != 0 {
                    // An unshifted row's terms are e^x: its scale is e^-max / (1 + rest), the
                    // maximal entry's own term (rounded) taken out of the sum as for log rows, so
                    // that the sum is as exact as a shifted one's (docs/performance.md, "Float
                    // rows"). 1 + rest is hi + lo for the others.
                    let (rest, factor) = restOfSums(hi, lo, tops: maxima, negTops: negTops, unshifted)
                    r = factor / (DV(repeating: 1) + rest)
                } else {
                    r = DV(repeating: 1) / (hi + lo)
                }
                // Log rows subtract max + log(sum) as a Float pair, formed for the eight at once.
                var shifts: (ch: FHalf, cl: FHalf)? = nil
                if log {
                    let lh = narrow(r)
                    shifts = logShifts(max: UnsafeRawPointer(maxima).loadUnaligned(as: FHalf.self), lh: lh, ll: narrow(r - widen(lh)))
                }
                for k in 0..<count where done & (1 << k) == 0 {
                    let xr = x + (u + k) * n, yr = y + (u + k) * n
                    if let shifts {
                        if n <= unreducedRow {
                            vlogfinalizeFloatPiece(xr, yr, n, ch: FV(repeating: shifts.ch[k]), cl: FV(repeating: shifts.cl[k]))
                        } else {
                            vlogfinalizeFloat(xr, yr, n, ch: shifts.ch[k], cl: shifts.cl[k])
                        }
                    } else {
                        vscaleFloat(yr, n, r[k])
                    }
                }
                u += count
            }
        }
    }
}

/// What softmax subtracts from a Float row with maximum m and minimum `min` before its exp:
/// m, or, where only TwoSum would give x - m exactly (m > 0 and an entry below
/// -2^(exponent(m)+1)), the power of two 2^exponent(-min) > m, whose Fast2Sum with every entry
/// is exact (`MaxLeads`): softmax does not change with the shift, and its terms stay normal
/// Floats (min - shift >= -86), each as exact as before. Three operations a vector fewer.
@inline(__always)
func softmaxShift(max m: Float, min: Float) -> Float {
    // Only rows whose spread allows a Fast2Sum form but whose extremes' exponents do not.
    guard m > 0, min < 0, Double(min) - Double(m) >= -86, case .twoSum = ShiftFormChoice(max: m, min: min) else { return m }
    let p = Float(bitPattern: (-min).bitPattern & 0x7F80_0000)
    return p >= m && Double(min) - Double(p) >= -86 ? p : m
}

/// The lanes' bias for a log row (log-softmax, logsumexp) summed without a shift (`NoShift`),
/// or nil where the row needs its shift: exp(x) itself is exact to the same 2^-28 as
/// exp(x - max) wherever every term is a normal Float (min >= -80) and the sum stays far from
/// overflow (max <= 32). The bias is the power of two just above e^max (1.001 in the exponent
/// to spare for the rounded exp), so that every addition is a Fast2Sum and the largest term is
/// about half of it at least, as the shifted sum's 1 is.
///
/// Such a row's log(sum) is max + log1p(rest), rest = (sum - t)·e^-max with t the maximal
/// entry's own term (`unshiftedMaxTerms`) and e^-max a full-precision Double exp of eight rows'
/// maxima at once (max >= 0, its domain), so that log1p's argument keeps the shifted sum's
/// precision wherever it is at least `unshiftedRestFloor`; a smaller one (a confident row,
/// whose maximal entries' log-probability is about its negative) is summed again with the
/// maximal terms apart.
@inline(__always)
func unshiftedBias(max m: Float, min: Float, n: Int) -> Float? {
    // Four vectors at least: the group's two exps cost about what a row of them saves.
    guard n >= 4 * floatLanes, m >= 0, m <= 32, min >= -80 else { return nil }
    let p = Int((Double(m) * 1.4426950408889634 + 0.001).rounded(.down)) + 1
    return Float(bitPattern: UInt32(p + 127) << 23)
}

/// The terms the unshifted exp pass gave the maximal entries of eight rows (maxima[k] for the
/// rows in `unshifted`), as Doubles; 1 for the other rows. An unshifted sum less this term is
/// the sum of the others only (the term itself, rounded to Float, is 2^-24 off e^max: as much
/// error as a whole ulp of log1p's argument where that is 2^-9), and times e^-max it is the
/// shifted rest, every term within the 2^-24 it has there (a tie of the maximum included).
/// `maxima` holds at least as many Floats as a Float vector (the extremes' scratch).
@inline(__always)
func unshiftedMaxTerms(_ maxima: UnsafePointer<Float>, _ unshifted: UInt8) -> DV {
    let v = UnsafeRawPointer(maxima).loadUnaligned(as: FV.self)
    // The lanes of unshifted rows are in [0, 32]; the others' terms are not used.
    let terms = vexpf(v, FV(repeating: 0), exact: true, normal: true)
    let low = floatLanes == 8 ? unsafeBitCast(terms, to: (SIMD8<Float>).self) : halves(unsafeBitCast(terms, to: SIMD16<Float>.self)).0
    return choose(unshifted, widen(low), else: DV(repeating: 1))
}

/// Lane k of `a` where bit k of `bits` is set, of `b` elsewhere, combined by bits: a loop setting
/// one lane at a time, or a mask from a comparison of Int64 lanes (a lane at a time on AVX2),
/// went through the stack, each reload waiting on a store.
@inline(__always)
func choose(_ bits: UInt8, _ a: DV, else b: DV) -> DV {
    let lane = (SIMD8<UInt64>(repeating: UInt64(bits)) &>> SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7)) & 1
    let chosen = SIMD8<UInt64>(repeating: 0) &- lane
    let x = unsafeBitCast(a, to: SIMD8<UInt64>.self), z = unsafeBitCast(b, to: SIMD8<UInt64>.self)
    return unsafeBitCast((x & chosen) | (z & ~chosen), to: DV.self)
}

/// A group's eight sums: `his`, but for the rows in `unreduced` the sums of their lanes (at
/// `lanes + 8k`, `raddstoreexpLanesFloat`), reduced at once (`plainTotals`); and which of those
/// rows' sums are NaN (on AVX-512, where the exp keeps NaN, a NaN entry shows there only).
@inline(__always)
func groupSums(_ his: UnsafePointer<Double>, lanes: UnsafePointer<Double>, _ unreduced: UInt8) -> (hi: DV, nan: UInt8) {
    let hi = UnsafeRawPointer(his).loadUnaligned(as: DV.self)
    guard unreduced != 0 else { return (hi, 0) }
    let sums = plainTotals(lanes)
    var nan: UInt8 = 0
    if anyLane(sums .!= sums) {
        for k in 0..<8 where unreduced & (1 << k) != 0 && sums[k].isNaN { nan |= 1 << k }
    }
    return (choose(unreduced, sums, else: hi), nan)
}

/// S - 1 of eight rows' lane sums (hi >= 1, so hi - 1 is exact). For the unshifted rows (bits of
/// `unshifted`): the sum less the maximal entry's own term (`tops`), times e^-max (`negTops`; 0
/// for the other rows, whose factor is then exactly 1). The factors come with it (softmax's
/// scale is e^-max / (1 + rest)).
@inline(__always)
func restOfSums(_ hi: DV, _ lo: DV, tops: UnsafePointer<Float>, negTops: UnsafePointer<Double>, _ unshifted: UInt8) -> (rest: DV, factor: DV) {
    let one = DV(repeating: 1)
    guard unshifted != 0 else { return ((hi - one) + lo, one) }
    let e = vexp(UnsafeRawPointer(negTops).loadUnaligned(as: DV.self), DV(repeating: 0))
    return (((hi - unshiftedMaxTerms(tops, unshifted)) + lo) * e, e)
}

/// Below this, the rest of an unshifted log row's sum is summed again with its maximal terms
/// apart: twice the floor of the shifted sum (`raddstoreexpminusmaxFloat`), for its bias of up
/// to twice the largest term.
@inline(__always)
func unshiftedRestFloor(_ n: Int) -> Double { 0x1p-9 * Double(n / rowChunkLength + 1) }

/// logsumexp of the Float rows `rows` of x (n entries each) into out, grouped as
/// `softmaxRowsFloat` groups them: the maximum and exp-sum passes in Float lanes, then one vector
/// log1p of eight rows' sums, max + log1p(rest) rounded once into Float.
///
/// The Float-lane exp is good to 2^-27.9, so log(sum) carries about that absolute error: within
/// 0.13 ulp of results of magnitude 1/4 and more. A smaller result means max + log(sum)
/// cancelled (max < 0) or both are near 0; such a row, and one with a special value, goes to
/// `general`, the Double walk with its full-precision exp (and, for Double, its double-double
/// repair of cancellation).
@inline(__always)
func logsumexpRowsFloat(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int, rows: Range<Int>,
    general: (Int) -> Void
) {
    if n >= segmentedRow {
        for u in rows {
            let next = u + 1 < rows.upperBound ? x + (u + 1) * n : nil
            if let r = logsumexpSegmentedRowFloat(x + u * n, n, nextRow: next) { out[u] = Float(r) } else { general(u) }
        }
        return
    }
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 96) { scratch in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { floatMaxima in
        let his = scratch.baseAddress!, los = his + 8, maxima = his + 16, negTops = his + 24, lanes = his + 32
        let tops = floatMaxima.baseAddress!
        floatMaxima.initialize(repeating: 0)  // `unshiftedMaxTerms` reads a whole Float vector
        lanes.initialize(repeating: 0, count: 64)  // `plainTotals` reads every row's lanes
        let group = n <= groupedRow(Float.self) ? 8 : 1
        let lanesLeft = group == 8 && n <= unreducedRow
        var u = rows.lowerBound
        while u < rows.upperBound {
            let count = Swift.min(group, rows.upperBound - u)
            var done: UInt8 = 0  // rows handed to `general`, or finished
            var unshifted: UInt8 = 0  // rows summed without a shift (as `softmaxRowsFloat`'s)
            var unreduced: UInt8 = 0  // rows whose lanes are in `lanes` (as `softmaxRowsFloat`'s)
            for k in 0..<count {
                let xr = x + (u + k) * n
                let (stats, smallest) = rmaxFloat(xr, n, findNaN: !scaleKeepsNaN)
                let top = Float(stats.max)
                his[k] = 1
                los[k] = 0
                maxima[k] = 0
                negTops[k] = 0
                tops[k] = 0
                guard !stats.nan, top.isFinite else { general(u + k); done |= 1 << k; continue }
                let bias = unshiftedBias(max: top, min: smallest, n: n)
                if lanesLeft, let bias {
                    UnsafeMutableRawPointer(lanes + 8 * k).storeBytes(of: raddstoreexpLanesFloat(xr, nil, n, bias: bias), as: DV.self)
                    unreduced |= 1 << k
                    unshifted |= 1 << k
                    negTops[k] = -stats.max
                    tops[k] = top
                    maxima[k] = stats.max
                    continue
                }
                let next = u + k + 1
                let ahead = n <= 256 ? PrefetchAhead() : rowsAhead(x, nil, n, row: u + k, next: next, end: rows.upperBound)
                let sum = raddstoreexpminusmaxFloat(xr, nil, n, max: top, min: smallest, topsApart: bias == nil, unshiftedBias: bias,
                                                    ahead: ahead)
                if sum.sum.isNaN {
                    out[u + k] = .nan
                    done |= 1 << k
                    continue
                }
                if bias != nil {
                    unshifted |= 1 << k
                    negTops[k] = -stats.max
                    tops[k] = top
                }
                let p = sum.pair
                his[k] = p.hi
                los[k] = p.lo
                maxima[k] = stats.max
            }
            let (hi, nanRows) = groupSums(his, lanes: lanes, unreduced)
            let lo = UnsafeRawPointer(los).loadUnaligned(as: DV.self)
            for k in 0..<count where nanRows & (1 << k) != 0 {
                out[u + k] = .nan
                done |= 1 << k
                unshifted &= ~(1 << k)
                maxima[k] = 0
                negTops[k] = 0
                tops[k] = 0
            }
            let m = UnsafeRawPointer(maxima).loadUnaligned(as: DV.self)
            var rest = restOfSums(hi, lo, tops: tops, negTops: negTops, unshifted).rest
            if unshifted != 0 {
                UnsafeMutableRawPointer(his).storeBytes(of: rest, as: DV.self)
                for k in 0..<count where unshifted & (1 << k) != 0 && his[k] < unshiftedRestFloor(n) {
                    let p = raddstoreexpminusmaxFloat(x + (u + k) * n, nil, n, max: Float(maxima[k]), min: -.infinity, topsApart: true).pair
                    his[k] = (p.hi - 1) + p.lo
                }
                rest = UnsafeRawPointer(his).loadUnaligned(as: DV.self)
            }
            let r = m + vlog1pForFloat(rest)
            for k in 0..<count where done & (1 << k) == 0 {
                if Swift.abs(r[k]) >= 0.25 { out[u + k] = Float(r[k]) } else { general(u + k) }
            }
            u += count
        }
      }
    }
}
#endif

/// The longest Float rows whose exp pass fetches the next row (`PrefetchAhead`): 256 KiB, so that
/// both stay within a 1 MiB L2 cache with the results (rows of 1 MiB lost 5% to it).
let fetchedRow = 65536

/// The longest Float rows whose exp pass leaves its lanes to the group (`raddstoreexpLanesFloat`):
/// one chunk, and no next row to fetch (`PrefetchAhead`).
let unreducedRow = 256

/// The longest rows of T grouped eight at a time: 32 KiB each, so that eight rows of x and y
/// stay within a 1 MiB L2 cache between the passes.
@inline(__always)
func groupedRow<T>(_: T.Type) -> Int { 32768 / MemoryLayout<T>.stride }
