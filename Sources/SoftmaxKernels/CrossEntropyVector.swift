import SoftmaxCore

// Cross-entropy with integer targets and no smoothing on the vector passes. Per sample with
// target y and weight w (A = w / divisor), m = max x, S = Σ exp(x_j - m) = 1 + rest:
//   loss = w ((m - x_y) + log1p(rest))           (two non-negative terms: no cancellation)
//   grad_j = A exp(x_j - m) / S  for j != y,     grad_y = -A (S - exp(x_y - m)) / S
// where S - exp(x_y - m) is rest when x_y is maximal, never 1 - p.

extension Kernels {
    static func crossEntropyVector<T: SoftmaxScalar>(_ pb: CrossEntropyProblem<T>, _ slices: Range<Int>) -> RobustSum {
        var total = RobustSum()
        let n = pb.n, inner = pb.inner
        if inner == 1 && n <= shortRow {
            let x = pb.logits
            withUnsafeTemporaryAllocation(of: T.self, capacity: 16 * shortRow) { buf in
                let xs = buf.baseAddress!, gs = xs + 8 * shortRow
                var s0 = slices.lowerBound
                while s0 < slices.upperBound {
                    let width = Swift.min(8, slices.upperBound - s0)
                    transpose(x + s0 * n, from: n, xs, to: 8, rows: width, n: n, forward: true)
                    let w = ColumnWalk(block: n, width: width)
                    if !crossEntropyGroup(pb, UnsafePointer(xs), pb.gradient == nil ? nil : gs, w, first: s0, &total) {
                        total.add(crossEntropyScalar(pb, slices: s0..<s0 + width))
                    } else if let g = pb.gradient {
                        transpose(UnsafePointer(gs), from: 8, g + s0 * n, to: n, rows: width, n: n)
                    }
                    s0 += width
                }
            }
        } else if inner == 1 {
            for si in slices {
                if !crossEntropyGroup(pb, pb.logits, pb.gradient, RowWalk(row: si, n: n), first: si, &total) {
                    total.add(crossEntropyScalar(pb, slices: si..<si + 1))
                }
            }
        } else {
            var s0 = slices.lowerBound
            while s0 < slices.upperBound {
                let o = s0 / inner, j = s0 - o * inner
                let width = Swift.min(8, inner - j, slices.upperBound - s0)
                let w = ColumnWalk(base: o * n * inner + j, n: n, inner: inner, width: width, first: s0)
                if !crossEntropyGroup(pb, pb.logits, pb.gradient, w, first: s0, &total) {
                    total.add(crossEntropyScalar(pb, slices: s0..<s0 + width))
                }
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
    first: Int, _ total: inout RobustSum
) -> Bool {
    let st = rmax(x, nil, w)
    if st.special { return false }
    let lanes = w.resultLanes
    let s = raddstoreexpminusmaxChunked(x, nil, nil, w, st, 1)
    let sum: (hi: DV, lo: DV) = W.horizontal
        ? { let p = s.row.pair; return (DV(repeating: p.hi), DV(repeating: p.lo)) }()
        : s.lanes
    let inv = 1 / pb.gradientDivisor
    var scale = DV(repeating: 0)
    var targets = [(offset: Int, value: Double)]()
    targets.reserveCapacity(8)
    for l in 0..<lanes {
        let si = first + l
        let label = pb.labels![si]
        if label == pb.ignoreIndex {
            pb.perSample?[si] = 0
            continue
        }
        let y = Int(label)
        let wy = pb.weight.map { $0[y].double } ?? 1
        let m = st.max[l]
        let rest = twoSum(sum.hi[l] - 1, sum.lo[l])
        let lse = log1pPair(rest.hi, rest.lo)
        let off = w.elementOffset(y, lane: l)
        let z = scaledShift(x[off].double, m, 1)
        let loss = wy * ((lse.hi - z.hi) + (lse.lo - z.lo))
        pb.perSample?[si] = T(rounding: loss)
        total.add(loss)
        let a = wy * inv
        let full = sum.hi[l] + sum.lo[l]
        scale[l] = a / full
        let others = z.hi == 0 ? rest.hi + rest.lo : (sum.hi[l] - expShifted(z)) + sum.lo[l]
        targets.append((off, -a * others / full))
    }
    guard let g else { return true }
    if W.horizontal { scale = DV(repeating: scale[0]) }  // one sample in every lane
    for k in 0..<w.steps {
        let v = load(x, nil, w, k, pad: -.infinity)
        let (hi, lo) = vshift(T.self, v, st.shift, 1, 1)
        store(vexp(T.self, hi, lo) * scale, g, w, k)
    }
    for t in targets { g[t.offset] = T(rounding: t.value) }
    return true
}
