import SoftmaxCore

/// The logistic sigmoid `1 / (1 + exp(-x))` of `count` elements, in the form that never
/// overflows. `y` may be `x` (in place). `softmax([x, 0])[0] == sigmoid(x)`.
///
/// ```swift
/// let x: [Double] = [0, 2]
/// var y = [Double](repeating: 0, count: 2)
/// try sigmoid(x, into: &y, count: 2)   // [0.5, 0.8808]
/// ```
public func sigmoid<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, count: Int
) throws(SoftmaxError) {
    try sigmoidFamily(x, y, count, log: false)
}

/// `log(sigmoid(x))` of `count` elements: `-log1p(exp(-x))`, exact in the tails where
/// `log(sigmoid(x))` would round to 0 or overflow.
public func logSigmoid<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into y: UnsafeMutablePointer<T>?, count: Int
) throws(SoftmaxError) {
    try sigmoidFamily(x, y, count, log: true)
}

// The public entry points forward here; the work is specialised for Float and Double here, where
// it happens, and a generic call reaches the specialisation by a type check.
@_specialize(where T == Float)
@_specialize(where T == Double)
func sigmoidFamily<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, _ y: UnsafeMutablePointer<T>?, _ count: Int, log: Bool
) throws(SoftmaxError) {
    let shape = try RowShape(n: count)
    let bytes = shape.count * MemoryLayout<T>.stride
    try Check.pointer(x, count: count, "x")
    try Check.pointer(y, count: count, "y")
    try Check.disjoint(y, bytes, "y", x, bytes, "x", allowAlias: true)
    guard count > 0, let x, let y else { return }
    let k = Tier.kernels
    Threads.forEachChunk(units: count, costPerUnit: 1) { r in
        let xs = x + r.lowerBound, ys = y + r.lowerBound
        if log { k.vlogsigmoid(xs, ys, count: r.count) } else { k.vsigmoid(xs, ys, count: r.count) }
    }
}
