/// The view every operation takes of its array: C-contiguous `[outer, n, inner]`, reduced over `n`.
///
/// A row-major matrix reduced over its rows is `RowShape(outer: rows, n: columns)`; an array of
/// shape `(a, b, c)` reduced over axis 1 is `RowShape(outer: a, n: b, inner: c)`.
///
/// ```swift
/// let shape = try RowShape(outer: 64, n: 1000)   // 64 rows of 1000 classes
/// shape.count    // 64_000 elements
/// shape.slices   // 64 independent reductions
/// ```
public struct RowShape: Equatable, Sendable, CustomStringConvertible {
    /// The product of the sizes before the reduced axis.
    public let outer: Int
    /// The length of the reduced axis (the number of classes).
    public let n: Int
    /// The product of the sizes after the reduced axis (1 when it is the last axis).
    public let inner: Int
    /// outer · n · inner.
    public let count: Int
    /// outer · inner: the number of independent reductions (and of logsumexp results).
    public let slices: Int

    /// Throws `.invalidShape` when a size is negative or the element count or the slice count
    /// (or their sizes in bytes for 8-byte elements) do not fit in a signed machine word. The
    /// slice count matters on its own: with `n == 0` the array is empty but logsumexp still
    /// writes `outer · inner` results.
    public init(outer: Int = 1, n: Int, inner: Int = 1) throws(SoftmaxError) {
        guard outer >= 0, n >= 0, inner >= 0 else {
            throw SoftmaxError(.invalidShape, "shape (outer=\(outer), n=\(n), inner=\(inner)): sizes must be non-negative")
        }
        let (on, o1) = outer.multipliedReportingOverflow(by: n)
        let (c, o2) = on.multipliedReportingOverflow(by: inner)
        let (_, o3) = c.multipliedReportingOverflow(by: 8)
        let (sl, o4) = outer.multipliedReportingOverflow(by: inner)
        let (_, o5) = sl.multipliedReportingOverflow(by: 8)
        guard !(o1 || o2 || o3 || o4 || o5) else {
            throw SoftmaxError(.invalidShape, "shape (outer=\(outer), n=\(n), inner=\(inner)): element count overflows")
        }
        self.outer = outer
        self.n = n
        self.inner = inner
        self.count = c
        self.slices = sl
    }

    /// A shape from C's `size_t` sizes, where values above `Int.max` arrive as negative numbers.
    public init(unsigned outer: UInt, n: UInt, inner: UInt) throws(SoftmaxError) {
        guard let o = Int(exactly: outer), let m = Int(exactly: n), let i = Int(exactly: inner) else {
            throw SoftmaxError(.invalidShape, "shape (outer=\(outer), n=\(n), inner=\(inner)): element count overflows")
        }
        try self.init(outer: o, n: m, inner: i)
    }

    /// `(outer=…, n=…, inner=…)`, as error messages print it.
    public var description: String { "(outer=\(outer), n=\(n), inner=\(inner))" }
}
