import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

/// Every tier's softmax Jacobian against the scalar reference: the same special values (NaN
/// blocks, zero blocks, the +inf limit's exact shares), every other entry within the
/// reference's own error (its rounded probabilities: a few ulps in float64, under one in
/// float32) — the exact bound is python/tests/test_accuracy.py's — the same bits for any split
/// of the slices, and a symmetric block.
private func checkJacobian<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    let shapes = [(1, 1, 1), (3, 2, 1), (4, 7, 1), (2, 8, 1), (5, 9, 1), (2, 33, 1), (1, 100, 1), (3, 5, 4), (2, 17, 3)]
    let temperatures: [T] = [1, T(rounding: 0.5), T(rounding: 3.25)]
    var seed: UInt64 = 12345
    func unit() -> Double {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Double(seed >> 11) / Double(1 << 53)
    }
    for (outer, n, inner) in shapes {
        for (ti, t) in temperatures.enumerated() {
            let slices = outer * inner
            var x = (0..<(outer * n * inner)).map { _ in T(rounding: (unit() - 0.5) * 30) }
            // Slice 0 keeps ordinary values; the others get one special pattern each.
            for s in 1..<slices {
                let o = s / inner, j = s % inner
                let at = { (i: Int) in o * n * inner + i * inner + j }
                switch s % 4 {
                case 1: x[at(n / 2)] = .infinity; x[at(0)] = .infinity
                case 2: x[at(n - 1)] = .nan
                case 3: for i in 0..<n { x[at(i)] = -.infinity }
                default: x[at(0)] = T(rounding: 200)  // a confident slice: p near 1
                }
            }
            let count = slices * n * n
            var ref = [T](repeating: 0, count: count), ours = ref, split = ref
            x.withUnsafeBufferPointer { xb in
                let xp = xb.baseAddress!
                ref.withUnsafeMutableBufferPointer {
                    Reference.softmaxJacobian(xp, $0.baseAddress!, n: n, inner: inner, slices: 0..<slices, temperature: t)
                }
                ours.withUnsafeMutableBufferPointer {
                    k.softmaxJacobian(xp, $0.baseAddress!, n: n, inner: inner, slices: 0..<slices, temperature: t)
                }
                split.withUnsafeMutableBufferPointer { b in
                    for r in [0..<slices / 2, slices / 2..<slices] {
                        k.softmaxJacobian(xp, b.baseAddress!, n: n, inner: inner, slices: r, temperature: t)
                    }
                }
            }
            let what = "\(tier) \(T.self) jacobian shape \((outer, n, inner)) T #\(ti)"
            let tolerance = T.self == Float.self ? 1.0 : 8.0  // in ulps of the reference entry
            let bad = (0..<count).first { i in
                let a = ours[i].double, b = ref[i].double
                if a.isNaN || b.isNaN { return a.isNaN != b.isNaN }
                if b == 0 || !b.isFinite { return a != b }
                return abs(a - b) > tolerance * T(rounding: abs(b)).ulp.double
            }
            #expect(bad == nil, "\(what): at \(bad ?? 0): \(bad.map { ours[$0] } ?? 0) vs \(bad.map { ref[$0] } ?? 0)")
            #expect(zip(split, ours).allSatisfy { $0.double.bitPattern == $1.double.bitPattern || ($0.isNaN && $1.isNaN) },
                    "\(what): split slices differ")
            for s in 0..<slices {
                let b = s * n * n
                let asymmetric = (0..<n).contains { i in (0..<n).contains { j in
                    let u = ours[b + i * n + j], v = ours[b + j * n + i]
                    return !(u == v || (u.isNaN && v.isNaN))
                } }
                #expect(!asymmetric, "\(what): slice \(s) is not symmetric")
            }
        }
    }
}

@Test(arguments: Tier.available)
func tierJacobianMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkJacobian(k, tier, Float.self)
    checkJacobian(k, tier, Double.self)
}
