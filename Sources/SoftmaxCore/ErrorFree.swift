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

/// Double-double arithmetic for the few per-row steps that need more than Double:
/// (hi, lo) pairs with |lo| <= ulp(hi)/2.
public enum DoubleDouble {
    public typealias DD = (hi: Double, lo: Double)

    @inlinable @inline(__always)
    public static func add(_ a: DD, _ b: DD) -> DD {
        let s = twoSum(a.hi, b.hi)
        let t = twoSum(a.lo, b.lo)
        let u = twoSum(s.hi, s.lo + t.hi)
        return twoSum(u.hi, u.lo + t.lo)
    }

    @inlinable @inline(__always)
    public static func mul(_ a: DD, _ b: DD) -> DD {
        let p = twoProduct(a.hi, b.hi)
        return twoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi))
    }

    /// exp(a) for a.hi <= 709 (0 below -746), to about 2^-100 relative: k ln 2 taken out with ln 2 as a
    /// double-double, then a degree-24 Taylor polynomial (|r| <= 0.35, truncation < 2^-115)
    /// evaluated in double-double by Horner.
    public static func exp(_ a: DD) -> DD {
        if a.hi < -746 { return (0, 0) }
        let (p, k) = expSplit(a)
        let scale = Double(sign: .plus, exponent: k, significand: 1)
        return (p.hi * scale, p.lo * scale)
    }

    /// ln 2 as a double-double.
    public static let ln2: DD = (0.6931471805599453, 2.3190468138462996e-17)

    /// exp(a) as `2^k · p` with p in [0.7, 1.42], to about 2^-100 relative, for |a.hi| < 2^40:
    /// the scale left apart, so that a product with another factor neither overflows nor
    /// loses digits to the subnormal range before the caller applies it.
    public static func expSplit(_ a: DD) -> (p: DD, k: Int) {
        let k = (a.hi / ln2.hi).rounded()
        let r = add(a, mul((-k, 0), ln2))
        var p: DD = (1, 0)
        var n = 24.0
        while n >= 1 {
            // p = 1 + r p / n
            let q = mul(r, p)
            p = add((1, 0), (q.hi / n, divisionLow(q, n)))
            n -= 1
        }
        return (p, Int(k))
    }

    /// `a · 2^k` for a scale that may leave the exponent range of its factor: 0 below it.
    @inlinable
    public static func scaled(_ a: DD, _ k: Int) -> DD {
        if k == 0 { return a }
        if k < -2200 { return (0, 0) }
        // Two steps: 2^k itself is not a Double below 2^-1074.
        let k1 = k / 2, k2 = k - k1
        let s1 = Double(sign: .plus, exponent: k1, significand: 1)
        let s2 = Double(sign: .plus, exponent: k2, significand: 1)
        return ((a.hi * s1) * s2, (a.lo * s1) * s2)
    }

    /// log(a) for a double-double a > 0 (normal), to about 2^-100 absolute: log of the high
    /// part, then one Newton step L + (a exp(-L) - 1), whose residual is formed in double-double.
    public static func log(_ a: DD, first l0: Double) -> DD {
        let (e, k) = expSplit((-l0, 0))
        let r = add(scaled(mul(a, e), k), (-1, 0))
        return twoSum(l0, r.hi + r.lo)
    }

    /// The low part of q / n (double-double by double) given its rounded high part.
    @inlinable @inline(__always)
    static func divisionLow(_ q: DD, _ n: Double) -> Double {
        let h = q.hi / n
        let p = twoProduct(h, n)
        return ((q.hi - p.hi) - p.lo + q.lo) / n
    }

    /// log1p(s) for a double-double s >= 0, to about 2^-100 relative: log1p of the high part,
    /// then one Newton step L + ((1 + s) exp(-L) - 1), whose residual is formed in double-double.
    public static func log1p(_ s: DD, first l0: Double) -> DD {
        let e = exp((-l0, 0))
        let onePlus = add((1, 0), s)
        let r = add(mul(onePlus, e), (-1, 0))
        return twoSum(l0, r.hi + r.lo)
    }

    /// exp(a) for -709 <= a.hi <= 0, to about 2^-66 relative, at a small part of the cost of
    /// `exp`: for a caller that needs some bits beyond Double per element (the soft cap of Float64
    /// logits, docs/design.md, "Cross-entropy options"). a = k ln2/64 + r with |r| <= ln2/128,
    /// r a pair (ln 2 a double-double), exp(a) = 2^(k/64) · (1 + r + tail): 2^(j/64) from a
    /// double-double table, the product by r exact, and only the Taylor tail r²/2 + ... + r⁷/7!
    /// (<= 1.6e-5) in Double, whose rounding is the 2^-66.
    @inlinable
    public static func expNear(_ a: DD) -> DD {
        let k = (a.hi * (64 / ln2.hi)).rounded()
        let p = twoProduct(k, ln2.hi / 64)
        // a.hi - p.hi is exact (the two are within a factor 2 of each other, or p is 0).
        let r = twoSum(a.hi - p.hi, (a.lo - p.lo) - k * (ln2.lo / 64))
        let x = r.hi
        let tail = x * x * (1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120
                     + x * (1.0 / 720 + x * (1.0 / 5040))))))
        let ki = Int(k)
        let j = ki & 63
        let t = (hi: exp2Table[2 * j], lo: exp2Table[2 * j + 1])
        let tr = twoProduct(t.hi, x)
        let head = twoSum(t.hi, tr.hi)
        let lo = head.lo + ((tr.lo + t.hi * (r.lo + tail)) + t.lo * (1 + x))
        let scale = Double(sign: .plus, exponent: (ki - j) / 64, significand: 1)
        return (head.hi * scale, lo * scale)
    }

    /// 2^(j/64) for j = 0 ..< 64 as double-doubles (hi, lo interleaved), from `exp`.
    @usableFromInline static let exp2Table: [Double] = (0..<64).flatMap { j -> [Double] in
        let e = exp(mul((Double(j), 0), (ln2.hi / 64, ln2.lo / 64)))
        return [e.hi, e.lo]
    }
}
