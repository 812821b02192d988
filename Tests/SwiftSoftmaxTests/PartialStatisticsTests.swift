import Foundation
import SoftmaxCore
import Testing
import SwiftSoftmax

// Softmax over an axis split into chunks (statistics, merge, finalisers) and the
// vocabulary-parallel cross-entropy, against the one-piece calls; each check written once
// generically and run for Float and Double.

/// A small deterministic generator (SplitMix64), so failures reproduce.
private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Columns [lo, hi) of the middle axis of an [outer, n, inner] array, as its own array.
func chunk<E>(_ x: [E], _ shape: RowShape, _ lo: Int, _ hi: Int) -> [E] {
    var out: [E] = []
    for o in 0..<shape.outer {
        for j in lo..<hi {
            for i in 0..<shape.inner { out.append(x[(o * shape.n + j) * shape.inner + i]) }
        }
    }
    return out
}

/// Statistics of each chunk [cuts[k], cuts[k+1]) of x's middle axis.
func chunkStatistics<T: SoftmaxScalar>(
    _ x: [T], _ mask: [UInt8]?, _ shape: RowShape, _ cuts: [Int], _ t: T
) throws -> [[SoftmaxStatistics]] {
    try zip(cuts, cuts.dropFirst()).map { lo, hi in
        let part = chunk(x, shape, lo, hi)
        let m = mask.map { chunk($0, shape, lo, hi) }
        var s = [SoftmaxStatistics](repeating: SoftmaxStatistics(max: 7, sumHi: 7), count: shape.slices)
        try softmaxStatistics(part, mask: m, into: &s, shape: RowShape(outer: shape.outer, n: hi - lo, inner: shape.inner),
                              temperature: t)
        return s
    }
}

func merge(_ a: [SoftmaxStatistics], _ b: [SoftmaxStatistics], _ t: Double) throws -> [SoftmaxStatistics] {
    var out = a
    try mergeSoftmaxStatistics(a, b, into: &out, count: a.count, temperature: t)
    return out
}

/// Within `limit` ulps of the one-piece value (specials equal).
func expectNear<T: SoftmaxScalar>(_ got: [T], _ onePiece: [T], ulps limit: Double = 2,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == onePiece.count, sourceLocation: sourceLocation)
    for (g, w) in zip(got, onePiece) {
        #expect(ulps(g, w.double) <= limit, "got \(g), one piece \(w)", sourceLocation: sourceLocation)
    }
}

// MARK: - generic checks

func checkSplitEqualsOnePiece<T: SoftmaxScalar>(_: T.Type) throws {
    var rng = Seeded(state: 7)
    for (shape, cuts) in [(try RowShape(outer: 3, n: 200), [0, 1, 64, 150, 200]),
                          (try RowShape(outer: 2, n: 50, inner: 3), [0, 20, 20, 50])] {
        let x: [T] = (0..<shape.count).map { _ in T(rounding: Double.random(in: -30...30, using: &rng)) }
        let mask: [UInt8] = (0..<shape.count).map { _ in UInt8.random(in: 0...3, using: &rng) == 0 ? 0 : 1 }
        for (t, m) in [(T(1), nil as [UInt8]?), (T(0.45), mask)] {
            let stats = try chunkStatistics(x, m, shape, cuts, t)
            // Left to right, and right to left: the same finished results.
            let forward = try stats.dropFirst().reduce(stats[0]) { try merge($0, $1, t.double) }
            let backward = try stats.dropLast().reversed().reduce(stats.last!) { try merge($1, $0, t.double) }
            var y = [T](repeating: 0, count: shape.count), ly = y
            if let m {
                try softmax(x, mask: m, into: &y, shape: shape, temperature: t)
                try logSoftmax(x, mask: m, into: &ly, shape: shape, temperature: t)
            } else {
                try softmax(x, into: &y, shape: shape, temperature: t)
                try logSoftmax(x, into: &ly, shape: shape, temperature: t)
            }
            for (lo, hi) in zip(cuts, cuts.dropFirst()) {
                let part = chunk(x, shape, lo, hi)
                let pm = m.map { chunk($0, shape, lo, hi) }
                let cs = try RowShape(outer: shape.outer, n: hi - lo, inner: shape.inner)
                var p = [T](repeating: 0, count: cs.count), lp = p
                try softmax(part, mask: pm, statistics: forward, into: &p, shape: cs, temperature: t)
                try logSoftmax(part, mask: pm, statistics: backward, into: &lp, shape: cs, temperature: t)
                expectNear(p, chunk(y, shape, lo, hi))
                expectNear(lp, chunk(ly, shape, lo, hi))
            }
            if t == 1 && m == nil {
                var lse = [T](repeating: 0, count: shape.slices), plse = lse
                try logSumExp(x, into: &lse, shape: shape)
                try logSumExp(statistics: forward, into: &plse, count: shape.slices)
                expectNear(plse, lse)
            }
        }
    }
}

