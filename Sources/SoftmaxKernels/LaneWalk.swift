import SoftmaxCore

/// How a group of slices is walked eight lanes at a time.
///
/// A row walk covers one contiguous slice (inner == 1): lanes are neighbouring elements of the
/// same slice, reduced across lanes at the end. A column walk covers up to eight neighbouring
/// slices of a non-last axis (inner > 1): lane l is slice j + l, so every reduction stays
/// lane-wise and nothing is transposed.
protocol LaneWalk {
    /// Whether the lanes belong to one slice (and must be reduced across).
    static var horizontal: Bool { get }
    /// Number of vector steps.
    var steps: Int { get }
    /// Element offset of step k.
    func offset(_ k: Int) -> Int
    /// Valid lanes at step k (8 except in a tail).
    func lanes(_ k: Int) -> Int
    /// Element offset of element i of lane l's slice.
    func elementOffset(_ i: Int, lane l: Int) -> Int
    /// Where this group's one-per-slice results go, and how many there are.
    var resultOffset: Int { get }
    var resultLanes: Int { get }
}

/// Row walks sum in chunks of this many elements, merged in order, so a row split across
/// threads at chunk boundaries sums to the same bits as a row summed by one thread.
let rowChunkLength = 16384

struct RowWalk: LaneWalk {
    static var horizontal: Bool { true }
    let base: Int
    let n: Int
    let row: Int

    @inline(__always) init(row: Int, n: Int) {
        self.row = row
        self.n = n
        self.base = row * n
    }

    /// Elements start ..< start + count of one long row (a chunk of it).
    @inline(__always) init(start: Int, count: Int) {
        self.row = 0
        self.n = count
        self.base = start
    }
    @inline(__always) var steps: Int { (n + 7) / 8 }
    @inline(__always) func offset(_ k: Int) -> Int { base + 8 * k }
    @inline(__always) func lanes(_ k: Int) -> Int { Swift.min(8, n - 8 * k) }
    @inline(__always) func elementOffset(_ i: Int, lane l: Int) -> Int { base + i }
    @inline(__always) var resultOffset: Int { row }
    @inline(__always) var resultLanes: Int { 1 }
}

struct ColumnWalk: LaneWalk {
    static var horizontal: Bool { false }
    let base: Int
    let n: Int
    let inner: Int
    let width: Int
    let first: Int  // o * inner + j: the first slice of the group

    /// Up to eight neighbouring slices starting at element `base`.
    @inline(__always) init(base: Int, n: Int, inner: Int, width: Int, first: Int) {
        self.base = base
        self.n = n
        self.inner = inner
        self.width = width
        self.first = first
    }

    /// A scratch block [n, 8] holding `width` transposed short rows.
    @inline(__always) init(block n: Int, width: Int) {
        self.base = 0
        self.n = n
        self.inner = 8
        self.width = width
        self.first = 0
    }
    @inline(__always) var steps: Int { n }
    @inline(__always) func offset(_ k: Int) -> Int { base + k * inner }
    @inline(__always) func lanes(_ k: Int) -> Int { width }
    @inline(__always) func elementOffset(_ i: Int, lane l: Int) -> Int { base + i * inner + l }
    @inline(__always) var resultOffset: Int { first }
    @inline(__always) var resultLanes: Int { width }
}

/// A scratch block [n, 8] holding eight transposed short rows: `ColumnWalk(block:width:)` with
/// every lane valid as a type, so that the passes compile without their partial-lane branches
/// (float32 65536×10 softmax on one thread: about 9% faster).
struct FullBlockWalk: LaneWalk {
    static var horizontal: Bool { false }
    let n: Int

    @inline(__always) init(n: Int) { self.n = n }
    @inline(__always) var steps: Int { n }
    @inline(__always) func offset(_ k: Int) -> Int { 8 * k }
    @inline(__always) func lanes(_ k: Int) -> Int { 8 }
    @inline(__always) func elementOffset(_ i: Int, lane l: Int) -> Int { 8 * i + l }
    @inline(__always) var resultOffset: Int { 0 }
    @inline(__always) var resultLanes: Int { 8 }
}

/// Eight values at step k of a walk; missing lanes read as `pad`, masked-out lanes as -inf.
@inline(__always)
func load<T: SoftmaxScalar, W: LaneWalk>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ w: W, _ k: Int, pad: Double
) -> DV {
    let off = w.offset(k)
    let c = w.lanes(k)
    var v = c == 8 ? T.load8(x + off) : T.loadPartial(x + off, count: c, pad: pad)
    if let mask {
        var bytes = SIMD8<UInt8>(repeating: 0)
        if c == 8 {
            bytes = UnsafeRawPointer(mask + off).loadUnaligned(as: SIMD8<UInt8>.self)
        } else {
            for i in 0..<c { bytes[i] = mask[off + i] }
        }
        let off = SIMD8<Int64>(truncatingIfNeeded: bytes) .== 0
        v = v.replacing(with: -.infinity, where: off)
    }
    return v
}

@inline(__always)
func store<T: SoftmaxScalar, W: LaneWalk>(_ v: DV, _ y: UnsafeMutablePointer<T>, _ w: W, _ k: Int) {
    let off = w.offset(k)
    let c = w.lanes(k)
    if c == 8 {
        T.store8(v, y + off)
    } else {
        T.storePartial(v, y + off, count: c)
    }
}

/// The values stored at step k of a walk by `store` (the exp terms, before scaling).
@inline(__always)
func reload<T: SoftmaxScalar, W: LaneWalk>(_ y: UnsafeMutablePointer<T>, _ w: W, _ k: Int) -> DV {
    load(UnsafePointer(y), nil, w, k, pad: 0)
}
