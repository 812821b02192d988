import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's klDivergence and entropy against the double-double references
// (Reference.klDivergence, Reference.entropy): values within 2 ulps (relative, also when the
// divergence is 1e-12 or the entropy of a one-hot-like row is tiny), the same NaNs and
// infinities; gradients within a few ulps of each row's largest gradient. Rows of every tail
// length, a strided (non-last) axis, temperatures, and the special rows of docs/design.md,
// "Special values".

private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
    if a == b { return 0 }
    if !a.isFinite || !b.isFinite { return .infinity }
    let scale = Swift.max(abs(a), abs(b), T.leastNormalMagnitude).ulp
    return abs(a.double - b.double) / scale.double
}

/// The largest error of `a` against `b` in ulps of the largest |b| (and |also|) of each slice:
/// normwise, over the whole gradient of the slice's value when `also` is its other part.
private func normwise<T: SoftmaxScalar>(_ a: [T], _ b: [T], slices: Int, n: Int, inner: Int, also: [T]? = nil) -> Double {
    var worst = 0.0
    for si in 0..<slices {
        let o = si / inner, j = si % inner
        let idx = (0..<n).map { o * n * inner + $0 * inner + j }
        let top = idx.flatMap { [abs(b[$0].double), abs(also?[$0].double ?? 0)] }.filter { $0.isFinite }.max() ?? 0
        let unit = Swift.max(T(rounding: top), T.leastNormalMagnitude).ulp.double
        for k in idx {
            if a[k].isNaN || b[k].isNaN { worst = Swift.max(worst, a[k].isNaN == b[k].isNaN ? 0 : .infinity); continue }
            if a[k] == b[k] { continue }
            worst = Swift.max(worst, abs(a[k].double - b[k].double) / unit)
        }
    }
    return worst
}

/// Row families: random, p ≈ q (tiny divergence), confident (one-hot-like), huge offsets,
/// -inf entries, special rows (NaN, +inf, all -inf), and log-ratios d near ±1 (where the Double
/// lanes change from φ's series to eb·Sa/Sb + ea (d - 1)).
private func family(_ f: Int, _ n: Int, _ r: inout SplitMix) -> ([Double], [Double]) {
    let a = (0..<n).map { _ in (r.unit() - 0.5) * 8 }
    switch f {
    case 0: return (a, (0..<n).map { _ in (r.unit() - 0.5) * 8 })
    case 1: return (a, a.map { $0 + (r.unit() - 0.5) * 1e-6 })
    case 2: return (a.enumerated().map { $0.offset == 0 ? 30 : $0.element }, a.map { $0 * 1.25 })
    case 3: return (a.map { $0 + 1e5 }, a.map { $0 * 0.5 - 3e4 })
    case 4: return (a.enumerated().map { $0.offset % 3 == 1 ? -.infinity : $0.element },
                    a.enumerated().map { $0.offset % 4 == 1 ? -.infinity : $0.element + 0.5 })
    case 5: return (a.enumerated().map { $0.offset % 3 == 1 ? -.infinity : $0.element },
                    a.enumerated().map { $0.offset % 3 == 1 ? -.infinity : $0.element * 0.9 })
    case 6: return (a.enumerated().map { $0.offset == n / 2 ? .infinity : $0.element }, a)
    case 7: return (a, a.enumerated().map { $0.offset == 0 ? .infinity : $0.element })
    case 8: return (a.enumerated().map { $0.offset == n - 1 ? .nan : $0.element }, a)
    case 9: return (a.map { _ in -.infinity }, a)
    case 10: return (a, a.map { _ in -.infinity })
    default:
        // b = a ± (1 ± 0.05·u): with La - Lb near 0, d straddles ±1 on both sides.
        return (a, a.enumerated().map { $0.element + ($0.offset % 2 == 0 ? 1 : -1) * (1 + (r.unit() - 0.5) * 0.1) })
    }
}

