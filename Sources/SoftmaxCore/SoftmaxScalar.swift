/// A floating-point type the library computes softmax for: `Float` or `Double`.
///
/// Every algorithm is written once, generically over this protocol. Arithmetic happens in
/// `Double` (exact for every `Float` input and the native type for `Double` input), with
/// error-free transformations where `Double` alone is not enough; this protocol supplies only
/// the per-type conversions and constants.
public protocol SoftmaxScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// The value converted to `Double` (exact for both conforming types).
    var double: Double { get }
    /// `d` rounded to the nearest value of this type.
    init(rounding d: Double)
    /// A short name for messages and build info: `"float32"` or `"float64"`.
    static var dtypeName: String { get }
}

extension Float: SoftmaxScalar {
    @inlinable @inline(__always) public var double: Double { Double(self) }
    @inlinable @inline(__always) public init(rounding d: Double) { self = Float(d) }
    public static var dtypeName: String { "float32" }
}

extension Double: SoftmaxScalar {
    @inlinable @inline(__always) public var double: Double { self }
    @inlinable @inline(__always) public init(rounding d: Double) { self = d }
    public static var dtypeName: String { "float64" }
}
