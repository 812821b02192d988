import SoftmaxCore
import CSoftmaxSupport

/// A Float column block (a non-last axis) swept row by row in Float arithmetic.
///
/// Each pass reads the block one row after another, all its columns in ascending order, with
/// each column's running maximum or lane sum in a small array that stays in L1: the order a
/// whole-array reduction over axis 0 reads memory in, which the prefetcher follows. The tiled
/// column walks instead call a kernel per group of eight columns and tile of rows, and on
/// 1000x4096 float32 over axis 0 spent about as long in those calls as in the exp itself.
///
/// The kernels are FloatLanes' own, sixteen columns a step (so the block's width must be a
/// multiple of 16), and their accuracy is the same: each column's terms are summed in Float
/// for `chunkRows` rows, as a row walk's chunk, then added into its group's double-double. Taken on
/// the FMA tiers for unmasked blocks at temperature 1 whose maxima are finite and NaN-free; the
/// others keep the tiled Double walks.
///
/// Each pass hints the lines `rowsAhead` rows below the ones it reads (and, where it writes,
/// writes) to the cache: a block's row is one run of up to 4 KiB, and the hardware prefetcher,
/// which starts again at every run, had the passes wait on memory (docs/performance.md, "Column
/// sweeps, fetched rows ahead").
///
/// The passes are the row walks' three (maxima; terms stored and summed; scaled). A variant that
/// read each chunk of rows once for its maxima and sums together, rescaling a column's sum when
/// its maximum rose, and computed the terms again in the final pass read memory one time less
/// but was slower (float32 1000x4096 softmax over axis 0 on two threads: 4.7 ms against 3.7 ms):
/// the second exp costs more than the pass it saves.
struct FloatColumnSweep {
    static let chunkRows = 1024
    /// Floats of scratch a sweep needs for a block of ColumnBlock's largest width: the maxima and
    /// three lane-sum arrays (the final passes reuse two of them).
    static let scratchCount = 4 * 8 * ColumnBlock.maxGroups

    let x: UnsafePointer<Float>     // the block's first element (row 0)
    let n: Int
    let inner: Int
    let columns: Int
    let maxima: UnsafeMutablePointer<Float>   // each column's maximum
    let lanes: UnsafeMutablePointer<Float>    // lane sums s, c, tops; then a final pass's operands

    /// Blocks of a multiple of sixteen columns, on every tier whatever its Float vector's width,
    /// so that which arrays are swept (and so their results) is the same on AVX2 and AVX-512.
    @inline(__always)
    static func applies(columns: Int) -> Bool { columns % 16 == 0 }

    @inline(__always)
    init(_ x: UnsafePointer<Float>, n: Int, inner: Int, columns: Int, scratch: UnsafeMutablePointer<Float>) {
        self.x = x
        self.n = n
        self.inner = inner
        self.columns = columns
        self.maxima = scratch
        self.lanes = scratch + columns
    }

    /// The distance, in rows, between a row a sweep reads and the row it fetches.
    static let rowsAhead = 4

    /// Elements from row i to the row its sweep fetches meanwhile: `rowsAhead` rows on, or the
    /// last row near the end, so that every hint stays inside the block.
    @inline(__always)
    static func ahead(_ i: Int, n: Int, inner: Int) -> Int { Swift.min(rowsAhead, n - 1 - i) * inner }

    /// Runs body(offset, column) for each vector of `step` elements of every row of a block of n
    /// rows, from its first row on, in the order a sweep's passes read and write: `offset` from
    /// the block's start, the line `rowsAhead` rows on hinted for reading in `x` (and `x2`) and
    /// for writing in `y` (each the block's start) before each vector's turn.
    @inline(__always)
    static func eachVector<E>(
        reading x: UnsafePointer<E>, and x2: UnsafePointer<E>? = nil, writing y: UnsafeMutablePointer<E>?,
        n: Int, inner: Int, columns: Int, step: Int, _ body: (_ offset: Int, _ column: Int) -> Void
    ) {
        for i in 0..<n {
            let row = i * inner, next = row + ahead(i, n: n, inner: inner)
            var c = 0
            while c < columns {
                ssm_support_prefetch(x + next + c)
                if let x2 { ssm_support_prefetch(x2 + next + c) }
                if let y { ssm_support_prefetch_for_write(y + next + c) }
                body(row + c, c)
                c += step
            }
        }
    }