func checkPreciseLogSumExp<T: SoftmaxScalar>(_: T.Type) throws {
    // logsumexp([a, a - 0.7]) = 0 for a = -log(1 + e^-0.7): shifted by 1e-6, a result of ~7e-7
    // amplifies the exp terms' roundings, which the precise statistics sum in double-double.
    let a = -log1p(exp(-0.7))
    let x: [T] = [a - 30, a + 1e-6, a - 0.7, a - 31].map { T(rounding: $0) }
    let whole = try logSumExp(x)
    #expect(abs(whole.double) < 1e-5)
    for cut in 1..<4 {
        let shape = try RowShape(n: cut), rest = try RowShape(n: 4 - cut)
        var s1 = SoftmaxStatistics.empty, s2 = SoftmaxStatistics.empty
        try softmaxStatistics(Array(x[..<cut]), into: &s1, shape: shape, precise: true)
        try softmaxStatistics(Array(x[cut...]), into: &s2, shape: rest, precise: true)
        let got: T = try logSumExp(statistics: s1.merged(with: s2))
        #expect(ulps(got, whole.double) <= 2, "cut \(cut): \(got) vs \(whole)")
    }
}

func checkMinusInfinitySafety<T: SoftmaxScalar>(_: T.Type) throws {
    let none = try softmaxStatistics([] as [T])
    #expect(none == .empty)
    var masked = [SoftmaxStatistics](repeating: SoftmaxStatistics(max: 1, sumHi: 1), count: 1)
    try softmaxStatistics([1, 2, 3] as [T], mask: [0, 0, 0], into: &masked, shape: RowShape(n: 3))
    #expect(masked[0] == .empty)
    let allMinusInf = try softmaxStatistics([-.infinity, -.infinity] as [T])
    for s in [none.merged(with: masked[0]), masked[0].merged(with: allMinusInf), allMinusInf.merged(with: none)] {
        #expect(s == .empty, "\(s)")  // never NaN
    }
    #expect(try softmax([-.infinity] as [T], statistics: allMinusInf) == [0])
    #expect(try logSoftmax([-.infinity] as [T], statistics: allMinusInf) == [-.infinity])
    #expect(try logSumExp(statistics: none) as T == -.infinity)
}

func checkPartialSpecialValues<T: SoftmaxScalar>(_: T.Type) throws {
    let inf = T.infinity
    let a: [T] = [inf, 1], b: [T] = [2, inf]
    let s = try softmaxStatistics(a).merged(with: try softmaxStatistics(b))
    #expect(s.max == .infinity && s.sumHi == 2)
    #expect(try softmax(a, statistics: s) == [0.5, 0] && (try softmax(b, statistics: s)) == [0, 0.5])
    let withNaN = try softmaxStatistics([1, .nan] as [T]).merged(with: try softmaxStatistics([5] as [T]))
    #expect(withNaN.max.isNaN)
    #expect(try softmax([5] as [T], statistics: withNaN)[0].isNaN)
    #expect((try logSumExp(statistics: withNaN) as T).isNaN)
}

func checkAlgebra<T: SoftmaxScalar>(_: T.Type) throws {
    var rng = Seeded(state: 11)
    for _ in 0..<50 {
        let parts: [[T]] = (0..<3).map { _ in
            (0..<Int.random(in: 0...9, using: &rng)).map { _ in T(rounding: Double.random(in: -800...800, using: &rng)) }
        }
        let (a, b, c) = (try softmaxStatistics(parts[0]), try softmaxStatistics(parts[1]), try softmaxStatistics(parts[2]))
        let ab = a.merged(with: b), ba = b.merged(with: a)
        #expect(ab == ba)  // commutative bit for bit
        let left = ab.merged(with: c), right = a.merged(with: b.merged(with: c))
        #expect(left.max == right.max)
        let l = left.sumHi + left.sumLo, r = right.sumHi + right.sumLo
        #expect(l == r || abs(l - r) <= 1e-15 * abs(l), "\(left) vs \(right)")
        // One piece against the merge: the exp terms differ in their roundings, to Double's
        // precision for Double input and to the Float kernels' exp (2^-37) for Float input.
        let whole = try softmaxStatistics(parts.flatMap { $0 })
        let tolerance = T.self == Float.self ? 0x1p-35 : 0x1p-51
        #expect(whole.max == left.max)
        #expect(abs((whole.sumHi + whole.sumLo) - l) <= tolerance * max(1, abs(l)), "\(whole) vs \(left)")
    }
}

