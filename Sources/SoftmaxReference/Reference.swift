import SoftmaxCore
import SoftmaxScalarKernels

/// The scalar reference: the specification every tier's vector kernels are tested against. It
/// is linked by the tests only; the library never calls it. Each runs one operation over a range of slices (or elements) of an
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
            let st = ScalarPass.rmax(x, s, mask)
            if st.hasNaN { ScalarPass.vfill(y, s, .nan); continue }
            if st.max == .infinity {
                ScalarPass.vlimitofinfinities(x, y, s, mask, count: st.posInf, log: log)
                continue
            }
            if st.max == -.infinity { ScalarPass.vfill(y, s, log ? -.infinity : 0); continue }
            if log {
                let sums = ScalarPass.raddstoreexpminusmax(x, nil, s, mask, max: st.max, argmax: st.argmax, temperature: t)
                let r = sums.rest.pair
                ScalarPass.vlogfinalize(x, y, s, mask, max: st.max, temperature: t, logSum: log1pPair(r.hi, r.lo))
            } else {
                let sums = ScalarPass.raddstoreexpminusmax(x, y, s, mask, max: st.max, argmax: st.argmax, temperature: t)
                ScalarPass.vdivide(y, s, by: sums.all.value)
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
            let st = ScalarPass.rmax(x, s, mask)
            if st.hasNaN { out[si] = .nan; continue }
            if !st.max.isFinite { out[si] = T(rounding: st.max); continue }
            let sums = ScalarPass.raddstoreexpminusmax(x, nil, s, mask, max: st.max, argmax: st.argmax, temperature: 1)
            let r = sums.rest.pair
            let l = log1pPair(r.hi, r.lo)
            let h = twoSum(st.max, l.hi)
            out[si] = T(rounding: h.hi + (h.lo + l.lo))
        }
    }
}