private func checkDivergences<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    var r = SplitMix(state: 0x5EED_0001)
    for n in [1, 2, 7, 8, 13, 40, 131] {
        for inner in [1, 3] {
            for temperature in [1.0, 0.7] {
                for f in 0..<12 {
                    let outer = 2, slices = outer * inner, count = outer * n * inner
                    var p = [T](repeating: 0, count: count), q = p
                    for si in 0..<slices {
                        let (a, b) = family(f, n, &r)
                        let o = si / inner, j = si % inner
                        for c in 0..<n {
                            p[o * n * inner + c * inner + j] = T(rounding: a[c])
                            q[o * n * inner + c * inner + j] = T(rounding: b[c])
                        }
                    }
                    var refKL = [T](repeating: 0, count: slices), ourKL = refKL, refH = refKL, ourH = refKL, ourH0 = refKL
                    var refGP = [T](repeating: 0, count: count), refGQ = refGP, ourGP = refGP, ourGQ = refGP
                    var refGH = refGP, ourGH = refGP
                    p.withUnsafeBufferPointer { pb in q.withUnsafeBufferPointer { qb in
                        Reference.klDivergence(pb.baseAddress!, qb.baseAddress!, n: n, inner: inner, slices: 0..<slices,
                                               temperature: temperature, divisor: 2, out: &refKL, gradP: &refGP, gradQ: &refGQ)
                        Reference.entropy(pb.baseAddress!, n: n, inner: inner, slices: 0..<slices,
                                          temperature: temperature, out: &refH, grad: &refGH)
                        ourKL.withUnsafeMutableBufferPointer { o in ourGP.withUnsafeMutableBufferPointer { gp in
                            ourGQ.withUnsafeMutableBufferPointer { gq in
                                let pr = KLDivergenceProblem(p: pb.baseAddress!, q: qb.baseAddress!, n: n, inner: inner,
                                                             temperature: temperature, perSlice: o.baseAddress!,
                                                             gradientP: gp.baseAddress!, gradientQ: gq.baseAddress!,
                                                             gradientDivisor: 2)
                                // Two ranges: a slice's result must not depend on its neighbours.
                                _ = k.klDivergence(pr, slices: 0..<1)
                                _ = k.klDivergence(pr, slices: 1..<slices)
                            } } }
                        ourH.withUnsafeMutableBufferPointer { o in ourGH.withUnsafeMutableBufferPointer { g in
                            let pr = EntropyProblem(logits: pb.baseAddress!, n: n, inner: inner, temperature: temperature,
                                                    out: o.baseAddress!, gradient: g.baseAddress!)
                            k.entropy(pr, slices: 0..<slices)
                        } }
                        // Without the gradient (float32 rows at T = 1 take the Float lanes).
                        ourH0.withUnsafeMutableBufferPointer { o in
                            k.entropy(EntropyProblem(logits: pb.baseAddress!, n: n, inner: inner, temperature: temperature,
                                                     out: o.baseAddress!, gradient: nil), slices: 0..<slices)
                        }
                    } }
                    let what = "\(tier) \(T.self) n \(n) inner \(inner) T \(temperature) family \(f)"
                    // The limits of special rows are summed plainly (docs/design.md): a looser bound.
                    let bound = (6...10).contains(f) ? 64.0 : 2.0
                    let kl = zip(ourKL, refKL).map { ulps($0, $1) }.max() ?? 0
                    #expect(kl <= bound, "\(what): KL \(kl) ulp: \(ourKL) vs \(refKL)")
                    let h = zip(ourH, refH).map { ulps($0, $1) }.max() ?? 0
                    #expect(h <= 2, "\(what): H \(h) ulp: \(ourH) vs \(refH)")
                    let h0 = zip(ourH0, refH).map { ulps($0, $1) }.max() ?? 0
                    #expect(h0 <= 2, "\(what): H without gradient \(h0) ulp: \(ourH0) vs \(refH)")
                    // P-gradients cancel (d - KL) where one class holds nearly all of P: measured
                    // against the whole gradient of the slice's divergence, both parts.
                    let gp = normwise(ourGP, refGP, slices: slices, n: n, inner: inner, also: refGQ)
                    // Q - P is measured in ulps of the probabilities themselves (each rounded
                    // once, their difference then exact): the scale of the distributions.
                    var probs = [T](repeating: 0, count: 2 * count)
                    p.withUnsafeBufferPointer { pb in q.withUnsafeBufferPointer { qb in
                        probs.withUnsafeMutableBufferPointer { y in
                            Reference.softmax(pb.baseAddress!, y.baseAddress!, mask: nil, n: n, inner: inner,
                                              slices: 0..<slices, temperature: T(rounding: temperature), log: false)
                            Reference.softmax(qb.baseAddress!, y.baseAddress! + count, mask: nil, n: n, inner: inner,
                                              slices: 0..<slices, temperature: T(rounding: temperature), log: false)
                        } } }
                    let probScale = (0..<count).map { T(rounding: Swift.max(probs[$0].double, probs[count + $0].double) / (2 * temperature)) }
                    let gq = normwise(ourGQ, refGQ, slices: slices, n: n, inner: inner, also: probScale)
                    let gh = normwise(ourGH, refGH, slices: slices, n: n, inner: inner)
                    #expect(gp <= 8 * bound && gq <= 8 && gh <= 8, "\(what): gradients \(gp) \(gq) \(gh) ulp")
                }
            }
        }
    }
}

