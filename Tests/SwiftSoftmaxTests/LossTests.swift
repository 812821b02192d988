import Foundation
import Testing
import SwiftSoftmax

/// Derivatives, one-hot and cross-entropy through the Swift API. Every check is written once,
/// generically, and run for Float and Double.
@Suite struct LossTests {
    // MARK: helpers

    /// Relative tolerance: a few roundings of the storage type.
    static func tol<T: SoftmaxScalar>(_: T.Type) -> Double { 8 * Double(T.ulpOfOne) }

    static func close<T: SoftmaxScalar>(_ a: T, _ b: Double, scale: Double = 0) -> Bool {
        let d = abs(Double(a) - b)
        return d <= tol(T.self) * (abs(b) + scale) || Double(a) == b
    }

    /// Double softmax of a row, the plain way: the reference for ordinary inputs.
    static func probabilities(_ x: [Double]) -> [Double] {
        let m = x.max()!
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func run<T: SoftmaxScalar>(_ x: [T], labels: [Int64], shape: RowShape, weight: [T]? = nil,
                                      ignoreIndex: Int64 = -100, smoothing: T = 0,
                                      reduction: Reduction) throws -> (loss: [T], grad: [T]) {
        var loss = [T](repeating: 0, count: reduction == .none ? shape.slices : 1)
        var grad = [T](repeating: 0, count: x.count)
        try x.withUnsafeBufferPointer { xb in
            try labels.withUnsafeBufferPointer { lb in
                try loss.withUnsafeMutableBufferPointer { ob in
                    try grad.withUnsafeMutableBufferPointer { gb in
                        if let weight {
                            try weight.withUnsafeBufferPointer { wb in
                                try crossEntropy(xb.baseAddress, labels: lb.baseAddress, weight: wb.baseAddress,
                                                 shape: shape, ignoreIndex: ignoreIndex, labelSmoothing: smoothing,
                                                 reduction: reduction, loss: ob.baseAddress, gradient: gb.baseAddress)
                            }
                        } else {
                            try crossEntropy(xb.baseAddress, labels: lb.baseAddress, shape: shape,
                                             ignoreIndex: ignoreIndex, labelSmoothing: smoothing,
                                             reduction: reduction, loss: ob.baseAddress, gradient: gb.baseAddress)
                        }
                    }
                }
            }
        }
        return (loss, grad)
    }

    // MARK: generic checks

    func articleFacts<T: SoftmaxScalar>(_: T.Type) throws {
        let x: [T] = [0, 2, 4]
        let p = Self.probabilities([0, 2, 4])
        let j = try softmaxJacobian(x)
        for i in 0..<3 {
            for k in 0..<3 {
                let want = i == k ? p[i] * (1 - p[i]) : -p[i] * p[k]
                #expect(Self.close(j[i][k], want), "J[\(i)][\(k)]")
            }
        }
        // p(1-p) is largest, 1/4, at p = 1/2.
        #expect(try softmaxJacobian([1, 1] as [T])[0][0] == 0.25)
        // The c3 example: -ln 0.8668.
        let loss = try crossEntropy(x, label: 2)
        #expect(abs(Double(loss) + log(0.8668)) < 1e-4)
        #expect(Self.close(loss, -log(p[2])))
    }

    func fusedGradient<T: SoftmaxScalar>(_: T.Type) throws {
        // [outer=2, n=3, inner=2], labels [2, 2] with one ignored, weights, smoothing, all reductions.
        let xs: [Double] = [0.5, -1, 2, 0, 1, 3, -2, 0.25, 1.5, 1, 0, -0.5]
        let x = xs.map { T(rounding: $0) }
        let labels: [Int64] = [2, -100, 0, 1]
        let w: [T] = [1, 2, 0.5]
        let eps = 0.1
        let shape = try RowShape(outer: 2, n: 3, inner: 2)
        // Reference: per sample, coefficients c and loss Σ c (-log p), gradient (Σc) p - c.
        var perSample = [Double](repeating: 0, count: 4)
        var grad = [Double](repeating: 0, count: 12)
        var denom = 0.0
        for s in 0..<4 where labels[s] != -100 {
            let o = s / 2, i = s % 2
            let idx = (0..<3).map { o * 6 + $0 * 2 + i }
            let row = idx.map { Double(x[$0]) }
            let p = Self.probabilities(row)
            let y = Int(labels[s])
            let c = (0..<3).map { k in (k == y ? (1 - eps) * Double(w[y]) : 0) + eps / 3 * Double(w[k]) }
            perSample[s] = (0..<3).map { c[$0] * -log(p[$0]) }.reduce(0, +)
            let a = c.reduce(0, +)
            for k in 0..<3 { grad[idx[k]] = a * p[k] - c[k] }
            denom += Double(w[y])
        }
        for reduction in Reduction.allCases {
            let r = try Self.run(x, labels: labels, shape: shape, weight: w, smoothing: T(rounding: eps),
                                 reduction: reduction)
            let total = perSample.reduce(0, +)
            switch reduction {
            case .none:
                for s in 0..<4 { #expect(Self.close(r.loss[s], perSample[s])) }
            case .sum: #expect(Self.close(r.loss[0], total))
            case .mean: #expect(Self.close(r.loss[0], total / denom))
            }
            let div = reduction == .mean ? denom : 1
            for k in 0..<12 { #expect(Self.close(r.grad[k], grad[k] / div, scale: 1), "grad[\(k)] \(reduction)") }
            #expect(r.grad[1] == 0 && r.grad[3] == 0 && r.grad[5] == 0)   // ignored sample (0, 1)
        }
    }

    func tinyLoss<T: SoftmaxScalar>(_: T.Type) throws {
        // A confident correct prediction: log1p(e^-d), where -log(softmax) rounds to 0.
        let d: Double = T.self == Float.self ? 20 : 25
        let r = try Self.run([0, T(rounding: d)], labels: [1], shape: RowShape(n: 2), reduction: .mean)
        let e = exp(-d)
        #expect(r.loss[0] > 0)
        #expect(abs(Double(r.loss[0]) - log1p(e)) <= 2 * log1p(e) * Double(T.ulpOfOne))
        #expect(abs(Double(r.grad[1]) + e / (1 + e)) <= 2 * e * Double(T.ulpOfOne))
    }

    func vjps<T: SoftmaxScalar>(_: T.Type) throws {
        let xs: [Double] = [0.3, -1, 2]
        let p = Self.probabilities(xs)
        let y = p.map { T(rounding: $0) }
        let g: [T] = [1, -2, 0.5]
        var dx = [T](repeating: 0, count: 3)
        try softmaxVJP(y, g, into: &dx, shape: RowShape(n: 3))
        let dot = (0..<3).map { Double(y[$0]) * Double(g[$0]) }.reduce(0, +)
        for i in 0..<3 { #expect(Self.close(dx[i], Double(y[i]) * (Double(g[i]) - dot), scale: 1)) }
        let logy = try logSoftmax(xs.map { T(rounding: $0) })
        try logSoftmaxVJP(logy, g, into: &dx, shape: RowShape(n: 3), temperature: 2)
        let sg = g.map { Double($0) }.reduce(0, +)
        for i in 0..<3 {
            #expect(Self.close(dx[i], (Double(g[i]) - exp(Double(logy[i])) * sg) / 2, scale: 1))
        }
        // All -inf / fully masked rows: zero gradients, never NaN.
        let dead = [T](repeating: -.infinity, count: 3)
        try logSoftmaxVJP(dead, g, into: &dx, shape: RowShape(n: 3))
        #expect(dx == [0, 0, 0])
        try softmaxVJP([0, 0, 0] as [T], g, into: &dx, shape: RowShape(n: 3))
        #expect(dx == [0, 0, 0])
    }

    func oneHots<T: SoftmaxScalar>(_: T.Type) throws {
        var out = [T](repeating: 9, count: 6)
        try oneHot([2, 0] as [Int64], count: 2, numClasses: 3, into: &out)
        #expect(out == [0, 0, 1, 1, 0, 0])
    }

    func errors<T: SoftmaxScalar>(_: T.Type) throws {
        let x: [T] = [0, 1, 2, 2, 1, 0]
        let shape = try RowShape(outer: 2, n: 3)
        var loss: [T] = [42]
        var grad = [T](repeating: 7, count: 6)
        func attempt(_ labels: [Int64], _ eps: T, _ code: SoftmaxError.Code, _ text: String) {
            do {
                try x.withUnsafeBufferPointer { xb in
                    try crossEntropy(xb.baseAddress, labels: labels, shape: shape, labelSmoothing: eps,
                                     loss: &loss, gradient: &grad)
                }
                Issue.record("expected \(code)")
            } catch let e as SoftmaxError {
                #expect(e.code == code)
                #expect(e.message.contains(text), "\(e.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        attempt([1, 3], 0, .labelOutOfRange, "labels[1] = 3")
        attempt([-5, 0], 0, .labelOutOfRange, "labels[0] = -5")
        attempt([1, 2], 1.5, .invalidArgument, "label_smoothing")
        attempt([1, 2], -.ulpOfOne, .invalidArgument, "label_smoothing")
        attempt([1, 2], .nan, .invalidArgument, "label_smoothing")
        #expect(loss == [42] && grad.allSatisfy { $0 == 7 })
        #expect(throws: SoftmaxError.self) { try Reduction(code: 3) }
        var jac = [T](repeating: 7, count: 9)
        #expect(throws: SoftmaxError.self) {
            try softmaxJacobian([0, 1, 2] as [T], into: &jac, shape: RowShape(n: 3), temperature: 0)
        }
        #expect(jac.allSatisfy { $0 == 7 })
        var oh = [T](repeating: 7, count: 6)
        #expect(throws: SoftmaxError.self) { try oneHot([0, 3] as [Int64], count: 2, numClasses: 3, into: &oh) }
        #expect(oh.allSatisfy { $0 == 7 })
    }

    // MARK: tests, one per check, run for both types

    @Test func articleDerivativeFactsAndC3Loss() throws { try articleFacts(Float.self); try articleFacts(Double.self) }
    @Test func fusedGradientMatchesClosedForm() throws { try fusedGradient(Float.self); try fusedGradient(Double.self) }
    @Test func tinyLossKeepsRelativePrecision() throws { try tinyLoss(Float.self); try tinyLoss(Double.self) }
    @Test func vectorJacobianProducts() throws { try vjps(Float.self); try vjps(Double.self) }
    @Test func oneHotRows() throws { try oneHots(Float.self); try oneHots(Double.self) }
    @Test func errorsWriteNothing() throws { try errors(Float.self); try errors(Double.self) }
}
