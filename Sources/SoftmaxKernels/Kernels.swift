import SoftmaxCore

/// The vector kernels of one CPU tier. Each entry point runs an operation over a range of
/// work units of an [outer, n, inner] view whose pointers and sizes the API layer has already
/// validated. A unit is a row when inner == 1, and a block of up to eight neighbouring columns
/// of one outer index otherwise (see `units(outer:n:inner:)`).
///
/// Special values follow one policy on every path (vector body, tail, row or column walk):
/// NaN in a slice makes the whole slice NaN; k entries of +inf share probability 1/k; an empty,
/// all -inf or fully masked slice gives probability 0 and log-probability -inf.
public enum Kernels: SoftmaxKernelSet {
    /// The tier these kernels were compiled for.
    public static var tier: String {
        #if SSM_TIER_AVX512
        return "avx512"
        #elseif SSM_TIER_AVX2
        return "avx2"
        #else
        return "baseline"
        #endif
    }

    /// The number of work units of an [outer, n, inner] view.
    public static func units(outer: Int, n: Int, inner: Int) -> Int {
        inner > 1 ? outer * ((inner + 7) / 8) : outer
    }

    // The API layer calls through `any SoftmaxKernelSet.Type`, which passes T as metadata; each
    // entry point branches once on it so the work runs in code specialised for Float or Double.

    /// Softmax (or log-softmax when `log`) of the units `units`.
    public static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool
    ) {
        if T.self == Float.self {
            softmaxUnits(x.as(Float.self), y.as(Float.self), mask, outer, n, inner, units, temperature.double, log)
        } else {
            softmaxUnits(x.as(Double.self), y.as(Double.self), mask, outer, n, inner, units, temperature.double, log)
        }
    }

    /// log(sum(exp(x))) of the units `units`, one result per slice in `out`.
    public static func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>
    ) {
        if T.self == Float.self {
            logsumexpUnits(x.as(Float.self), out.as(Float.self), mask, outer, n, inner, units)
        } else {
            logsumexpUnits(x.as(Double.self), out.as(Double.self), mask, outer, n, inner, units)
        }
    }
}

extension UnsafePointer {
    @inline(__always) func `as`<U>(_: U.Type) -> UnsafePointer<U> {
        UnsafeRawPointer(self).assumingMemoryBound(to: U.self)
    }
}

extension UnsafeMutablePointer {
    @inline(__always) func `as`<U>(_: U.Type) -> UnsafeMutablePointer<U> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: U.self)
    }
}

func softmaxUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>, _ t: Double, _ log: Bool
) {
    if inner == 1 {
        for u in units { softmaxGroup(x, mask, y, RowWalk(row: u, n: n), t, log) }
    } else {
        for u in units { softmaxGroup(x, mask, y, ColumnWalk(unit: u, n: n, inner: inner), t, log) }
    }
}

func logsumexpUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ mask: UnsafePointer<UInt8>?,
    _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>
) {
    if inner == 1 {
        for u in units { logsumexpGroup(x, mask, out, RowWalk(row: u, n: n)) }
    } else {
        for u in units { logsumexpGroup(x, mask, out, ColumnWalk(unit: u, n: n, inner: inner)) }
    }
}

@inline(__always)
func softmaxGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>, _ w: W,
    _ t: Double, _ log: Bool
) {
    let st = rmax(x, mask, w)
    if log {
        let s = raddstoreexpminusmax(x, mask, nil, w, st, t)
        vlogfinalize(x, mask, y, w, st, t, logOfSum(s, st, W.self))
    } else {
        let s = raddstoreexpminusmax(x, mask, y, w, st, t)
        vdivide(y, w, s, st)
    }
}

@inline(__always)
func logsumexpGroup<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>, _ w: W
) {
    let st = rmax(x, mask, w)
    let s = raddstoreexpminusmax(x, mask, nil, w, st, 1)
    storeLogSumExp(out, w, st, logOfSum(s, st, W.self))
}