@Test(arguments: Tier.available)
func tierDivergencesMatchScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkDivergences(k, tier, Float.self)
    checkDivergences(k, tier, Double.self)
}

/// Long float32 KL rows at T = 1 (the Float lanes take rows of up to 4,096 elements, 4,097 goes to
/// the Double lanes): random, P ≈ Q with divergences on both sides of the 2^-26 below which the
/// Float lanes hand the row over, confident rows (whose dominant p-gradient cancels) and huge
/// offsets, against the reference: values within 2 ulps, gradients as in
/// `tierDivergencesMatchScalarReference`.
@Test(arguments: Tier.available)
func tierKLOfLongFloatRows(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    var r = SplitMix(state: 0x5EED_0003)
    for n in [1000, 4096, 4097] {
        var rows: [([Double], [Double])] = (0..<4).map { family($0, n, &r) }
        for eps in [1e-5, 1e-4, 3e-4, 1e-3] {
            let a = (0..<n).map { _ in (r.unit() - 0.5) * 8 }
            rows.append((a, a.map { $0 + (r.unit() - 0.5) * eps }))
        }
        for lead in [15.0, 40.0] {
            let a = (0..<n).map { $0 == n / 3 ? lead : r.unit() - 0.5 }
            rows.append((a, a.map { $0 * 1.1 }))
        }
        let slices = rows.count, count = slices * n
        let p = rows.flatMap { $0.0.map { Float($0) } }, q = rows.flatMap { $0.1.map { Float($0) } }
        var refKL = [Float](repeating: 0, count: slices), ourKL = refKL
        var refGP = [Float](repeating: 0, count: count), refGQ = refGP, ourGP = refGP, ourGQ = refGP
        var probs = [Float](repeating: 0, count: 2 * count)
        p.withUnsafeBufferPointer { pb in q.withUnsafeBufferPointer { qb in
            Reference.klDivergence(pb.baseAddress!, qb.baseAddress!, n: n, inner: 1, slices: 0..<slices,
                                   temperature: 1, divisor: 3, out: &refKL, gradP: &refGP, gradQ: &refGQ)
            ourKL.withUnsafeMutableBufferPointer { o in ourGP.withUnsafeMutableBufferPointer { gp in
                ourGQ.withUnsafeMutableBufferPointer { gq in
                    _ = k.klDivergence(KLDivergenceProblem(p: pb.baseAddress!, q: qb.baseAddress!, n: n, inner: 1,
                                                           temperature: 1, perSlice: o.baseAddress!,
                                                           gradientP: gp.baseAddress!, gradientQ: gq.baseAddress!,
                                                           gradientDivisor: 3), slices: 0..<slices)
                } } }
            probs.withUnsafeMutableBufferPointer { y in
                Reference.softmax(pb.baseAddress!, y.baseAddress!, mask: nil, n: n, inner: 1,
                                  slices: 0..<slices, temperature: 1, log: false)
                Reference.softmax(qb.baseAddress!, y.baseAddress! + count, mask: nil, n: n, inner: 1,
                                  slices: 0..<slices, temperature: 1, log: false)
            }
        } }
        for si in 0..<slices {
            #expect(ulps(ourKL[si], refKL[si]) <= 2, "\(tier) n \(n) row \(si): KL \(ourKL[si]) vs \(refKL[si])")
        }
        let probScale = (0..<count).map { Float(Swift.max(probs[$0].double, probs[count + $0].double) / 3) }
        let gp = normwise(ourGP, refGP, slices: slices, n: n, inner: 1, also: refGQ)
        let gq = normwise(ourGQ, refGQ, slices: slices, n: n, inner: 1, also: probScale)
        #expect(gp <= 16 && gq <= 8, "\(tier) n \(n): gradients \(gp) \(gq) ulp")
    }
}

