import Foundation
import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's vsigmoid and vlogsigmoid against the scalar reference (Reference.sigmoid,
// about half an ulp from the exact value): within one ulp, the same NaNs, infinities and zero
// signs, on hostile values and on every length of tail, out of place and in place.

/// The hostile values: zeros, infinities, NaN, subnormals, the extremes, and the neighbourhoods
/// of ±20, ±88 (Float's exp range), ±709 and ±745 (Double's), and ±76 and ±700, where the
/// log-sigmoids stop adding their exp's low part.
private func hostile<T: SoftmaxScalar>(_: T.Type) -> [T] {
    var v: [T] = [0, -0.0, .infinity, -.infinity, .nan, T.leastNonzeroMagnitude, -T.leastNonzeroMagnitude,
                  T.leastNormalMagnitude, -T.leastNormalMagnitude, T.greatestFiniteMagnitude,
                  -T.greatestFiniteMagnitude, 1e-30, -1e-30, 1, -1, 0.5, -0.5]
    for c in [20.0, 88.0, 103.9, 104.0, 709.0, 745.0, 745.1332, 746.0, 36.7, 40.0, 17.0, 20.13, 87.33, 362.5, 382.6, 700.0, 76.0] {
        for d in [-1.0, -0.01, -1e-4, 0, 1e-4, 0.01, 1.0] {
            v.append(T(rounding: c + d))
            v.append(T(rounding: -(c + d)))
        }
    }
    // NaNs of either sign, quiet and signalling, with payloads: AVX2's Float exp takes its high
    // part's exponent from the bits of a NaN (a finite number for some payloads) and carries the
    // NaN in its low part only.
    for bits: UInt32 in [0xFF9F_FF00, 0x7FA0_0000, 0xFFC0_0001, 0x7FFF_FFFF, 0xFF80_0001] {
        v.append(T(rounding: Double(Float(bitPattern: bits))))
    }
    // The Float log-sigmoid's ends: the last Float whose exp(-v) does not underflow in Double and
    // the next, where the result turns from -0 to +0.
    for b in [Float(745.13318), Float(745.13324)] { v.append(T(rounding: Double(b))); v.append(T(rounding: -Double(b))) }
    // Where exp(-|v|) = (j + 1/2)/31 and (j + 1/2)/15, the edges of the Float and Double
    // log-sigmoids' table intervals, and just beside them.
    for n in [31, 15] {
        for j in 0..<n {
            let c = -Foundation.log((Double(j) + 0.5) / Double(n))
            for d in [-1e-6, -1e-12, 0, 1e-12, 1e-6] { v.append(T(rounding: c + d)); v.append(T(rounding: -(c + d))) }
        }
    }
    return v
}

/// A dense sweep of [-110, 110], every part of the exp and log tables' ranges.
private func sweep<T: SoftmaxScalar>(_: T.Type) -> [T] {
    (0...4400).map { T(rounding: -110 + Double($0) * 0.05 + 0.0123) }
}

/// A deterministic spread of ordinary values, so that every length of tail sees mixed signs.
private func ordinary<T: SoftmaxScalar>(_: T.Type, count: Int) -> [T] {
    var s: UInt64 = 0x2545_F491_4F6C_DD1D
    return (0..<count).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return T(rounding: (Double(s >> 11) / Double(1 << 53) - 0.5) * 60)
    }
}

/// The distance in ulps of the larger magnitude (subnormals: in units of the least one); 0 for
/// two NaNs or two equal values of the same sign (so +0 and -0 differ).
private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
    if a == b { return a.sign == b.sign ? 0 : .infinity }
    if !a.isFinite || !b.isFinite { return .infinity }
    let scale = Swift.max(abs(a), abs(b), T.leastNormalMagnitude).ulp
    return abs(a.double - b.double) / scale.double
}

private func checkSigmoid<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    let all = hostile(T.self)
    // Every length 0...40 of the hostile values (the tails of every vector width), then the whole
    // list, and ordinary values shifted by one element (unaligned starts).
    var inputs: [[T]] = (0...40).map { n in (0..<n).map { all[($0 * 7 + n) % all.count] } }
    inputs.append(all)
    inputs.append(Array(ordinary(T.self, count: 1001).dropFirst()))
    inputs.append(sweep(T.self))
    for log in [false, true] {
        for x in inputs {
            let n = x.count
            var ref = [T](repeating: 0, count: n), ours = ref
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                ref.withUnsafeMutableBufferPointer { Reference.sigmoid(xp, $0.baseAddress!, range: 0..<n, log: log) }
                ours.withUnsafeMutableBufferPointer { o in
                    if log { k.vlogsigmoid(xp, o.baseAddress!, count: n) } else { k.vsigmoid(xp, o.baseAddress!, count: n) }
                }
            }
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                if log { k.vlogsigmoid(UnsafePointer(p), p, count: n) } else { k.vsigmoid(UnsafePointer(p), p, count: n) }
            }
            let errs = zip(ours, ref).map { ulps($0, $1) }
            let worst = errs.max() ?? 0
            let at = errs.firstIndex(of: worst) ?? 0
            #expect(worst <= 1, "\(tier) \(T.self) \(log ? "vlogsigmoid" : "vsigmoid") n \(n): \(worst) ulp at x = \(n > 0 ? "\(x[at]): \(ours[at]) vs \(ref[at])" : "-")")
            #expect(zip(inPlace, ours).allSatisfy { $0.double.bitPattern == $1.double.bitPattern || ($0.isNaN && $1.isNaN) },
                    "\(tier) \(T.self) \(log ? "vlogsigmoid" : "vsigmoid") n \(n): in place differs")
        }
    }
}

@Test(arguments: Tier.available)
func tierSigmoidMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkSigmoid(k, tier, Float.self)
    checkSigmoid(k, tier, Double.self)
}