func checkShardedCrossEntropy<T: SoftmaxScalar>(_: T.Type) throws {
    var rng = Seeded(state: 3)
    let shape = try RowShape(outer: 5, n: 30)
    let x: [T] = (0..<shape.count).map { _ in T(rounding: Double.random(in: -6...6, using: &rng)) }
    let labels: [Int64] = [0, 29, -100, 14, 15]
    let w: [T] = (0..<30).map { T(rounding: 0.5 + Double($0) / 30) }
    let wd = w.map(\.double)
    let eps: T = 0.25
    var refLoss = [T](repeating: 0, count: 5)
    var refGrad = [T](repeating: 0, count: shape.count)
    try crossEntropy(x, labels: labels, weight: w, shape: shape, labelSmoothing: eps, reduction: .none,
                     loss: &refLoss, gradient: &refGrad)
    let cuts = [0, 15, 16, 30]
    var merged = [CrossEntropyStatistics](repeating: .empty, count: 5)
    for (lo, hi) in zip(cuts, cuts.dropFirst()) {
        var s = [CrossEntropyStatistics](repeating: .empty, count: 5)
        try crossEntropyStatistics(chunk(x, shape, lo, hi), labels: labels, weight: wd,
                                   shape: RowShape(outer: 5, n: hi - lo),
                                   targets: ShardedTargets(numClasses: 30, classOffset: lo), into: &s)
        try mergeCrossEntropyStatistics(merged, s, into: &merged, count: 5)
    }
    let targets = ShardedTargets(numClasses: 30, labelSmoothing: eps.double)
    var loss = [Double](repeating: 0, count: 5)
    try crossEntropy(statistics: merged, labels: labels, weight: wd, count: 5, targets: targets, reduction: .none, loss: &loss)
    expectNear(loss.map { T(rounding: $0) }, refLoss)
    for (lo, hi) in zip(cuts, cuts.dropFirst()) {
        var g = [T](repeating: 0, count: 5 * (hi - lo))
        var t = targets
        t.classOffset = lo
        try crossEntropyGradient(chunk(x, shape, lo, hi), labels: labels, weight: wd, shape: RowShape(outer: 5, n: hi - lo),
                                 targets: t, statistics: merged, into: &g)
        let ref = chunk(refGrad, shape, lo, hi)
        for (a, b) in zip(g, ref) {
            // At the size of the terms (A p_j and c_j <= 1.5): smoothing makes them cancel.
            #expect(abs(a.double - b.double) <= 3 * T(rounding: 1.5).ulp.double, "got \(a), one piece \(b)")
        }
    }
    // Label smoothing over the GLOBAL class count: a shard's count (Megatron-LM's bug) differs.
    var local = [Double](repeating: 0, count: 5)
    var wrong = targets
    wrong.numClasses = 31
    try crossEntropy(statistics: merged, labels: labels, weight: wd + [1], count: 5, targets: wrong, reduction: .none, loss: &local)
    #expect(abs(local[0] - loss[0]) > 1e-6)
}

/// The label form of the cross-entropy arithmetic is one generic definition, run on one sample
/// in a Double by the sharded path and on eight in a SIMD8<Double> by the vector kernels: the two
/// instantiations must give the same bits, lane by lane.
func checkLabelFormLanesEqualScalar() {
    var rng = Seeded(state: 11)
    func draw(_ r: ClosedRange<Double>) -> Double { Double.random(in: r, using: &rng) }
    for round in 0..<500 {
        var w = SIMD8<Double>(), a = w, sHi = w, sLo = w, rHi = w, rLo = w, lHi = w, lLo = w, zHi = w, zLo = w, ey = w
        for l in 0..<8 {
            w[l] = l == 7 ? 0 : draw(0...3)  // an ignored lane's weight
            a[l] = w[l] / draw(1...100)
            // Confident rows (rest far below 1) and flat ones.
            sHi[l] = 1 + (round % 4 == 0 ? draw(0...1e-12) : draw(0...500))
            sLo[l] = sHi[l].ulp * draw(-0.5...0.5)
            (rHi[l], rLo[l]) = twoSum(sHi[l] - 1, sLo[l])
            (lHi[l], lLo[l]) = log1pPair(rHi[l], rLo[l])
            // The target at the maximum (z = 0), below it, and at -inf.
            switch (round + l) % 5 {
            case 0: (zHi[l], zLo[l]) = (0, 0)
            case 1: (zHi[l], zLo[l]) = (-.infinity, 0)
            default: (zHi[l], zLo[l]) = twoSum(-draw(0...40), -draw(0...1e-15))
            }
            ey[l] = expShifted((zHi[l], zLo[l]))
        }
        let loss = labelLoss(weight: w, logSum: (lHi, lLo), shift: (zHi, zLo))
        let grad = labelGradient(weight: a, sum: (sHi, sLo), rest: (rHi, rLo), targetShift: zHi, targetExp: ey)
        for l in 0..<8 {
            let one = labelLoss(weight: w[l], logSum: (lHi[l], lLo[l]), shift: (zHi[l], zLo[l]))
            let g = labelGradient(weight: a[l], sum: (sHi[l], sLo[l]), rest: (rHi[l], rLo[l]),
                                  targetShift: zHi[l], targetExp: ey[l])
            #expect(loss[l].bitPattern == one.bitPattern, "loss, round \(round) lane \(l): \(loss[l]) vs \(one)")
            #expect(grad.scale[l].bitPattern == g.scale.bitPattern, "scale, round \(round) lane \(l)")
            #expect(grad.target[l].bitPattern == g.target.bitPattern, "target, round \(round) lane \(l)")
        }
    }
}

