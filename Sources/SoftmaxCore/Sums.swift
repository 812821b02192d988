// The scalar sums, each named by what it guarantees (docs/design.md, "Kernels"). The vector
// kernels' lane sums are in SoftmaxKernels/LaneSums.swift.

/// A compensated (Neumaier) running sum of finite terms: the rounding error of each addition is
/// kept aside and added back once, so the result is as if summed in twice the precision, whatever
/// the terms' magnitudes and order. An infinite or NaN term turns the compensation into NaN:
/// sums that may meet one are `CompensatedSumWithSpecials`.
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

    /// Whether this sum of a Float row's terms, its maximal terms counted apart (exactly 1
    /// each, in `sum`), has the others below 2^-90: a Float term below 2^-126 has lost digits
    /// to the subnormal range, which shows in a log result only where the others' sum is this
    /// small, so such a row is summed again in Double lanes (docs/design.md, "The passes").
    @inlinable public var hasTinyRest: Bool { sum == sum.rounded() && abs(compensation) < 0x1p-90 }
}

/// A sum that is compensated while finite and follows IEEE arithmetic once an infinity or NaN
/// enters (where the compensation term itself would turn into NaN).
public struct CompensatedSumWithSpecials: Sendable {
    public var compensated = CompensatedSum()
    public var naive = 0.0

    @inlinable public init() {}

    @inlinable @inline(__always)
    public mutating func add(_ v: Double) {
        compensated.add(v)
        naive += v
    }

    @inlinable @inline(__always)
    public mutating func add(_ other: CompensatedSumWithSpecials) {
        compensated.add(other.compensated)
        naive += other.naive
    }

    @inlinable public var value: Double { naive.isFinite ? compensated.value : naive }
    /// The sum as a double-double `(hi, lo)`; `(inf or NaN, 0)` once a special value entered.
    @inlinable public var pair: (hi: Double, lo: Double) { naive.isFinite ? compensated.pair : (naive, 0) }
}
