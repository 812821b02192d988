/// The operations every CPU tier's kernel module provides. The API layer holds the tier chosen at
/// load time as a `SoftmaxKernelSet.Type` and calls through it.
public protocol SoftmaxKernelSet {
    /// "baseline", "avx2" or "avx512".
    static var tier: String { get }
    /// The number of work units of an [outer, n, inner] view (the unit of threading).
    static func units(outer: Int, n: Int, inner: Int) -> Int
    static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool)
    static func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>)
}