/// Long KL rows in the Double lanes: float64 at T = 1 and 0.7, float32 at T = 0.7 (the Float lanes
/// take only T = 1), contiguous and strided, of one scratch (`klChunk`, 4,096 elements) and more
/// than one (whose passes refill it), with every family's row, P ≈ Q rows, confident rows and
/// rows whose log-ratios straddle ±1, against the reference: values within 2 ulps, gradients as
/// in `tierDivergencesMatchScalarReference`; gradients written over the inputs equal the others.
@Test(arguments: Tier.available)
func tierKLOfLongRowsInDoubleLanes(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkLongKL(k, tier, Double.self, temperature: 1)
    checkLongKL(k, tier, Double.self, temperature: 0.7)
    checkLongKL(k, tier, Float.self, temperature: 0.7)
}

private func checkLongKL<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type, temperature: Double) {
    var r = SplitMix(state: 0x5EED_0004)
    for (n, inner) in [(1000, 1), (4096, 1), (4097, 1), (8192 + 13, 1), (4097, 2)] {
        var rows: [([Double], [Double])] = [0, 1, 2, 3, 4, 5, 11].map { family($0, n, &r) }
        for eps in [1e-8, 1e-5, 1e-3] {
            let a = (0..<n).map { _ in (r.unit() - 0.5) * 8 }
            rows.append((a, a.map { $0 + (r.unit() - 0.5) * eps }))
        }
        for lead in [15.0, 40.0] {
            let a = (0..<n).map { $0 == n / 3 ? lead : r.unit() - 0.5 }
            rows.append((a, a.map { $0 * 1.1 }))
        }
        let outer = rows.count, slices = outer * inner, count = outer * n * inner
        var p = [T](repeating: 0, count: count), q = p
        for si in 0..<slices {
            let (a, b) = si < outer ? rows[si] : rows[si % outer]
            let o = si / inner, j = si % inner
            for c in 0..<n {
                p[o * n * inner + c * inner + j] = T(rounding: a[c])
                q[o * n * inner + c * inner + j] = T(rounding: b[c] - (si >= outer ? 0.25 : 0))
            }
        }
        var refKL = [T](repeating: 0, count: slices), ourKL = refKL
        var refGP = [T](repeating: 0, count: count), refGQ = refGP, ourGP = refGP, ourGQ = refGP
        var probs = [T](repeating: 0, count: 2 * count)
        var inP = p, inQ = q
        p.withUnsafeBufferPointer { pb in q.withUnsafeBufferPointer { qb in
            Reference.klDivergence(pb.baseAddress!, qb.baseAddress!, n: n, inner: inner, slices: 0..<slices,
                                   temperature: temperature, divisor: 3, out: &refKL, gradP: &refGP, gradQ: &refGQ)
            ourKL.withUnsafeMutableBufferPointer { o in ourGP.withUnsafeMutableBufferPointer { gp in
                ourGQ.withUnsafeMutableBufferPointer { gq in
                    _ = k.klDivergence(KLDivergenceProblem(p: pb.baseAddress!, q: qb.baseAddress!, n: n, inner: inner,
                                                           temperature: temperature, perSlice: o.baseAddress!,
                                                           gradientP: gp.baseAddress!, gradientQ: gq.baseAddress!,
                                                           gradientDivisor: 3), slices: 0..<slices)
                } } }
            probs.withUnsafeMutableBufferPointer { y in
                Reference.softmax(pb.baseAddress!, y.baseAddress!, mask: nil, n: n, inner: inner,
                                  slices: 0..<slices, temperature: T(rounding: temperature), log: false)
                Reference.softmax(qb.baseAddress!, y.baseAddress! + count, mask: nil, n: n, inner: inner,
                                  slices: 0..<slices, temperature: T(rounding: temperature), log: false)
            }
        } }
        // In place: each gradient written over its own input.
        inP.withUnsafeMutableBufferPointer { pb in inQ.withUnsafeMutableBufferPointer { qb in
            _ = k.klDivergence(KLDivergenceProblem(p: pb.baseAddress!, q: qb.baseAddress!, n: n, inner: inner,
                                                   temperature: temperature, perSlice: nil,
                                                   gradientP: pb.baseAddress!, gradientQ: qb.baseAddress!,
                                                   gradientDivisor: 3), slices: 0..<slices)
        } }
        let what = "\(tier) \(T.self) T \(temperature) n \(n) inner \(inner)"
        for si in 0..<slices {
            #expect(ulps(ourKL[si], refKL[si]) <= 2, "\(what) slice \(si): KL \(ourKL[si]) vs \(refKL[si])")
        }
        let probScale = (0..<count).map { T(rounding: Swift.max(probs[$0].double, probs[count + $0].double) / (3 * temperature)) }
        let gp = normwise(ourGP, refGP, slices: slices, n: n, inner: inner, also: refGQ)
        let gq = normwise(ourGQ, refGQ, slices: slices, n: n, inner: inner, also: probScale)
        #expect(gp <= 16 && gq <= 8, "\(what): gradients \(gp) \(gq) ulp")
        #expect(inP.elementsEqual(ourGP, by: { $0 == $1 || ($0.isNaN && $1.isNaN) }) &&
                inQ.elementsEqual(ourGQ, by: { $0 == $1 || ($0.isNaN && $1.isNaN) }), "\(what): in place")
    }
}

