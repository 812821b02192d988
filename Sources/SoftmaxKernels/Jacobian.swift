import SoftmaxCore
import SoftmaxScalarKernels

// The softmax Jacobian J[i][j] = p_i (δ_ij - p_j) / T, one n × n block per slice (docs/design.md,
// "Kernels"). The block is n² outputs from n probabilities, so the work is writing it: each row
// is a vector loop over the probabilities, and the probabilities are computed once per slice as
// double-doubles, so that every entry is rounded once:
//
//   probabilityPairs    e_i = exp((x_i - max) / T) as pairs (vexpPair, 2^-57), their
//                       compensated lane sum S and the sum of all but the first maximum
//                       and p_i = e_i / S as pairs (the quotient and its remainder)
//   vjacobianrow        (-p_i / T) p_j, with -p_i / T a pair, by an exact product of the high
//                       parts and the cross terms, rounded once; then the diagonal
//                       p_i (1 - p_i) / T, with 1 - p_i of the largest probability as the sum
//                       of the others over S
//
// Every entry is within about 0.6 ulp in float64 and 0.5 in float32. The scalar code this
// replaced, tested against as `Reference.softmaxJacobian`, multiplied rounded probabilities
// (up to 5 ulp in float64).

extension Kernels {
    /// The softmax Jacobian of slices `slices` of an [outer, n, inner] array into `jac`, laid out
    /// [outer, inner, n, n]. A NaN slice gives a NaN block; an all -inf slice a zero block.
    public static func softmaxJacobian<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ jac: UnsafeMutablePointer<T>, n: Int, inner: Int, slices: Range<Int>, temperature: T
    ) {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            jacobianSlices(x.as(Float.self), jac.as(Float.self), n, inner, slices, temperature.double)
        } else {
            jacobianSlices(x.as(Double.self), jac.as(Double.self), n, inner, slices, temperature.double)
        }
    }
}

func jacobianSlices<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ jac: UnsafeMutablePointer<T>, _ n: Int, _ inner: Int, _ slices: Range<Int>, _ t: Double
) {
    // Probabilities as pairs, padded to whole vectors; then 1 - p_i as pairs.
    let width = (n + 7) / 8 * 8
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 4 * width)
    defer { scratch.deallocate() }
    let ph = scratch, pl = scratch + width, qh = scratch + 2 * width, ql = scratch + 3 * width
    for si in slices {
        let s = Slice(index: si, n: n, inner: inner)
        let block = jac + si * n * n
        // The slice into ph, padded with -inf, and its maximum lane-wise: the scalar pass's
        // bookkeeping (first maximum, NaN, +inf count), one dependent step per element, cost
        // a fifth of a 10-class block; it runs only for the special values.
        for i in 0..<n { ph[i] = x[s.offset(i)].double }
        for i in n..<width { ph[i] = -.infinity }
        var mv = DV(repeating: -.infinity), nan = DMask(repeating: false)
        var k = 0
        while k < width {
            let v = loadD(ph + k)
            nan .|= v .!= v
            mv = vmax(mv, v)
            k += 8
        }
        let m = hmax(mv)
        if !anyLane(nan) && m.isFinite {
            var argmax = 0
            while ph[argmax] != m { argmax += 1 }
            probabilityPairs(m, argmax, n, t, ph, pl, qh, ql)
        } else {
            let st = ScalarPass.rmax(x, s, nil)
            if st.hasNaN {
                for k in 0..<(n * n) { block[k] = .nan }
                continue
            }
            if st.max == -.infinity {
                for k in 0..<(n * n) { block[k] = 0 }
                continue
            }
            limitProbabilities(x, s, count: st.posInf, ph, pl, qh, ql)
        }
        for k in n..<width { ph[k] = 0; pl[k] = 0 }
        for i in 0..<n { vjacobianrow(block + i * n, i, n, ph, pl, qh[i], ql[i], t) }
    }
}

/// The +inf limit: 1/k on the k +inf entries (as a pair), 0 elsewhere; 1 - p likewise.
@inline(__always)
func limitProbabilities<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ s: Slice, count k: Int,
    _ ph: UnsafeMutablePointer<Double>, _ pl: UnsafeMutablePointer<Double>,
    _ qh: UnsafeMutablePointer<Double>, _ ql: UnsafeMutablePointer<Double>
) {
    let kd = Double(k)
    let h = 1 / kd
    let l = (1 as Double).addingProduct(-h, kd) / kd  // 1/k - h, exactly enough
    for i in 0..<s.n {
        let top = x[s.offset(i)] == .infinity
        ph[i] = top ? h : 0
        pl[i] = top ? l : 0
        let (a, b) = twoSum(1, -ph[i])
        qh[i] = a
        ql[i] = b - pl[i]
    }
}

