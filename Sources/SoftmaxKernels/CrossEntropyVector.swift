import SoftmaxCore

// Cross-entropy with integer targets and no smoothing on the vector passes: the label form of
// SoftmaxCore's CrossEntropyArithmetic.swift (`labelLoss`, `labelGradient`) in eight lanes.

extension Kernels {
    static func crossEntropyVector<T: SoftmaxScalar>(_ pb: CrossEntropyProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
        var total = CompensatedSumWithSpecials()
        let n = pb.n, inner = pb.inner
        if inner == 1 && n <= shortRow {
            let x = pb.logits
            withUnsafeTemporaryAllocation(of: T.self, capacity: 16 * shortRow) { buf in
                let xs = buf.baseAddress!, gs = xs + 8 * shortRow
                var s0 = slices.lowerBound
                while s0 < slices.upperBound {
                    let width = Swift.min(8, slices.upperBound - s0)
                    transpose(x + s0 * n, from: n, xs, to: 8, rows: width, n: n, forward: true)
                    @inline(__always) func group<W: LaneWalk>(_ w: W) -> Bool {
                        crossEntropyGroup(pb, UnsafePointer(xs), pb.gradient == nil ? nil : gs, w, first: s0, &total)
                    }
                    let done = width == 8 ? group(FullBlockWalk(n: n)) : group(ColumnWalk(block: n, width: width))
                    if !done {
                        total.add(crossEntropyScalar(pb, slices: s0..<s0 + width))
                    } else if let g = pb.gradient {
                        transpose(UnsafePointer(gs), from: 8, g + s0 * n, to: n, rows: width, n: n)
                    }
                    s0 += width
                }
            }
        } else if inner == 1 {
            var s0 = slices.lowerBound
            while s0 < slices.upperBound {
                let count = Swift.min(8, slices.upperBound - s0)
                if !crossEntropyRows(pb, first: s0, count: count, &total) {
                    for si in s0..<s0 + count where
                        !crossEntropyGroup(pb, pb.logits, pb.gradient, RowWalk(row: si, n: n), first: si, &total) {
                        total.add(crossEntropyScalar(pb, slices: si..<si + 1))
                    }
                }
                s0 += count
            }
        } else {
            var s0 = slices.lowerBound
            while s0 < slices.upperBound {
                let o = s0 / inner, j = s0 - o * inner
                let width = Swift.min(8 * ColumnBlock.groups(inner: inner), inner - j, slices.upperBound - s0)
                ColumnBlock(outer: o, column: j, columns: width, n: n, inner: inner).crossEntropy(pb, &total)
                s0 += width
            }
        }
        return total
    }
}

/// One group of samples (a row, or up to eight lanes of samples first, first+1, ...): losses
/// added to `total` in sample order and the gradient written through `g`. Returns false, having
/// written nothing, when a sample has a NaN, +inf or no finite logit (the scalar kernel's case).
@inline(__always)
func crossEntropyGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ pb: CrossEntropyProblem<T>, _ x: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>?, _ w: W,
    first: Int, _ total: inout CompensatedSumWithSpecials
) -> Bool {
    let st = rmax(x, nil, w)
    if st.special { return false }
    // The target logits are read before the gradient (which may be the logits) is written.
    let targets = CrossEntropyTargets(pb, x, w, st, first: first)
    // One exp per element: the terms are stored in the gradient and scaled in place after.
    let s = raddstoreexpminusmaxChunked(x, nil, g, w, st, 1, compensated: true)
    let sum: (hi: DV, lo: DV) = W.horizontal
        ? { let p = s.row.pair; return (DV(repeating: p.hi), DV(repeating: p.lo)) }()
        : s.lanes
    var (scale, target) = targets.losses(pb, sum, lanes: w.resultLanes, first: first, &total)
    guard let g else { return true }
    if W.horizontal { scale = DV(repeating: scale[0]) }  // one sample in every lane
    vscale(g, w, scale)
    targets.store(g, target, lanes: w.resultLanes)
    return true
}

