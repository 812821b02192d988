import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's cross-entropy with the options (sample weights, z-loss, softcap, lse) against
// the scalar reference (Reference.crossEntropy, double-double): per-sample losses and lse within
// 2 ulp, gradients within 4 ulp plus 8 ulp of their terms' magnitude, the same NaNs, and every
// tier bit for bit the same; integer labels (ignored ones among them, smoothing) and probability
// targets, a non-last class axis, rows longer than a vector, logits past the cap's saturation.

private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
    if a == b { return 0 }
    if !a.isFinite || !b.isFinite { return .infinity }
    let scale = Swift.max(abs(a), abs(b), T.leastNormalMagnitude).ulp
    return abs(a.double - b.double) / scale.double
}

private struct Case {
    var outer: Int, n: Int, inner: Int
    var soft: Bool, smoothing: Double, sampleWeights: Bool, zLoss: Double, softcap: Double, scale: Double
}

private func cases() -> [Case] {
    var all: [Case] = []
    for (o, n, i) in [(5, 7, 1), (3, 33, 1), (2, 5, 3), (1, 1, 1), (2, 300, 1)] {
        for soft in [false, true] {
            for (sw, z, cap) in [(true, 0.0, 0.0), (false, 1e-3, 0.0), (false, 0.0, 5.0), (true, 0.5, 30.0),
                                 (false, 0.0, 1.0)] {
                for scale in [3.0, 200.0] {
                    all.append(Case(outer: o, n: n, inner: i, soft: soft, smoothing: soft ? 0 : (n % 2 == 1 ? 0.1 : 0),
                                    sampleWeights: sw, zLoss: z, softcap: cap, scale: scale))
                }
            }
        }
    }
    return all
}

private struct Outputs<T: SoftmaxScalar>: Equatable {
    var loss: [T], grad: [T], lse: [T]
    static func == (a: Self, b: Self) -> Bool {
        func same(_ x: [T], _ y: [T]) -> Bool { zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } }
        return same(a.loss, b.loss) && same(a.grad, b.grad) && same(a.lse, b.lse)
    }
}