/// float32 rows (short ones with a tail, one chunk, and more than one: `rowChunkLength` is
/// 16,384) of every family, confident rows whose entropy is near and below 2^-90, where the row
/// is handed to the general walk, and the cases the contiguous rows treat apart: ties of the
/// maximum (counted apart from the rest), -inf entries, entries far enough below the maximum
/// for their terms to underflow, and -0 beside a maximum of +0: within 2 ulps of the reference.
@Test(arguments: Tier.available)
func tierEntropyOfLongAndConfidentFloatRows(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    var r = SplitMix(state: 0x5EED_0002)
    for n in [13, 128, 1000, 16384 + 37] {
        var rows: [[Double]] = (0..<6).map { family($0, n, &r).0 }
        for lead in [20.0, 60.0, 95.0, 100.0] {
            rows.append((0..<n).map { $0 == n / 3 ? lead : (r.unit() - 0.5) })
        }
        rows.append((0..<n).map { $0 % 5 == 1 ? 30 : r.unit() * 4 - 2 })
        rows.append((0..<n).map { $0 % 3 == 2 ? -.infinity : r.unit() * 4 })
        rows.append((0..<n).map { $0 % 4 == 0 ? -2000 : (r.unit() - 0.5) * 30 })
        rows.append((0..<n).map { $0 == n / 2 ? 0 : ($0 % 2 == 0 ? -0.0 : -r.unit() * 3) })
        let x = rows.flatMap { $0.map { Float($0) } }
        var ours = [Float](repeating: 0, count: rows.count), ref = ours
        x.withUnsafeBufferPointer { xb in
            Reference.entropy(xb.baseAddress!, n: n, inner: 1, slices: 0..<rows.count, temperature: 1, out: &ref, grad: nil)
            ours.withUnsafeMutableBufferPointer { o in
                k.entropy(EntropyProblem(logits: xb.baseAddress!, n: n, inner: 1, temperature: 1, out: o.baseAddress!,
                                         gradient: nil), slices: 0..<rows.count)
            }
        }
        let worst = zip(ours, ref).map { ulps($0, $1) }.max() ?? 0
        #expect(worst <= 2, "\(tier) n \(n): \(worst) ulp: \(ours) vs \(ref)")
    }
}