/// p_i = e_i / S as pairs into ph, pl, and 1 - p_i into qh, ql (see the top of the file), from
/// the slice's n values in ph, padded with -inf to whole vectors, their maximum m (finite) at
/// `argmax`, its first.
@inline(__always)
func probabilityPairs(
    _ m: Double, _ argmax: Int, _ n: Int, _ t: Double,
    _ ph: UnsafeMutablePointer<Double>, _ pl: UnsafeMutablePointer<Double>,
    _ qh: UnsafeMutablePointer<Double>, _ ql: UnsafeMutablePointer<Double>
) {
    let width = (n + 7) / 8 * 8
    // z = (x - max) / T as pairs (`scaledShift`, eight lanes at a time), e = exp(z) as pairs
    // (vexpPair, then 1 + zl), in place; the terms summed lane-wise, compensated, but for the
    // argmax's, which is exactly 1.
    let mv = DV(repeating: -m), tv = DV(repeating: t), minusInf = DV(repeating: -.infinity)
    var acc = LaneCompensatedSum()
    var k = 0
    while k < width {
        var (zh, zl) = vtwoSum(loadD(ph + k), mv)
        if t != 1 {
            let q = zh / tv
            zl = (remainder(zh, q, tv) + zl) / tv
            zh = q
        }
        zl = zeroUnless(zh .> minusInf, zl)  // -inf - max: lo is NaN, and the term is 0
        let (eh, el) = vexpPair(zh)
        var (a, b) = vtwoSum(eh, fmadd(eh, zl, el))
        let top = argmax - k
        if top >= 0 && top < 8 { (a[top], b[top]) = (0, 0) }
        acc.add(a)
        acc.lo += b
        if top >= 0 && top < 8 { a[top] = 1 }
        storeD(a, ph + k)
        storeD(b, pl + k)
        k += 8
    }
    // rest = the sum of all terms but the argmax's, as a double-double; S = 1 + rest.
    let sum = acc.total()
    let rest = twoSum(sum.sum, sum.compensation)
    let total = DoubleDouble.add((1, 0), rest)
    let sh = DV(repeating: total.hi), sl = DV(repeating: total.lo), inv = 1 / sh
    k = 0
    while k < width {
        let eh = loadD(ph + k), el = loadD(pl + k)
        let q = eh * inv
        let r = ((remainder(eh, q, sh) + el) - q * sl) * inv
        let (a, b) = vtwoSum(q, r)
        storeD(a, ph + k)
        storeD(b, pl + k)
        // 1 - p as a pair (near 1 for every entry but a dominant one, fixed below).
        let (c, d) = vtwoSum(DV(repeating: 1), -a)
        storeD(c, qh + k)
        storeD(d - b, ql + k)
        k += 8
    }
    // 1 - p of the argmax: rest / S, which keeps its precision when p is near 1.
    let q = rest.hi / total.hi
    let r = ((rest.hi.addingProduct(-q, total.hi) + rest.lo) - q * total.lo) / total.hi
    (qh[argmax], ql[argmax]) = twoSum(q, r)
}

/// Row i of a block: -(p_i p_j) / T for every j, then the diagonal p_i (1 - p_i) / T, each
/// from pairs and rounded once.
@inline(__always)
func vjacobianrow<T: SoftmaxScalar>(
    _ row: UnsafeMutablePointer<T>, _ i: Int, _ n: Int,
    _ ph: UnsafeMutablePointer<Double>, _ pl: UnsafeMutablePointer<Double>,
    _ oneMinusHi: Double, _ oneMinusLo: Double, _ t: Double
) {
    // a = -p_i / T as a pair, so that each entry is one pair product: dividing the product by T
    // instead would round it first where it is subnormal and T < 1 lifts it to normal.
    var a = (hi: -ph[i], lo: -pl[i])
    var divide = false
    if t != 1 {
        let q = a.hi / t
        let r = (a.hi.addingProduct(-q, t) + a.lo) / t
        if q.isFinite && r.isFinite { a = (q, r) } else { divide = true }  // -p_i / T overflows
    }
    let ah = DV(repeating: a.hi), al = DV(repeating: a.lo)
    if divide {
        let tv = DV(repeating: t)
        var j = 0
        while j < n {
            let (hi, lo) = pairProduct(ah, al, loadD(ph + j), loadD(pl + j))
            let q = hi / tv
            storeRow(q + (remainder(hi, q, tv) + lo) / tv, row, j, n)
            j += 8
        }
    } else {
        var j = 0
        while j + 8 <= n {
            let (hi, lo) = pairProduct(ah, al, loadD(ph + j), loadD(pl + j))
            T.store8(hi + lo, row + j)
            j += 8
        }
        if j < n {
            let (hi, lo) = pairProduct(ah, al, loadD(ph + j), loadD(pl + j))
            // A whole vector where it stays inside the block: what spills into the next rows
            // is overwritten when they are written, and a short row's partial store (through
            // a buffer) cost more than the row's arithmetic.
            if (i + 1) * n + (j + 8 - n) <= n * n {
                T.store8(hi + lo, row + j)
            } else {
                T.storePartial(hi + lo, row + j, count: n - j)
            }
        }
    }
    // The diagonal: -(p_i / T) times -(1 - p_i), in lane 0 (T was folded into a, or divides).
    let (hi, lo) = pairProduct(ah, al, DV(repeating: -oneMinusHi), DV(repeating: -oneMinusLo))
    var d = hi + lo
    if divide { let q = hi / DV(repeating: t); d = q + (remainder(hi, q, DV(repeating: t)) + lo) / DV(repeating: t) }
    row[i] = T(rounding: d[0])
}

/// (ah + al)(bh + bl) as hi + lo: the high parts' product exact (its error by `remainder`),
/// the cross terms added to the error; al·bl is below the result's resolution.
@inline(__always)
func pairProduct(_ ah: DV, _ al: DV, _ bh: DV, _ bl: DV) -> (hi: DV, lo: DV) {
    let hi = ah * bh
    return (hi, fmadd(ah, bl, fmadd(al, bh, -remainder(hi, ah, bh))))
}

@inline(__always)
private func storeRow<T: SoftmaxScalar>(_ v: DV, _ row: UnsafeMutablePointer<T>, _ j: Int, _ n: Int) {
    if j + 8 <= n { T.store8(v, row + j) } else { T.storePartial(v, row + j, count: n - j) }
}

@inline(__always) private func loadD(_ p: UnsafeMutablePointer<Double>) -> DV {
    UnsafeRawPointer(p).loadUnaligned(as: DV.self)
}

@inline(__always) private func storeD(_ v: DV, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: DV.self)
}
