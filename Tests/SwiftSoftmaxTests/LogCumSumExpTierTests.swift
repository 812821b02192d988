import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's running log-sum-exp against the double-double scan (Reference.logCumSumExp):
// the special values bit for bit (docs/design.md, "Special values": -inf prefixes give -inf and
// never NaN, +inf and NaN make the rest of the slice +inf or NaN), finite results within 2 ulps
// (the lanes carry about 2^-57 of log(1 + t), the reference about 2^-100), on rows in groups of
// eight and partial groups, column blocks and partial column groups; out of place, in place
// (whose cancelling prefixes are repaired from a saved copy of the input) and with the units
// split as threads split them, both bitwise equal to the one-piece call.


private enum Kind: CaseIterable { case ordinary, negative, cancelling, specials, increasing, huge, offset }

private func value<T: SoftmaxScalar>(_: T.Type, _ kind: Kind, _ s: Int, _ i: Int, _ n: Int, _ g: inout SplitMix) -> T {
    let u = g.unit()
    switch kind {
    case .ordinary: return T(rounding: (u - 0.5) * 8)
    case .negative: return T(rounding: -u * 6 - 0.01)             // a running maximum below 0
    case .cancelling:
        // far below 0, then values just below 0: the running log-sum nearly offsets the maximum
        return T(rounding: i < n / 2 ? -30 - u * 10 : -(u * 1e-3))
    case .specials:
        switch (s % 5, i) {
        case (0, 0..<3), (1, 0..<20), (2, 0): return -T.infinity   // -inf prefixes
        case (3, 2): return T.infinity
        case (4, 3): return T.nan
        case (_, 7): return -T.infinity
        default: return T(rounding: (u - 0.5) * 10)
        }
    case .increasing: return T(rounding: Double(i) * 0.01 + u * 1e-3)
    case .huge: return T.greatestFiniteMagnitude * T(rounding: u - 0.5)
    case .offset: return T(rounding: -1e4 + (u - 0.5) * 6)
    }
}

private func same<T: SoftmaxScalar>(_ a: T, _ b: T) -> Bool {
    (a.isNaN && b.isNaN) || a.double.bitPattern == b.double.bitPattern
}

private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if !b.isFinite || !a.isFinite { return same(a, b) ? 0 : .infinity }
    if a == b { return 0 }
    return abs(a.double - b.double) / max(b.ulp.double, T.leastNormalMagnitude.double)
}

private func checkScan<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    var shapes: [(Int, Int, Int)] = []
    for n in [0, 1, 2, 3, 7, 8, 9, 17, 40] { shapes += [(1, n, 1), (8, n, 1), (11, n, 1)] }
    shapes += [(3, 7, 5), (2, 13, 40), (2, 9, 300), (1, 3, 1030), (17, 300, 1), (1, 5000, 1)]
    for (si, (outer, n, inner)) in shapes.enumerated() {
        for kind in Kind.allCases {
            let count = outer * n * inner, slices = outer * inner
            var g = SplitMix(state: UInt64(si * 31 + 7))
            var x = [T](repeating: 0, count: count)
            for s in 0..<slices {
                let o = s / inner, j = s % inner
                for i in 0..<n { x[o * n * inner + i * inner + j] = value(T.self, kind, s, i, n, &g) }
            }
            var ref = [T](repeating: 0, count: count), ours = ref, split = ref, inPlace = x
            let units = k.scanUnits(outer: outer, n: n, inner: inner)
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                ref.withUnsafeMutableBufferPointer { Reference.logCumSumExp(xp, $0.baseAddress!, outer: outer, n: n, inner: inner) }
                ours.withUnsafeMutableBufferPointer {
                    k.logcumsumexp(xp, $0.baseAddress!, outer: outer, n: n, inner: inner, units: 0..<units)
                }
                split.withUnsafeMutableBufferPointer { b in
                    for r in [0..<units / 3, units / 3..<units] {
                        k.logcumsumexp(xp, b.baseAddress!, outer: outer, n: n, inner: inner, units: r)
                    }
                }
            }
            inPlace.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                k.logcumsumexp(UnsafePointer(p), p, outer: outer, n: n, inner: inner, units: 0..<units)
            }
            let what = "\(tier) \(T.self) logcumsumexp shape \((outer, n, inner)) \(kind)"
            let bad = (0..<count).first { ulps(ours[$0], ref[$0]) > 2 }
            #expect(bad == nil, "\(what): at \(bad ?? 0): \(bad.map { ours[$0] } ?? 0) vs \(bad.map { ref[$0] } ?? 0)")
            #expect(zip(inPlace, ours).allSatisfy { same($0, $1) }, "\(what): in place differs")
            #expect(zip(split, ours).allSatisfy { same($0, $1) }, "\(what): split units differ")
        }
    }
}

@Test(arguments: Tier.available)
func tierLogCumSumExpMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkScan(k, tier, Float.self)
    checkScan(k, tier, Double.self)
}

@Test func logCumSumExpAPI() throws {
    #expect(try logCumSumExp([0, 0, 0] as [Double]) == [0, 0.6931471805599453, 1.0986122886681098])
    let y = try logCumSumExp([-.infinity, -.infinity, 0, .nan, 1] as [Float])
    #expect(y[0] == -.infinity && y[1] == -.infinity && y[2] == 0 && y[3].isNaN && y[4].isNaN)
    let z = try logCumSumExp([0, .infinity, 1] as [Double])
    #expect(z == [0, .infinity, .infinity])
    var buf: [Double] = [1, 2, 3, 4]
    #expect(throws: SoftmaxError.self) {
        try buf.withUnsafeMutableBufferPointer { b in
            try logCumSumExp(UnsafePointer(b.baseAddress!), into: b.baseAddress! + 1, shape: RowShape(n: 3))
        }
    }
}