/// Cross-entropy of `count` (<= 8) whole rows, samples first ..< first + count: each row's
/// statistics and exp terms as `crossEntropyGroup` computes them, then the losses of all the
/// rows at once, row l in lane l. One sample per call would run the losses' vector exp and
/// log1p, a chain of about 150 cycles, once per row (float32 16384x128: 20% of the time).
/// Returns false, having written nothing, when a row has a NaN, +inf or no finite logit.
@inline(__always)
func crossEntropyRows<T: SoftmaxScalar>(
    _ pb: CrossEntropyProblem<T>, first: Int, count: Int, _ total: inout CompensatedSumWithSpecials
) -> Bool {
    let x = pb.logits, n = pb.n
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: 24) { buf in
        // Per-row values in scalar scratch, loaded as vectors once (see CrossEntropyTargets).
        let maxima = buf.baseAddress!, his = maxima + 8, los = maxima + 16
        for l in 0..<8 {
            maxima[l] = 0
            his[l] = 1  // an unused lane's sum: log1p(0)
            los[l] = 0
        }
        for l in 0..<count {
            let st = rmax(x, nil, RowWalk(row: first + l, n: n))
            if st.special { return false }
            maxima[l] = st.max[0]
        }
        // Every target logit is read before the gradient (which may be the logits) is written.
        let targets = CrossEntropyTargets(pb, x, lanes: count, first: first,
                                          maxima: UnsafeRawPointer(maxima).loadUnaligned(as: DV.self)) { l, y in
            (first + l) * n + y
        }
        for l in 0..<count {
            let st = LaneStats(RowChunkStats(max: maxima[l], nan: false, infCount: 0))
            let p = raddstoreexpminusmaxChunked(x, nil, pb.gradient, RowWalk(row: first + l, n: n), st, 1,
                                                compensated: true).row.pair
            his[l] = p.hi
            los[l] = p.lo
        }
        let sum = (UnsafeRawPointer(his).loadUnaligned(as: DV.self), UnsafeRawPointer(los).loadUnaligned(as: DV.self))
        let (scale, target) = targets.losses(pb, sum, lanes: count, first: first, &total)
        guard let g = pb.gradient else { return true }
        for l in 0..<count { vscale(g, RowWalk(row: first + l, n: n), DV(repeating: scale[l])) }
        targets.store(g, target, lanes: count)
        return true
    }
}

/// The target of each lane's sample: where its logit is, its weight, and its shifted logit.
struct CrossEntropyTargets {
    var zh = DV(repeating: 0), zl = DV(repeating: 0), wy = DV(repeating: 0)
    var offsets = SIMD8<Int>(repeating: -1)  // -1: the sample is ignored

    /// The samples of a walk's lanes.
    @inline(__always)
    init<T: SoftmaxScalar, W: LaneWalk>(
        _ pb: CrossEntropyProblem<T>, _ x: UnsafePointer<T>, _ w: W, _ st: LaneStats, first: Int
    ) {
        self.init(pb, x, lanes: w.resultLanes, first: first, maxima: st.max) { l, y in w.elementOffset(y, lane: l) }
    }