    @inline(__always) func load(_ p: UnsafePointer<Float>) -> FV { UnsafeRawPointer(p).loadUnaligned(as: FV.self) }
    @inline(__always) func store(_ v: FV, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: FV.self)
    }

    /// Pass 1: each column's maximum. Returns the groups' statistics unless a column holds a
    /// NaN, +inf or only -inf, which the tiled walks handle.
    func statistics(_ st: UnsafeMutablePointer<LaneStats>) -> Bool {
        var special = sweepMax()
        let inf = FV(repeating: .infinity)
        var c = 0
        while c < columns {
            let m = load(maxima + c)
            special = special || anyLane((m .== inf) .| (m .== -inf))
            c += floatLanes
        }
        if special { return false }
        for g in 0..<columns / 8 {
            let m = UnsafeRawPointer(maxima + 8 * g).loadUnaligned(as: FHalf.self)
            (st + g).initialize(to: LaneStats(max: widen(m), nan: DMask(repeating: false), infCount: DV(repeating: 0)))
        }
        return true
    }

    /// Each column's maximum into `maxima`; whether any element is NaN.
    @inline(never)
    private func sweepMax() -> Bool {
        let minusInf = FV(repeating: -.infinity)
        var c = 0
        while c < columns { store(minusInf, maxima + c); c += floatLanes }
        var nan = FMask(repeating: false)
        for i in 0..<n {
            let row = x + i * inner, next = row + FloatColumnSweep.ahead(i, n: n, inner: inner)
            c = 0
            while c < columns {
                ssm_support_prefetch(next + c)
                let v = load(row + c), m = load(maxima + c)
                store(m.replacing(with: v, where: v .> m), maxima + c)
                nan .|= v .!= v
                c += floatLanes
            }
        }
        return anyLane(nan)
    }

    /// Pass 2: exp(x - max) stored to `y` (when given), each column's sum added into its
    /// group's double-double in `sums`; the maximal terms counted apart when `topsApart`.
    @inline(__always)
    func expSums(_ y: UnsafeMutablePointer<Float>?, _ sums: UnsafeMutablePointer<(hi: DV, lo: DV)>, topsApart: Bool) {
        // Two copies, so that neither tests topsApart per step.
        if topsApart { sweepExp(y, sums, topsApart: true) } else { sweepExp(y, sums, topsApart: false) }
    }

    @inline(__always)
    private func sweepExp(_ y: UnsafeMutablePointer<Float>?, _ sums: UnsafeMutablePointer<(hi: DV, lo: DV)>,
                          topsApart: Bool) {
        let s = lanes, e = lanes + columns, tops = lanes + 2 * columns
        let zero = FV(repeating: 0), start = FV(repeating: topsApart ? 0 : 1)
        var r = 0
        repeat {
            let end = Swift.min(n, r + FloatColumnSweep.chunkRows)
            var c = 0
            while c < columns { store(start, s + c); store(zero, e + c); store(zero, tops + c); c += floatLanes }
            for i in r..<end {
                let row = x + i * inner, ahead = FloatColumnSweep.ahead(i, n: n, inner: inner)
                c = 0
                while c < columns {
                    ssm_support_prefetch(row + ahead + c)
                    if let y { ssm_support_prefetch_for_write(y + i * inner + ahead + c) }
                    var acc = FloatLaneCompensatedSum(s: load(s + c), c: load(e + c), tops: load(tops + c), biased: !topsApart)
                    let p = expMinusMax(load(row + c), load(maxima + c), TwoSumShift.self, topsApart: topsApart, &acc)
                    store(acc.s, s + c)
                    store(acc.c, e + c)
                    if topsApart { store(acc.tops, tops + c) }
                    if let y { store(p, y + i * inner + c) }
                    c += floatLanes
                }
            }
            for g in 0..<columns / 8 {
                @inline(__always) func lanes8(_ p: UnsafeMutablePointer<Float>) -> DV {
                    widen(UnsafeRawPointer(p + 8 * g).loadUnaligned(as: FHalf.self))
                }
                // s - 1 is exact in Double.
                var total = (lanes8(s) - DV(repeating: topsApart ? 0 : 1), lanes8(e))
                total = topsApart ? vtwoSum(lanes8(tops), total.0 + total.1) : (total.0 + total.1, DV(repeating: 0))
                let (hi, err) = vtwoSum(sums[g].hi, total.0)
                sums[g] = (hi, sums[g].lo + total.1 + err)
            }
            r = end
        } while r < n
    }

    /// y = y * scale(g) for the columns of each group g, the scale split in two Floats as in
    /// `vscaleFloat`.
    @inline(__always)
    func scale(_ y: UnsafeMutablePointer<Float>, _ scale: (Int) -> DV) {
        let hi = lanes, lo = lanes + columns
        for g in 0..<columns / 8 {
            let s = scale(g), h = narrow(s)
            UnsafeMutableRawPointer(hi + 8 * g).storeBytes(of: h, as: FHalf.self)
            UnsafeMutableRawPointer(lo + 8 * g).storeBytes(of: narrow(s - widen(h)), as: FHalf.self)
        }
        sweepScale(y, hi, lo)
    }

    // The operands come from memory: where the optimiser sees lo derived from hi it lowers
    // such loops to part-scalar code.
    @inline(never)
    private func sweepScale(_ y: UnsafeMutablePointer<Float>, _ hi: UnsafePointer<Float>, _ lo: UnsafePointer<Float>) {
        for i in 0..<n {
            let row = y + i * inner, next = row + FloatColumnSweep.ahead(i, n: n, inner: inner)
            var c = 0
            while c < columns {
                ssm_support_prefetch_for_write(next + c)
                let v = load(row + c), h = load(hi + c)
                let q = v * h
                store(q + fmadd(v, load(lo + c), fmadd(v, h, -q)), row + c)
                c += floatLanes
            }
        }
    }

    /// y = (x - max) - log(sum) per column (`logProbability`), from each group's log(sum).
    @inline(__always)
    func logFinalize(_ y: UnsafeMutablePointer<Float>, _ log: (Int) -> (hi: DV, lo: DV)) {
        let hi = lanes, lo = lanes + columns
        for g in 0..<columns / 8 {
            let l = log(g), h = narrow(l.hi)
            UnsafeMutableRawPointer(hi + 8 * g).storeBytes(of: h, as: FHalf.self)
            UnsafeMutableRawPointer(lo + 8 * g).storeBytes(of: narrow((l.hi - widen(h)) + l.lo), as: FHalf.self)
        }
        sweepLogFinalize(y, hi, lo)
    }

    @inline(never)
    private func sweepLogFinalize(_ y: UnsafeMutablePointer<Float>, _ lhs: UnsafePointer<Float>, _ lls: UnsafePointer<Float>) {
        FloatColumnSweep.eachVector(reading: x, writing: y, n: n, inner: inner, columns: columns, step: floatLanes) { o, c in
            store(logProbability(load(x + o), max: load(maxima + c), lh: load(lhs + c), ll: load(lls + c), TwoSumShift.self), y + o)
        }
    }
}

typealias FHalf = SIMD8<Float>

/// Eight Doubles rounded to Float (one or two vcvtpd2ps).
@inline(__always)
func narrow(_ v: DV) -> FHalf {
    FHalf(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]),
          Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}