/// Many samples (a partial last group of eight): the per-sample losses equal the reference's and
/// the returned sum their compensated sum.
@Test(arguments: Tier.available)
func tierNLLLossSumsManySamples(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    var r = SplitMix(state: 78)
    let n = 7, slices = 1003
    let x = (0..<(slices * n)).map { _ in Float(-r.unit() * 10) }
    let labels: [Int64] = (0..<slices).map { $0 % 5 == 4 ? -100 : Int64($0 % n) }
    var ref = [Float](repeating: 0, count: slices), ours = ref
    var total = CompensatedSumWithSpecials()
    x.withUnsafeBufferPointer { xb in labels.withUnsafeBufferPointer { lb in
        Reference.nllLoss(xb.baseAddress!, labels: lb.baseAddress!, weight: nil, n: n, inner: 1,
                          ignoreIndex: -100, slices: 0..<slices, out: &ref)
        ours.withUnsafeMutableBufferPointer { o in
            total = k.nllLoss(NLLLossProblem(logProbs: xb.baseAddress!, labels: lb.baseAddress!, weight: nil,
                                             n: n, inner: 1, ignoreIndex: -100, perSample: o.baseAddress!), slices: 0..<slices)
        }
    } }
    var expected = CompensatedSum()
    for v in ref { expected.add(Double(v)) }
    #expect(ours == ref)
    #expect(total.value == expected.value)
}

/// The vector label check against a scalar loop: every tail length, a bad label (negative, n,
/// far out) at every position, ignoreIndex outside [0, n) and inside it.
@Test(arguments: Tier.available)
func tierNLLLabelCheckMatchesScalarLoop(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    var r = SplitMix(state: 79)
    let n = 7
    for count in 0...40 {
        for ignore: Int64 in [-100, 3] {
            for badAt in -1..<count {
                // One more label than counted: the check must not read it.
                var labels = (0...count).map { _ in Int64(r.unit() * Double(n)) }
                labels[count] = -5
                for j in 0..<count where j % 4 == 1 { labels[j] = ignore }
                if badAt >= 0 { labels[badAt] = [Int64(-1), Int64(n), Int64.min, 1 << 40][badAt % 4] }
                let counted = labels[..<count].filter { $0 != ignore }.count
                let valid = labels[..<count].allSatisfy { $0 == ignore || (0..<Int64(n)).contains($0) }
                let got = labels.withUnsafeBufferPointer { k.checkLabels($0.baseAddress!, count: count, classes: n, ignoreIndex: ignore) }
                #expect(got == (valid, counted), "\(tier) count \(count) ignore \(ignore) bad at \(badAt)")
            }
        }
    }
}

