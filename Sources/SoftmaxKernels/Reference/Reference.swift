import SoftmaxCore

/// The scalar reference: the specification every vector kernel is tested against, on every
/// tier. Each runs one operation over a range of slices (or elements) of an
/// [outer, n, inner] view whose pointers and sizes the API layer has already validated.
///
/// Special values follow one policy here, so every caller (any layout, thread or tier) agrees:
/// NaN in a slice makes the whole slice NaN; k entries of +inf share probability 1/k; an empty,
/// all -inf or fully masked slice gives probability 0 and log-probability -inf.
public enum Reference {
    /// Softmax (or log-softmax when `log`) of slices `slices` along the middle axis.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        n: Int, inner: Int, slices: Range<Int>, temperature: T, log: Bool
    ) {
        let t = temperature.double
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let st = scalarRowMax(x, s, mask)
            if st.hasNaN { scalarFill(y, s, .nan); continue }
            if st.max == .infinity {
                limitOfInfinities(x, y, s, mask, count: st.posInf, log: log)
                continue
            }
            if st.max == -.infinity { scalarFill(y, s, log ? -.infinity : 0); continue }
            if log {
                let sums = scalarAddStoreExpMinusMax(x, nil, s, mask, max: st.max, argmax: st.argmax, temperature: t)
                let r = sums.rest.pair
                scalarLogFinalize(x, y, s, mask, max: st.max, temperature: t, logSum: log1pPair(r.hi, r.lo))
            } else {
                let sums = scalarAddStoreExpMinusMax(x, y, s, mask, max: st.max, argmax: st.argmax, temperature: t)
                scalarDivide(y, s, by: sums.all.value)
            }
        }
    }

    /// log(sum(exp(x))) of slices `slices`, written to `out[slice]`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        n: Int, inner: Int, slices: Range<Int>
    ) {
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let st = scalarRowMax(x, s, mask)
            if st.hasNaN { out[si] = .nan; continue }
            if !st.max.isFinite { out[si] = T(rounding: st.max); continue }
            let sums = scalarAddStoreExpMinusMax(x, nil, s, mask, max: st.max, argmax: st.argmax, temperature: 1)
            let r = sums.rest.pair
            let l = log1pPair(r.hi, r.lo)
            let h = twoSum(st.max, l.hi)
            out[si] = T(rounding: h.hi + (h.lo + l.lo))
        }
    }

    /// Elementwise logistic sigmoid (or its logarithm when `log`) of `x[range]`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func sigmoid<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, range: Range<Int>, log: Bool
    ) {
        for k in range {
            let v = x[k].double
            // exp of the non-positive -|v| never overflows; the branch picks the stable form.
            let e = expD(-abs(v))
            let r: Double
            if log {
                r = (v < 0 ? v : 0) - log1pD(e)
            } else {
                // num / (1 + e) with 1 + e kept exactly as s + c (Fast2Sum, e <= 1) and the
                // quotient corrected by its exact remainder: only exp's error and one rounding.
                let num = v >= 0 ? 1 : e
                let s = 1 + e
                let c = (1 - s) + e
                let q = num / s
                r = q + (num.addingProduct(-q, s) - q * c) / s
            }
            y[k] = T(rounding: v.isNaN ? v : r)
        }
    }

    /// Sum-normalisation x / sum(x) of slices `slices`, with IEEE semantics for zero or
    /// non-finite sums (as NumPy's `x / x.sum()`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func normalize<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, n: Int, inner: Int, slices: Range<Int>
    ) {
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            var sum = CompensatedSum()
            var naive = 0.0  // carries inf/NaN, which the compensation would turn into NaN
            for i in 0..<n {
                let v = x[s.offset(i)].double
                sum.add(v)
                naive += v
            }
            let total = naive.isFinite ? sum.value : naive
            for i in 0..<n {
                let k = s.offset(i)
                y[k] = T(rounding: x[k].double / total)
            }
        }
    }
}

/// The limit of softmax as the k +inf entries grow together: 1/k on each, 0 elsewhere.
@inline(__always)
func limitOfInfinities<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ s: Slice, _ mask: UnsafePointer<UInt8>?,
    count k: Int, log: Bool
) {
    let share = log ? -logD(Double(k)) : 1 / Double(k)
    for i in 0..<s.n {
        let idx = s.offset(i)
        let top = isActive(mask, idx) && x[idx] == .infinity
        y[idx] = top ? T(rounding: share) : (log ? -.infinity : 0)
    }
}
