/// A floating-point type the library computes softmax for: `Float` or `Double`.
///
/// Every algorithm is written once, generically over this protocol. Arithmetic happens in
/// `Double` (exact for every `Float` input and the native type for `Double` input), with
/// error-free transformations where `Double` alone is not enough; this protocol supplies only
/// the per-type conversions, which the kernels inline into each CPU tier. (The one exception is
/// the kernels' Float-arithmetic path for contiguous `Float` rows, which makes each rounding
/// exact instead, at twice the lanes.)
public protocol SoftmaxScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// The value converted to `Double` (exact for both conforming types).
    var double: Double { get }
    /// `d` rounded to the nearest value of this type.
    init(rounding d: Double)
    /// A short name for messages and build info: `"float32"` or `"float64"`.
    static var dtypeName: String { get }
    /// Eight consecutive values starting at `p`, widened to `Double`.
    static func load8(_ p: UnsafePointer<Self>) -> SIMD8<Double>
    /// Stores eight values at `p`, each rounded once to this type.
    static func store8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Self>)
}

extension SoftmaxScalar {
    // Partial vectors go through a stack buffer filled or emptied by memcpy: setting or reading
    // SIMD lanes one at a time in a loop compiles to a spill and a reload per lane, which cost
    // a short row more than its arithmetic (an 8-element float32 softmax: ~345 ns a call).

    /// The first `count` (< 8) values at `p`, the other lanes set to `pad`.
    @inlinable @inline(__always)
    public static func loadPartial(_ p: UnsafePointer<Self>, count: Int, pad: Double) -> SIMD8<Double> {
        withUnsafeTemporaryAllocation(of: Self.self, capacity: 8) { b in
            let base = b.baseAddress!
            base.initialize(repeating: Self(rounding: pad), count: 8)
            base.update(from: p, count: count)
            return load8(UnsafePointer(base))
        }
    }

    /// Stores the first `count` (< 8) lanes of `v` at `p`.
    @inlinable @inline(__always)
    public static func storePartial(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Self>, count: Int) {
        withUnsafeTemporaryAllocation(of: Self.self, capacity: 8) { b in
            store8(v, b.baseAddress!)
            p.update(from: b.baseAddress!, count: count)
        }
    }
}

extension Float: SoftmaxScalar {
    @inlinable @inline(__always) public var double: Double { Double(self) }
    @inlinable @inline(__always) public init(rounding d: Double) { self = Float(d) }
    public static var dtypeName: String { "float32" }

    @inlinable @inline(__always)
    public static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Double> {
        // Lane by lane: the generic SIMD8<Double>(SIMD8<Float>) initializer is an out-of-line
        // call; these eight conversions become one or two vcvtps2pd.
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        return SIMD8<Double>(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]),
                             Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
    }

    @inlinable @inline(__always)
    public static func store8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Float>) {
        let f = SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]),
                             Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
        UnsafeMutableRawPointer(p).storeBytes(of: f, as: SIMD8<Float>.self)
    }
}

extension Double: SoftmaxScalar {
    @inlinable @inline(__always) public var double: Double { self }
    @inlinable @inline(__always) public init(rounding d: Double) { self = d }
    public static var dtypeName: String { "float64" }

    @inlinable @inline(__always)
    public static func load8(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
    }

    @inlinable @inline(__always)
    public static func store8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
    }
}