func checkPartialErrors<T: SoftmaxScalar>(_: T.Type) throws {
    let x: [T] = [1, 2, 3, 4, 5, 6]
    let shape = try RowShape(outer: 2, n: 3)
    var s = [SoftmaxStatistics](repeating: .empty, count: 2)
    try softmaxStatistics(x, into: &s, shape: shape)
    var bad = s
    bad[1].sumHi = 0.5
    expectError(T.self, .invalidArgument) { y throws(SoftmaxError) in
        try softmax(x, statistics: bad, into: y, shape: shape)
    }
    expectError(T.self, .invalidArgument) { y throws(SoftmaxError) in
        try logSoftmax(x, statistics: s, into: y, shape: shape, temperature: 0)
    }
    expectError(T.self, .nullPointer) { y throws(SoftmaxError) in
        try softmax(x, statistics: nil, into: y, shape: shape)
    }
    expectError(T.self, .invalidArgument, count: 2) { y throws(SoftmaxError) in
        try logSumExp(statistics: bad, into: y, count: 2)
    }
    let keep = s
    #expect(throws: SoftmaxError.self) { try mergeSoftmaxStatistics(s, bad, into: &s, count: 2) }
    #expect(s == keep)
    var ce = [CrossEntropyStatistics](repeating: .empty, count: 2)
    #expect(throws: SoftmaxError(.labelOutOfRange, "labels[1] = 7 is outside [0, 6) and is not ignore_index (-100)")) {
        try crossEntropyStatistics(x, labels: [0, 7], shape: shape, targets: ShardedTargets(numClasses: 6), into: &ce)
    }
    #expect(ce.allSatisfy { $0 == .empty })
    try crossEntropyStatistics(x, labels: [0, 4], shape: shape, targets: ShardedTargets(numClasses: 6), into: &ce)
    var loss = [Double](repeating: 42, count: 1)
    do throws(SoftmaxError) {
        try crossEntropy(statistics: ce, labels: [0, 4], count: 2, targets: ShardedTargets(numClasses: 6), loss: &loss)
        Issue.record("a target in no shard accepted")
    } catch {
        #expect(error.code == .invalidArgument && error.message.contains("found in 0 shards"))
    }
    #expect(loss == [42])
}

// MARK: - the tests, once per scalar type

@Suite("PartialStatisticsTests")
struct PartialStatisticsTests {
    @Test(arguments: scalarTypes) func splitEqualsOnePiece(_ t: any SoftmaxScalar.Type) throws { try checkSplitEqualsOnePiece(t) }
    @Test(arguments: scalarTypes) func preciseLogSumExp(_ t: any SoftmaxScalar.Type) throws { try checkPreciseLogSumExp(t) }
    @Test(arguments: scalarTypes) func minusInfinitySafety(_ t: any SoftmaxScalar.Type) throws { try checkMinusInfinitySafety(t) }
    @Test(arguments: scalarTypes) func specialValues(_ t: any SoftmaxScalar.Type) throws { try checkPartialSpecialValues(t) }
    @Test(arguments: scalarTypes) func algebra(_ t: any SoftmaxScalar.Type) throws { try checkAlgebra(t) }
    @Test(arguments: scalarTypes) func shardedCrossEntropy(_ t: any SoftmaxScalar.Type) throws { try checkShardedCrossEntropy(t) }
    @Test(arguments: scalarTypes) func errors(_ t: any SoftmaxScalar.Type) throws { try checkPartialErrors(t) }
    @Test func labelFormLanesEqualScalar() { checkLabelFormLanesEqualScalar() }
}
