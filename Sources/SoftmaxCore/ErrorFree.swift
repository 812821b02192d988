/// Error-free transformations and double-double helpers.
///
/// They let the per-element step x - max and the per-row step max + log(sum) keep the bits
/// that plain `Double` arithmetic would round away.

/// `a + b` as an unevaluated pair `(hi, lo)` with `hi + lo == a + b` exactly (Knuth's TwoSum).
@inlinable @inline(__always)
public func twoSum(_ a: Double, _ b: Double) -> (hi: Double, lo: Double) {
    let s = a + b
    let bb = s - a
    let err = (a - (s - bb)) + (b - bb)
    return (s, err)
}

/// `a * b` as `(hi, lo)` with `hi + lo == a * b` exactly.
@inlinable @inline(__always)
public func twoProduct(_ a: Double, _ b: Double) -> (hi: Double, lo: Double) {
    let p = a * b
    return (p, (-p).addingProduct(a, b))
}

/// A compensated (Neumaier) running sum: the rounding error of each addition is kept aside
/// and added back once, so the result is as if summed in twice the precision.
public struct CompensatedSum: Sendable {
    public var sum: Double = 0
    public var compensation: Double = 0

    @inlinable public init() {}

    @inlinable @inline(__always)
    public mutating func add(_ v: Double) {
        let t = sum + v
        if abs(sum) >= abs(v) {
            compensation += (sum - t) + v
        } else {
            compensation += (v - t) + sum
        }
        sum = t
    }

    @inlinable @inline(__always)
    public mutating func add(_ other: CompensatedSum) {
        add(other.sum)
        add(other.compensation)
    }

    /// The sum rounded once.
    @inlinable public var value: Double { sum + compensation }
    /// The sum as a normalised double-double `(hi, lo)`.
    @inlinable public var pair: (hi: Double, lo: Double) { twoSum(sum, compensation) }
}