    /// Samples first ..< first + lanes, lane l's maximum in maxima[l] and its logit of class y
    /// at offset(l, y).
    @inline(__always)
    init<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, _ x: UnsafePointer<T>, lanes: Int, first: Int, maxima: DV,
        offset: (Int, Int) -> Int
    ) {
        // Gathered into scalar scratch and loaded as vectors once: lanes written one at a time
        // into vectors each cost a failed store-to-load forwarding.
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 8) { obuf in
                let xs = buf.baseAddress!, ws = xs + 8, os = obuf.baseAddress!
                for l in 0..<8 {
                    xs[l] = maxima[l]  // an ignored or unused lane's shift is 0
                    ws[l] = 0
                    os[l] = -1
                    guard l < lanes else { continue }
                    let label = pb.labels![first + l]
                    if label == pb.ignoreIndex { continue }
                    let y = Int(label)
                    os[l] = offset(l, y)
                    // A sample weight scales the label form's one coefficient (docs/design.md,
                    // "Cross-entropy options"); the loss and gradient are linear in it.
                    var weight = pb.weight.map { $0[y].double } ?? 1
                    if let sw = pb.sampleWeight { weight *= sw[first + l].double }
                    ws[l] = weight
                    xs[l] = x[os[l]].double
                }
                offsets = UnsafeRawPointer(os).loadUnaligned(as: SIMD8<Int>.self)
                wy = UnsafeRawPointer(ws).loadUnaligned(as: DV.self)
                let (h, e) = vtwoSum(UnsafeRawPointer(xs).loadUnaligned(as: DV.self), -maxima)
                zh = h
                // A -inf target logit (as scaledShift): the shift is -inf, exactly.
                zl = zeroUnless(h .> DV(repeating: -.infinity), e)
            }
        }
    }

    /// Adds the lanes' losses to `total` (and stores them per sample); returns the gradient's
    /// scale per lane and its value at each target.
    @inline(__always)
    func losses<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, _ sum: (hi: DV, lo: DV), lanes: Int, first: Int, _ total: inout CompensatedSumWithSpecials
    ) -> (scale: DV, target: DV) {
        let one = DV(repeating: 1), zero = DV(repeating: 0)
        // The eight lanes' arithmetic in vectors (labelLoss and labelGradient, the definitions
        // the sharded path runs one sample at a time); only the logarithm of Double losses and
        // the in-order total are per lane. The targets' exp terms: one vector exp rather than a
        // libm call each. The sharded path takes e_y from libm's exp, and Float's log1p from libm
        // where vlog1pForFloat serves here: those inputs, not the shared formulas, are where the
        // two paths' bits can part.
        let ey = vexp(zh, zl)
        let (restHi, restLo) = vtwoSum(sum.hi - one, sum.lo)
        var lseHi = zero, lseLo = zero
        if T.self == Float.self && lanes > 1 {
            lseHi = vlog1pForFloat(restHi + restLo)
        } else {
            for l in 0..<lanes where offsets[l] >= 0 {
                let r = log1pPair(restHi[l], restLo[l])
                lseHi[l] = r.hi
                lseLo[l] = r.lo
            }
        }
        let loss = labelLoss(weight: wy, logSum: (lseHi, lseLo), shift: (zh, zl))
        let g = labelGradient(weight: wy * DV(repeating: 1 / pb.gradientDivisor), sum: sum, rest: (restHi, restLo),
                              targetShift: zh, targetExp: ey)
        let used = unsafeBitCast(offsets, to: SIMD8<Int64>.self) .>= SIMD8<Int64>(repeating: 0)
        for l in 0..<lanes {
            let value = used[l] ? loss[l] : 0
            pb.perSample?[first + l] = T(rounding: value)
            if used[l] { total.add(value) }
        }
        return (zeroUnless(used, g.scale), zeroUnless(used, g.target))
    }

    @inline(__always)
    func store<T: SoftmaxScalar>(_ g: UnsafeMutablePointer<T>, _ target: DV, lanes: Int) {
        for l in 0..<lanes where offsets[l] >= 0 { g[offsets[l]] = T(rounding: target[l]) }
    }
}

/// vscale: the stored terms times a per-lane scale.
@inline(__always)
func vscale<T: SoftmaxScalar, W: LaneWalk>(_ y: UnsafeMutablePointer<T>, _ w: W, _ scale: DV) {
    #if SSM_FMA
    if T.self == Float.self, let row = w as? RowWalk {
        vscaleFloat(y.as(Float.self) + row.base, row.n, scale[0])
        return
    }
    #endif
    for k in 0..<w.steps {
        store(reload(y, w, k) * scale, y, w, k)
    }
}