@Test(arguments: Tier.available)
func tierNLLLossMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    var r = SplitMix(state: 77)
    let n = 5, inner = 3, outer = 4, slices = outer * inner
    let x = (0..<(outer * n * inner)).map { _ in -r.unit() * 10 }
    let w = (0..<n).map { Double($0 % 3) }
    let labels: [Int64] = (0..<slices).map { $0 % 4 == 3 ? -100 : Int64($0 % n) }
    var ref = [Double](repeating: 0, count: slices), ours = ref
    x.withUnsafeBufferPointer { xb in labels.withUnsafeBufferPointer { lb in w.withUnsafeBufferPointer { wb in
        Reference.nllLoss(xb.baseAddress!, labels: lb.baseAddress!, weight: wb.baseAddress!, n: n, inner: inner,
                          ignoreIndex: -100, slices: 0..<slices, out: &ref)
        ours.withUnsafeMutableBufferPointer { o in
            let pr = NLLLossProblem(logProbs: xb.baseAddress!, labels: lb.baseAddress!, weight: wb.baseAddress!,
                                    n: n, inner: inner, ignoreIndex: -100, perSample: o.baseAddress!)
            _ = k.nllLoss(pr, slices: 0..<slices)
        }
    } } }
    #expect(ours == ref)
}

@Test func divergencesRefuseBadArgumentsBeforeWriting() throws {
    let p: [Double] = [0, 1], q: [Double] = [1, 0]
    var loss = [Double](repeating: 7, count: 1)
    #expect(throws: SoftmaxError(.invalidArgument, "temperature must be finite and > 0, got 0.0")) {
        try klDivergence(p, q, shape: RowShape(n: 2), temperature: 0, reduction: .none, loss: &loss)
    }
    #expect(throws: SoftmaxError(.invalidArgument, "temperature must be finite and > 0, got inf")) {
        try entropy(p, into: &loss, shape: RowShape(n: 2), temperature: .infinity)
    }
    #expect(loss == [7])
    let labels: [Int64] = [0, 2]
    var two = [Double](repeating: 7, count: 2)
    #expect(throws: SoftmaxError(.labelOutOfRange, "labels[1] = 2 is outside [0, 2) and is not ignore_index (-100)")) {
        try nllLoss([0, 1, 2, 3] as [Double], labels: labels, shape: RowShape(outer: 2, n: 2), reduction: .none, loss: &two)
    }
    #expect(two == [7, 7])
    // KL of identical rows is exactly 0; the entropy of a uniform row of 4 is log 4.
    #expect(try klDivergence([1, 2, 3] as [Double], [1, 2, 3]) == 0)
    #expect(abs(try entropy([0, 0, 0, 0] as [Double]) - 1.3862943611198906) <= 2.3e-16)
}

@Test func divergencesAreBitwiseIndependentOfThreads() throws {
    var r = SplitMix(state: 5)
    let outer = 3000, n = 37
    let p = (0..<(outer * n)).map { _ in Float((r.unit() - 0.5) * 10) }
    let q = p.map { $0 + Float((r.unit() - 0.5) * 1e-3) }
    let shape = try RowShape(outer: outer, n: n)
    func run() throws -> ([Float], [Float], [Float], [Float]) {
        var kl: Float = 0, gp = [Float](repeating: 0, count: p.count), gq = gp, g = gp
        var h = [Float](repeating: 0, count: outer), h0 = h
        try klDivergence(p, q, shape: shape, reduction: .mean, loss: &kl, gradientP: &gp, gradientQ: &gq)
        try entropy(p, into: &h, shape: shape, gradient: &g)
        try entropy(p, into: &h0, shape: shape)
        return ([kl] + h + h0, gp, gq, g)
    }
    let before = Threads.count
    try Threads.setCount(1)
    let one = try run()
    try Threads.setCount(4)
    let four = try run()
    try Threads.setCount(before)
    #expect(one.0 == four.0 && one.1 == four.1 && one.2 == four.2 && one.3 == four.3)
}
