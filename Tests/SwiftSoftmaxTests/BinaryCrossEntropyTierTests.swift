import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's binaryCrossEntropyWithLogits against the scalar reference
// (Reference.binaryCrossEntropyWithLogits, double-double): losses and gradients within one ulp,
// the same NaNs and infinities, on every length of tail, with and without weights, pos_weight
// rows that wrap inside a vector, and large |x| with pos_weight (pytorch#13773's case).

private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
    if a == b { return 0 }
    if !a.isFinite || !b.isFinite { return .infinity }
    let scale = Swift.max(abs(a), abs(b), T.leastNormalMagnitude).ulp
    return abs(a.double - b.double) / scale.double
}

private func checkBCE<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    var s: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Double {
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(s >> 11) / Double(1 << 53)
    }
    let specials: [Double] = [0, -0.0, .infinity, -.infinity, .nan, 40, -40, 745, -745, 800, -800, 1e30, -1e30]
    for count in [1, 3, 8, 13, 40, 131] {
        for n in [1, 3, 8, 11, count] {
            let x = (0..<count).map { i in T(rounding: i % 5 == 0 ? specials[(i / 5) % specials.count] : (next() - 0.5) * 200) }
            let t = (0..<count).map { i in T(rounding: i % 3 == 0 ? Double(i % 2) : next()) }
            let w = (0..<count).map { _ in T(rounding: next() * 3) }
            let pw = (0..<n).map { _ in T(rounding: next() * 8) }
            for (useW, usePW) in [(false, false), (true, false), (false, true), (true, true)] {
                var ref = [T](repeating: 0, count: count), refG = ref, ours = ref, oursG = ref
                x.withUnsafeBufferPointer { xb in t.withUnsafeBufferPointer { tb in
                    w.withUnsafeBufferPointer { wb in pw.withUnsafeBufferPointer { pb in
                        let wp = useW ? wb.baseAddress : nil, pp = usePW ? pb.baseAddress : nil
                        ref.withUnsafeMutableBufferPointer { r in refG.withUnsafeMutableBufferPointer { g in
                            Reference.binaryCrossEntropyWithLogits(
                                xb.baseAddress!, tb.baseAddress!, weight: wp, posWeight: pp, n: n,
                                range: 0..<count, divisor: 1, loss: r.baseAddress!, grad: g.baseAddress!)
                        } }
                        ours.withUnsafeMutableBufferPointer { o in oursG.withUnsafeMutableBufferPointer { g in
                            let pb = BinaryCrossEntropyProblem(
                                logits: xb.baseAddress!, targets: tb.baseAddress!, weight: wp, posWeight: pp,
                                n: n, perElement: o.baseAddress!, gradient: g.baseAddress!, gradientDivisor: 1)
                            // Two ranges, the second starting mid-row: the class index must follow.
                            let half = count / 2
                            _ = k.binaryCrossEntropyWithLogits(pb, range: 0..<half)
                            _ = k.binaryCrossEntropyWithLogits(pb, range: half..<count)
                        } }
                    } }
                } }
                for (name, a, b) in [("loss", ours, ref), ("grad", oursG, refG)] {
                    let errs = zip(a, b).map { ulps($0, $1) }
                    let worst = errs.max() ?? 0
                    let at = errs.firstIndex(of: worst) ?? 0
                    #expect(worst <= 1, "\(tier) \(T.self) \(name) count \(count) n \(n) w \(useW) pw \(usePW): \(worst) ulp at x = \(x[at]), t = \(t[at]): \(a[at]) vs \(b[at])")
                }
            }
        }
    }
}

@Test(arguments: Tier.available)
func tierBinaryCrossEntropyMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkBCE(k, tier, Float.self)
    checkBCE(k, tier, Double.self)
}

@Test func binaryCrossEntropyRefusesBadArgumentsBeforeWriting() throws {
    let x: [Double] = [0, 1], t: [Double] = [0.5, 2]
    var loss = [Double](repeating: 7, count: 2)
    #expect(throws: SoftmaxError(.invalidArgument, "target[1] = 2.0 is outside [0, 1]")) {
        try binaryCrossEntropyWithLogits(x, targets: t, shape: RowShape(n: 2), reduction: .none, loss: &loss)
    }
    #expect(loss == [7, 7])
    #expect(try binaryCrossEntropyWithLogits([0, 40] as [Double], targets: [1, 1], reduction: .sum) == 0.6931471805599453 + 4.248354255291589e-18)
}