private func checkOptions<T: SoftmaxScalar>(_: T.Type) {
    var g = SplitMix(state: 0xC0FF_EE00_1234_5678)
    for c in cases() {
        let count = c.outer * c.n * c.inner, slices = c.outer * c.inner
        // Logits: ordinary, with ±inf and NaN where a cap makes them finite (or keeps NaN).
        var x = (0..<count).map { _ in T(rounding: (g.unit() - 0.5) * 2 * c.scale) }
        if c.softcap != 0 && count > 6 {
            x[1] = .infinity
            x[4] = -.infinity
            x[count - 1] = .nan
        }
        let labels: [Int64] = (0..<slices).map { k in k % 4 == 3 ? -100 : Int64(g.unit() * Double(c.n)) % Int64(c.n) }
        var q = (0..<count).map { _ in T(rounding: g.unit()) }
        if c.soft {
            for s in 0..<slices {
                let o = s / c.inner, i = s % c.inner
                let sum = (0..<c.n).reduce(0.0) { $0 + q[(o * c.n + $1) * c.inner + i].double }
                for j in 0..<c.n { q[(o * c.n + j) * c.inner + i] = T(rounding: q[(o * c.n + j) * c.inner + i].double / sum) }
            }
        }
        let w = (0..<c.n).map { _ in T(rounding: 0.25 + g.unit() * 2) }
        let sw = (0..<slices).map { _ in T(rounding: g.unit() * 3) }
        let divisor = 4.0
        func run(_ body: (CrossEntropyProblem<T>, UnsafeMutablePointer<T>, UnsafeMutablePointer<Double>?) -> Void)
            -> (Outputs<T>, [Double]) {
            var loss = [T](repeating: 7, count: slices), grad = [T](repeating: 7, count: count)
            var lse = [T](repeating: 7, count: slices), scale = [Double](repeating: 0, count: count)
            x.withUnsafeBufferPointer { xb in labels.withUnsafeBufferPointer { lb in q.withUnsafeBufferPointer { qb in
                w.withUnsafeBufferPointer { wb in sw.withUnsafeBufferPointer { swb in
                    loss.withUnsafeMutableBufferPointer { l in grad.withUnsafeMutableBufferPointer { gr in
                        lse.withUnsafeMutableBufferPointer { e in scale.withUnsafeMutableBufferPointer { sc in
                            let pb = CrossEntropyProblem(
                                logits: xb.baseAddress!, labels: c.soft ? nil : lb.baseAddress!,
                                targets: c.soft ? qb.baseAddress! : nil, weight: wb.baseAddress!, n: c.n, inner: c.inner,
                                ignoreIndex: -100, smoothing: c.smoothing, perSample: l.baseAddress!,
                                gradient: gr.baseAddress!, gradientDivisor: divisor,
                                sampleWeight: c.sampleWeights ? swb.baseAddress! : nil, zLoss: c.zLoss,
                                softcap: c.softcap, lse: e.baseAddress!)
                            body(pb, l.baseAddress!, sc.baseAddress!)
                        } }
                    } }
                } }
            } } }
            return (Outputs(loss: loss, grad: grad, lse: lse), scale)
        }
        // Without a cap, ±inf logits are the kernels' limits, outside the reference's scope.
        let (ref, scale) = run { pb, loss, sc in Reference.crossEntropy(pb, slices: 0..<slices, loss: loss, gradientScale: sc) }
        var first: Outputs<T>?
        for tier in Tier.available {
            let k = Tier.kernels(named: tier)!
            // Two ranges, the second starting mid-way: the sample index must follow.
            let (ours, _) = run { pb, _, _ in
                _ = k.crossEntropy(pb, slices: 0..<slices / 2)
                _ = k.crossEntropy(pb, slices: slices / 2..<slices)
            }
            let what = "\(tier) \(T.self) \(c)"
            let lossErr = zip(ours.loss, ref.loss).map { ulps($0, $1) }.max() ?? 0
            let lseErr = zip(ours.lse, ref.lse).map { ulps($0, $1) }.max() ?? 0
            #expect(lossErr <= 2, "\(what): loss \(lossErr) ulp")
            #expect(lseErr <= 2, "\(what): lse \(lseErr) ulp")
            let eps = Double(T.ulpOfOne)
            for idx in 0..<count {
                let a = ours.grad[idx], b = ref.grad[idx]
                if a.isNaN || b.isNaN {
                    #expect(a.isNaN && b.isNaN, "\(what): grad[\(idx)] \(a) vs \(b)")
                    continue
                }
                let bound = 4 * Swift.max(abs(b), T.leastNormalMagnitude).ulp.double + 8 * eps * scale[idx]
                #expect(abs(a.double - b.double) <= bound, "\(what): grad[\(idx)] \(a) vs \(b)")
            }
            if let first { #expect(ours == first, "\(what): tiers differ") } else { first = ours }
        }
    }
}

@Test func crossEntropyOptionsOnEveryTierMatchScalarReference() {
    checkOptions(Float.self)
    checkOptions(Double.self)
}

@Test func crossEntropyOptionsRefuseBadArgumentsBeforeWriting() throws {
    let x: [Double] = [0, 1, 2, 2, 1, 0]
    let labels: [Int64] = [1, 2]
    var loss = [Double](repeating: 7, count: 2), lse = [Double](repeating: 7, count: 2)
    var grad = [Double](repeating: 7, count: 6)
    func call(sampleWeight: [Double]? = nil, zLoss: Double = 0, softcap: Double? = nil) throws(SoftmaxError) {
        let shape = try RowShape(outer: 2, n: 3)
        if let sampleWeight {
            try crossEntropy(x, labels: labels, shape: shape, reduction: .none, loss: &loss, gradient: &grad,
                             sampleWeight: sampleWeight, zLoss: zLoss, softcap: softcap, lse: &lse)
        } else {
            try crossEntropy(x, labels: labels, shape: shape, reduction: .none, loss: &loss, gradient: &grad,
                             zLoss: zLoss, softcap: softcap, lse: &lse)
        }
    }
    #expect(throws: SoftmaxError(.invalidArgument, "z_loss must be finite and >= 0, got -1.0")) { try call(zLoss: -1) }
    #expect(throws: SoftmaxError(.invalidArgument, "z_loss must be finite and >= 0, got nan")) { try call(zLoss: .nan) }
    #expect(throws: SoftmaxError(.invalidArgument, "softcap must be finite and > 0, got 0.0")) { try call(softcap: 0) }
    #expect(throws: SoftmaxError(.invalidArgument, "softcap must be finite and > 0, got inf")) { try call(softcap: .infinity) }
    #expect(throws: SoftmaxError(.invalidArgument, "sample_weight[1] must be finite and >= 0, got -1.0")) {
        try call(sampleWeight: [1, -1])
    }
    #expect(throws: SoftmaxError(.invalidArgument, "sample_weight[0] must be finite and >= 0, got nan")) {
        try call(sampleWeight: [.nan, 1])
    }
    #expect(loss == [7, 7] && lse == [7, 7] && grad.allSatisfy { $0 == 7 })
    try call(sampleWeight: [2, 0.5], zLoss: 1e-3, softcap: 3)
    #expect(loss[0] > 0 && lse[0] != 7 && grad[0] != 7)
}
