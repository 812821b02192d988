// libFuzzer harness over the C ABI of libswiftsoftmax.so (docs/reliability.md), built by `make fuzz`:
//
//   swiftc -sanitize=fuzzer,address -parse-as-library -I fuzz/CSwiftSoftmax fuzz/FuzzABI.swift \
//          -L<sanitized build> -lswiftsoftmax
//
// Each input is decoded into one call: the function family, the dtype, the [outer, n, inner]
// shape, flags (in place, null pointers for empty arrays, partial overlap, thread count), the
// temperature / smoothing / reduction, and the values (small numbers, special values or raw
// bits). The harness computes which status the call must return, and checks:
//   - no crash and no out-of-bounds access (AddressSanitizer; inputs are allocated exactly);
//   - the status is the expected one; on an error nothing was written (outputs and inputs
//     compared byte for byte);
//   - nothing is ever written outside the output: guard regions around it keep a sentinel;
//   - probabilities are in [0, 1] and sum to 1 within (n + 2)·8ε on every slice without NaN;
//     log-probabilities are <= 0 and their exponentials sum to 1; logsumexp >= max; sigmoid in
//     [0, 1]; one-hot rows hold a single 1; Jacobian rows sum to 0 and are symmetric;
//     cross-entropy losses are >= 0 and gradient rows sum to 0 (non-negative targets/weights);
//   - an in-place call gives the same bits as the out-of-place one.
// A violated invariant prints what and where, then aborts, which libFuzzer reports as a crash.

import CSwiftSoftmax

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// ---------------------------------------------------------------------------------------------
// decoding

/// The fuzz input as an endless byte stream: after its end it is read again, perturbed, so
/// that short inputs still fill large arrays.
struct Input {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func byte() -> UInt8 {
        defer { position += 1 }
        guard !bytes.isEmpty else { return UInt8(truncatingIfNeeded: position &* 37) }
        let lap = position / bytes.count
        return bytes[position % bytes.count] &+ UInt8(truncatingIfNeeded: lap &* 97)
    }
    mutating func u16() -> Int { Int(byte()) | Int(byte()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
}

protocol FuzzFloat: BinaryFloatingPoint {
    static func raw(_ input: inout Input) -> Self
    static var name: String { get }
}

extension Float: FuzzFloat {
    static func raw(_ input: inout Input) -> Float { Float(bitPattern: input.u32()) }
    static var name: String { "f32" }
}

extension Double: FuzzFloat {
    static func raw(_ input: inout Input) -> Double { Double(bitPattern: input.u64()) }
    static var name: String { "f64" }
}

func specials<T: FuzzFloat>(_: T.Type) -> [T] {
    [0, -0.0, .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
     .leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 88, -88, 700, -745, 1, -1,
     T(1e30), T(-1e30), .ulpOfOne, 1 - .ulpOfOne]
}

/// A value in one of four styles chosen per call: small multiples of 1/8, a mix with special
/// values, raw bit patterns, or a wide spread of magnitudes.
func value<T: FuzzFloat>(_ input: inout Input, style: UInt8) -> T {
    let b = input.byte()
    switch style % 4 {
    case 0:
        return T(Int8(bitPattern: b)) / 8
    case 1:
        let s = specials(T.self)
        return b < 40 ? s[Int(b) % s.count] : T(Int8(bitPattern: b)) * 4
    case 2:
        return T.raw(&input)
    default:
        return T(Int8(bitPattern: b)) * T(sign: .plus, exponent: T.Exponent(Int(input.byte() % 80) - 40), significand: 1)
    }
}

/// Valid temperatures are normal numbers (subnormal ones are a known kernel issue, see
/// python/tests/test_hostile.py); invalid ones must be refused.
func temperature<T: FuzzFloat>(_ input: inout Input) -> (T, valid: Bool) {
    let b = input.byte()
    let valid: [T] = [1, 1, 1, 0.5, 2, 0.01, 100, 3.7, T(1e-30), .leastNormalMagnitude * 16, T(1e20)]
    let invalid: [T] = [0, -0.0, -1, .nan, .infinity, -.infinity, -.leastNormalMagnitude]
    if b < 224 { return (valid[Int(b) % valid.count], true) }
    return (invalid[Int(b) % invalid.count], false)
}

// ---------------------------------------------------------------------------------------------
// buffers

let guardCount = 16
let sentinel: UInt8 = 0xCD

/// An output with `guardCount` sentinel-filled elements on each side.
struct Output<T> {
    let raw: UnsafeMutablePointer<T>
    let count: Int
    var ptr: UnsafeMutablePointer<T> { raw + guardCount }
    var bytes: Int { (count + 2 * guardCount) * MemoryLayout<T>.stride }

    init(_ count: Int) {
        self.count = count
        raw = .allocate(capacity: count + 2 * guardCount)
        memset(raw, Int32(sentinel), (count + 2 * guardCount) * MemoryLayout<T>.stride)
    }
    func free() { raw.deallocate() }
    subscript(i: Int) -> T { ptr[i] }

    /// Nothing written outside [0, count).
    func guardsIntact() -> Bool {
        let b = UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self)
        let g = guardCount * MemoryLayout<T>.stride
        let total = bytes
        for k in 0..<g where b[k] != sentinel || b[total - 1 - k] != sentinel { return false }
        return true
    }
    /// Nothing written at all.
    func untouched() -> Bool {
        let b = UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self)
        for k in 0..<bytes where b[k] != sentinel { return false }
        return true
    }
}

/// An input allocated with exactly `values.count` elements, so that AddressSanitizer catches
/// any read past it.
func exact<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: values.count)
    p.initialize(from: values, count: values.count)
    return p
}

func same<T>(_ p: UnsafePointer<T>, _ values: [T]) -> Bool {
    values.withUnsafeBytes { memcmp(p, $0.baseAddress!, $0.count) == 0 }
}

func fail(_ what: String) -> Never {
    fputs("fuzz invariant violated: \(what)\n", stderr)
    abort()
}

func require(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fail(what()) }
}

/// Invariants named in the environment variable FUZZ_SKIP (comma-separated) are not checked:
/// a way to keep fuzzing the rest while a known bug is being fixed. `make fuzz` sets none.
let skipped: Set<Substring> = Set((getenv("FUZZ_SKIP").map { String(cString: $0) } ?? "").split(separator: ","))

func check(_ name: Substring) -> Bool { !skipped.contains(name) }

// ---------------------------------------------------------------------------------------------
// the C entry points, per dtype

protocol ABI: FuzzFloat {
    static func softmax(_ x: UnsafePointer<Self>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ t: Self, log: Bool) -> UInt32
    static func softmaxInPlace(_ y: UnsafeMutablePointer<Self>?, _ rows: Int, _ n: Int, log: Bool) -> UInt32
    static func logsumexp(_ x: UnsafePointer<Self>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Self>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32
    static func sigmoid(_ x: UnsafePointer<Self>?, _ y: UnsafeMutablePointer<Self>?, _ c: Int, log: Bool) -> UInt32
    static func normalize(_ x: UnsafePointer<Self>?, _ y: UnsafeMutablePointer<Self>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32
    static func jacobian(_ x: UnsafePointer<Self>?, _ j: UnsafeMutablePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ t: Self) -> UInt32
    static func vjp(_ y: UnsafePointer<Self>?, _ g: UnsafePointer<Self>?, _ dx: UnsafeMutablePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ t: Self, log: Bool) -> UInt32
    static func oneHot(_ labels: UnsafePointer<Int64>?, _ c: Int, _ k: Int, _ out: UnsafeMutablePointer<Self>?) -> UInt32
    static func crossEntropy(_ x: UnsafePointer<Self>?, _ labels: UnsafePointer<Int64>?, _ w: UnsafePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Self, _ red: Int32, _ loss: UnsafeMutablePointer<Self>?, _ grad: UnsafeMutablePointer<Self>?) -> UInt32
    static func crossEntropySoft(_ x: UnsafePointer<Self>?, _ q: UnsafePointer<Self>?, _ w: UnsafePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ eps: Self, _ red: Int32, _ loss: UnsafeMutablePointer<Self>?, _ grad: UnsafeMutablePointer<Self>?) -> UInt32
    /// ssm_cross_entropy_ex_* (labels) or ssm_cross_entropy_soft_ex_* (soft): by the flag, not by
    /// whether q is null, since an empty q may be passed as null.
    static func crossEntropyEx(soft: Bool, _ x: UnsafePointer<Self>?, _ labels: UnsafePointer<Int64>?, _ q: UnsafePointer<Self>?, _ w: UnsafePointer<Self>?, _ sw: UnsafePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Self, _ red: Int32, _ opt: UnsafePointer<ssm_ce_options>?, _ loss: UnsafeMutablePointer<Self>?, _ grad: UnsafeMutablePointer<Self>?, _ lse: UnsafeMutablePointer<Self>?) -> UInt32
    static func klDiv(_ p: UnsafePointer<Self>?, _ q: UnsafePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ t: Self, _ red: Int32, _ loss: UnsafeMutablePointer<Self>?, _ gp: UnsafeMutablePointer<Self>?, _ gq: UnsafeMutablePointer<Self>?) -> UInt32
    static func entropy(_ x: UnsafePointer<Self>?, _ o: Int, _ n: Int, _ i: Int, _ t: Self, _ out: UnsafeMutablePointer<Self>?, _ grad: UnsafeMutablePointer<Self>?) -> UInt32
}

func reduction(_ r: Int32) -> ssm_reduction { ssm_reduction(rawValue: numericCast(UInt32(bitPattern: r))) }

extension Float: ABI {
    static func softmax(_ x: UnsafePointer<Float>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ t: Float, log: Bool) -> UInt32 {
        switch (m != nil, log) {
        case (false, false): return ssm_softmax_f32(x, y, o, n, i, t).rawValue
        case (false, true): return ssm_log_softmax_f32(x, y, o, n, i, t).rawValue
        case (true, false): return ssm_softmax_masked_f32(x, m, y, o, n, i, t).rawValue
        case (true, true): return ssm_log_softmax_masked_f32(x, m, y, o, n, i, t).rawValue
        }
    }
    static func softmaxInPlace(_ y: UnsafeMutablePointer<Float>?, _ rows: Int, _ n: Int, log: Bool) -> UInt32 {
        log ? ssm_log_softmax_inplace_f32(y, rows, n).rawValue : ssm_softmax_inplace_f32(y, rows, n).rawValue
    }
    static func logsumexp(_ x: UnsafePointer<Float>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Float>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32 {
        m == nil ? ssm_logsumexp_f32(x, y, o, n, i).rawValue : ssm_logsumexp_masked_f32(x, m, y, o, n, i).rawValue
    }
    static func sigmoid(_ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, _ c: Int, log: Bool) -> UInt32 {
        log ? ssm_log_sigmoid_f32(x, y, c).rawValue : ssm_sigmoid_f32(x, y, c).rawValue
    }
    static func normalize(_ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32 {
        ssm_normalize_f32(x, y, o, n, i).rawValue
    }
    static func jacobian(_ x: UnsafePointer<Float>?, _ j: UnsafeMutablePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ t: Float) -> UInt32 {
        ssm_softmax_jacobian_f32(x, j, o, n, i, t).rawValue
    }
    static func vjp(_ y: UnsafePointer<Float>?, _ g: UnsafePointer<Float>?, _ dx: UnsafeMutablePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ t: Float, log: Bool) -> UInt32 {
        log ? ssm_log_softmax_vjp_f32(y, g, dx, o, n, i, t).rawValue : ssm_softmax_vjp_f32(y, g, dx, o, n, i, t).rawValue
    }
    static func oneHot(_ labels: UnsafePointer<Int64>?, _ c: Int, _ k: Int, _ out: UnsafeMutablePointer<Float>?) -> UInt32 {
        ssm_one_hot_f32(labels, c, k, out).rawValue
    }
    static func crossEntropy(_ x: UnsafePointer<Float>?, _ labels: UnsafePointer<Int64>?, _ w: UnsafePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Float, _ red: Int32, _ loss: UnsafeMutablePointer<Float>?, _ grad: UnsafeMutablePointer<Float>?) -> UInt32 {
        ssm_cross_entropy_f32(x, labels, w, o, n, i, ignore, eps, reduction(red), loss, grad).rawValue
    }
    static func crossEntropySoft(_ x: UnsafePointer<Float>?, _ q: UnsafePointer<Float>?, _ w: UnsafePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ eps: Float, _ red: Int32, _ loss: UnsafeMutablePointer<Float>?, _ grad: UnsafeMutablePointer<Float>?) -> UInt32 {
        ssm_cross_entropy_soft_f32(x, q, w, o, n, i, eps, reduction(red), loss, grad).rawValue
    }
    static func crossEntropyEx(soft: Bool, _ x: UnsafePointer<Float>?, _ labels: UnsafePointer<Int64>?, _ q: UnsafePointer<Float>?, _ w: UnsafePointer<Float>?, _ sw: UnsafePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Float, _ red: Int32, _ opt: UnsafePointer<ssm_ce_options>?, _ loss: UnsafeMutablePointer<Float>?, _ grad: UnsafeMutablePointer<Float>?, _ lse: UnsafeMutablePointer<Float>?) -> UInt32 {
        soft
            ? ssm_cross_entropy_soft_ex_f32(x, q, w, sw, o, n, i, eps, reduction(red), opt, loss, grad, lse).rawValue
            : ssm_cross_entropy_ex_f32(x, labels, w, sw, o, n, i, ignore, eps, reduction(red), opt, loss, grad, lse).rawValue
    }
    static func klDiv(_ p: UnsafePointer<Float>?, _ q: UnsafePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ t: Float, _ red: Int32, _ loss: UnsafeMutablePointer<Float>?, _ gp: UnsafeMutablePointer<Float>?, _ gq: UnsafeMutablePointer<Float>?) -> UInt32 {
        ssm_kl_div_f32(p, q, o, n, i, t, reduction(red), loss, gp, gq).rawValue
    }
    static func entropy(_ x: UnsafePointer<Float>?, _ o: Int, _ n: Int, _ i: Int, _ t: Float, _ out: UnsafeMutablePointer<Float>?, _ grad: UnsafeMutablePointer<Float>?) -> UInt32 {
        ssm_entropy_f32(x, o, n, i, t, out, grad).rawValue
    }
}

extension Double: ABI {
    static func softmax(_ x: UnsafePointer<Double>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ t: Double, log: Bool) -> UInt32 {
        switch (m != nil, log) {
        case (false, false): return ssm_softmax_f64(x, y, o, n, i, t).rawValue
        case (false, true): return ssm_log_softmax_f64(x, y, o, n, i, t).rawValue
        case (true, false): return ssm_softmax_masked_f64(x, m, y, o, n, i, t).rawValue
        case (true, true): return ssm_log_softmax_masked_f64(x, m, y, o, n, i, t).rawValue
        }
    }
    static func softmaxInPlace(_ y: UnsafeMutablePointer<Double>?, _ rows: Int, _ n: Int, log: Bool) -> UInt32 {
        log ? ssm_log_softmax_inplace_f64(y, rows, n).rawValue : ssm_softmax_inplace_f64(y, rows, n).rawValue
    }
    static func logsumexp(_ x: UnsafePointer<Double>?, _ m: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<Double>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32 {
        m == nil ? ssm_logsumexp_f64(x, y, o, n, i).rawValue : ssm_logsumexp_masked_f64(x, m, y, o, n, i).rawValue
    }
    static func sigmoid(_ x: UnsafePointer<Double>?, _ y: UnsafeMutablePointer<Double>?, _ c: Int, log: Bool) -> UInt32 {
        log ? ssm_log_sigmoid_f64(x, y, c).rawValue : ssm_sigmoid_f64(x, y, c).rawValue
    }
    static func normalize(_ x: UnsafePointer<Double>?, _ y: UnsafeMutablePointer<Double>?, _ o: Int, _ n: Int, _ i: Int) -> UInt32 {
        ssm_normalize_f64(x, y, o, n, i).rawValue
    }
    static func jacobian(_ x: UnsafePointer<Double>?, _ j: UnsafeMutablePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ t: Double) -> UInt32 {
        ssm_softmax_jacobian_f64(x, j, o, n, i, t).rawValue
    }
    static func vjp(_ y: UnsafePointer<Double>?, _ g: UnsafePointer<Double>?, _ dx: UnsafeMutablePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ t: Double, log: Bool) -> UInt32 {
        log ? ssm_log_softmax_vjp_f64(y, g, dx, o, n, i, t).rawValue : ssm_softmax_vjp_f64(y, g, dx, o, n, i, t).rawValue
    }
    static func oneHot(_ labels: UnsafePointer<Int64>?, _ c: Int, _ k: Int, _ out: UnsafeMutablePointer<Double>?) -> UInt32 {
        ssm_one_hot_f64(labels, c, k, out).rawValue
    }
    static func crossEntropy(_ x: UnsafePointer<Double>?, _ labels: UnsafePointer<Int64>?, _ w: UnsafePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Double, _ red: Int32, _ loss: UnsafeMutablePointer<Double>?, _ grad: UnsafeMutablePointer<Double>?) -> UInt32 {
        ssm_cross_entropy_f64(x, labels, w, o, n, i, ignore, eps, reduction(red), loss, grad).rawValue
    }
    static func crossEntropySoft(_ x: UnsafePointer<Double>?, _ q: UnsafePointer<Double>?, _ w: UnsafePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ eps: Double, _ red: Int32, _ loss: UnsafeMutablePointer<Double>?, _ grad: UnsafeMutablePointer<Double>?) -> UInt32 {
        ssm_cross_entropy_soft_f64(x, q, w, o, n, i, eps, reduction(red), loss, grad).rawValue
    }
    static func crossEntropyEx(soft: Bool, _ x: UnsafePointer<Double>?, _ labels: UnsafePointer<Int64>?, _ q: UnsafePointer<Double>?, _ w: UnsafePointer<Double>?, _ sw: UnsafePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ ignore: Int64, _ eps: Double, _ red: Int32, _ opt: UnsafePointer<ssm_ce_options>?, _ loss: UnsafeMutablePointer<Double>?, _ grad: UnsafeMutablePointer<Double>?, _ lse: UnsafeMutablePointer<Double>?) -> UInt32 {
        soft
            ? ssm_cross_entropy_soft_ex_f64(x, q, w, sw, o, n, i, eps, reduction(red), opt, loss, grad, lse).rawValue
            : ssm_cross_entropy_ex_f64(x, labels, w, sw, o, n, i, ignore, eps, reduction(red), opt, loss, grad, lse).rawValue
    }
    static func klDiv(_ p: UnsafePointer<Double>?, _ q: UnsafePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ t: Double, _ red: Int32, _ loss: UnsafeMutablePointer<Double>?, _ gp: UnsafeMutablePointer<Double>?, _ gq: UnsafeMutablePointer<Double>?) -> UInt32 {
        ssm_kl_div_f64(p, q, o, n, i, t, reduction(red), loss, gp, gq).rawValue
    }
    static func entropy(_ x: UnsafePointer<Double>?, _ o: Int, _ n: Int, _ i: Int, _ t: Double, _ out: UnsafeMutablePointer<Double>?, _ grad: UnsafeMutablePointer<Double>?) -> UInt32 {
        ssm_entropy_f64(x, o, n, i, t, out, grad).rawValue
    }
}

let OK = SSM_OK.rawValue
let INVALID_ARGUMENT = SSM_INVALID_ARGUMENT.rawValue
let LABEL_OUT_OF_RANGE = SSM_LABEL_OUT_OF_RANGE.rawValue
let OVERLAPPING = SSM_OVERLAPPING_BUFFERS.rawValue

// ---------------------------------------------------------------------------------------------
// one fuzz case

enum Family: UInt8, CaseIterable {
    case softmax, logSoftmax, softmaxMasked, logSoftmaxMasked, logsumexp, logsumexpMasked
    case sigmoid, logSigmoid, normalize, jacobian, softmaxVJP, logSoftmaxVJP, oneHot
    case crossEntropy, crossEntropySoft
    // The _ex entry points: sample weights, z-loss, softcap and the lse output, labels or
    // probabilities by a flag (flags bit 6).
    case crossEntropyOptions
    // KL(P || Q) of two softmax distributions and the entropy of one, with their gradients.
    case klDiv, entropy
}

struct Case<T: ABI> {
    var input: Input
    let family: Family
    let flags: UInt8
    let outer: Int, n: Int, inner: Int
    var count: Int { outer * n * inner }
    var slices: Int { outer * inner }
    var eps: Double { Double(T.ulpOfOne) }
    var what: String { "\(family) \(T.name) [\(outer), \(n), \(inner)] flags \(flags)" }

    var inPlace: Bool { flags & 0x02 != 0 }
    var nullWhenEmpty: Bool { flags & 0x04 != 0 }
    var overlap: Bool { flags & 0x18 == 0x18 }  // one case in four: a partially overlapping output

    init(_ input: Input, _ family: Family, _ flags: UInt8, _ shape: (Int, Int, Int)) {
        self.input = input
        self.family = family
        self.flags = flags
        (outer, n, inner) = shape
    }

    mutating func values(_ count: Int) -> [T] {
        let style = input.byte()
        return (0..<count).map { _ in value(&input, style: style) }
    }

    mutating func mask(_ count: Int) -> [UInt8] {
        let density = input.byte() % 4  // 0: mostly masked out ... 3: all kept
        return (0..<count).map { _ in
            density == 3 ? 1 : (input.byte() % 4 <= density ? 1 : 0)
        }
    }

    /// An input pointer: exact allocation, or null for an empty array when the flag says so.
    func pointer(_ values: [T]) -> UnsafeMutablePointer<T>? {
        values.isEmpty && nullWhenEmpty ? nil : exact(values)
    }

    func index(_ s: Int, _ j: Int) -> Int { (s / inner) * n * inner + j * inner + s % inner }

    // ---- softmax, log_softmax (masked or not) ----
    mutating func runSoftmax(masked: Bool, log: Bool) {
        let xs = values(count)
        let ms = masked ? mask(count) : []
        let (t, valid) = temperature(&input) as (T, Bool)
        let x = pointer(xs)
        let m: UnsafeMutablePointer<UInt8>? = masked ? exact(ms) : nil
        defer { x?.deallocate(); m?.deallocate() }
        if overlap && count >= 2 {
            let shift = 1 + Int(input.byte()) % (count - 1)
            let region = exact(xs + [T](repeating: 0, count: shift))
            defer { region.deallocate() }
            let keep = Array(UnsafeBufferPointer(start: region, count: count + shift))
            let st = T.softmax(region, m, region + shift, outer, n, inner, t, log: log)
            require(st == OVERLAPPING, "\(what): partial overlap gave status \(st)")
            require(same(region, keep), "\(what): refused call wrote into the overlapping buffer")
            return
        }
        let y = Output<T>(count)
        defer { y.free() }
        let st = T.softmax(x, m, count == 0 && nullWhenEmpty ? nil : y.ptr, outer, n, inner, t, log: log)
        require(st == (valid ? OK : INVALID_ARGUMENT), "\(what): temperature \(t) gave status \(st)")
        require(x == nil || same(x!, xs), "\(what): input modified")
        if !valid { require(y.untouched(), "\(what): refused call wrote"); return }
        require(y.guardsIntact(), "\(what): wrote outside y")
        for s in 0..<slices {
            var hasNaN = false, kept = 0, finiteOrInf = 0
            for j in 0..<n {
                let k = index(s, j)
                if masked && ms[k] == 0 { continue }
                kept += 1
                if xs[k].isNaN { hasNaN = true }
                if xs[k] != -.infinity { finiteOrInf += 1 }
            }
            // FUZZ_SKIP name "huge-difference": float64 log_softmax with a temperature != 1 on the
            // baseline tier once gave NaN where |x - max| exceeds ~1e300 (fixed; checked unless skipped).
            if log && T.self == Double.self && t != 1 && !check("huge-difference") {
                let row = (0..<n).map { Double(xs[index(s, $0)]) }.filter { $0.isFinite }
                let m = row.max() ?? 0
                if row.contains(where: { abs($0 - m) > 1e290 }) { continue }
            }
            var sum = 0.0
            for j in 0..<n {
                let k = index(s, j)
                let v = y[k]
                // A NaN among the kept entries makes every output of the slice NaN.
                if hasNaN { require(v.isNaN, "\(what): slice \(s) has a NaN but y[\(k)] = \(v)"); continue }
                if masked && ms[k] == 0 {
                    require(log ? v == -.infinity : v == 0, "\(what): masked-out y[\(k)] = \(v)")
                    continue
                }
                if log {
                    require(v <= 0, "\(what): log-probability y[\(k)] = \(v) > 0 in slice \((0..<n).map { xs[index(s, $0)] }), temperature \(t)")
                    sum += exp(Double(v))
                } else {
                    require(v >= 0 && v <= 1, "\(what): probability y[\(k)] = \(v) in slice \((0..<n).map { xs[index(s, $0)] }), temperature \(t)")
                    sum += Double(v)
                }
            }
            if hasNaN || kept == 0 { continue }
            if finiteOrInf == 0 {
                require(sum == 0, "\(what): all -inf slice \(s) sums to \(sum)")
            } else {
                let tol = Double(n + 2) * 8 * eps
                require(abs(sum - 1) <= tol, "\(what): slice \(s) sums to \(sum) (|error| > \(tol))")
            }
        }
        if inPlace && count > 0 {
            let z = exact(xs)
            defer { z.deallocate() }
            let st2 = T.softmax(z, m, z, outer, n, inner, t, log: log)
            require(st2 == OK && memcmp(z, y.ptr, count * MemoryLayout<T>.stride) == 0,
                    "\(what): in place differs from out of place")
            if m == nil && t == 1 && inner == 1 {
                let w = exact(xs)
                defer { w.deallocate() }
                let st3 = T.softmaxInPlace(w, outer, n, log: log)
                require(st3 == OK && memcmp(w, y.ptr, count * MemoryLayout<T>.stride) == 0,
                        "\(what): the in-place entry point differs from out of place")
            }
        }
    }

    // ---- logsumexp (masked or not) ----
    mutating func runLogsumexp(masked: Bool) {
        let xs = values(count)
        let ms = masked ? mask(count) : []
        let x = pointer(xs)
        let m: UnsafeMutablePointer<UInt8>? = masked ? (ms.isEmpty && nullWhenEmpty ? nil : exact(ms)) : nil
        defer { x?.deallocate(); m?.deallocate() }
        let y = Output<T>(slices)
        defer { y.free() }
        let st = T.logsumexp(x, masked ? m : nil, y.ptr, outer, n, inner)
        require(st == OK, "\(what): status \(st)")
        require(y.guardsIntact(), "\(what): wrote outside out")
        require(x == nil || same(x!, xs), "\(what): input modified")
        for s in 0..<slices {
            var hasNaN = false, mx = -T.infinity, kept = 0
            for j in 0..<n {
                let k = index(s, j)
                if masked && ms[k] == 0 { continue }
                kept += 1
                if xs[k].isNaN { hasNaN = true } else { mx = max(mx, xs[k]) }
            }
            let v = y[s]
            if hasNaN { require(v.isNaN, "\(what): slice \(s) has a NaN, logsumexp \(v)"); continue }
            require(v >= mx, "\(what): logsumexp \(v) < max \(mx) in slice \(s)")
            if mx == -.infinity { require(v == -.infinity, "\(what): empty/-inf slice gives \(v)"); continue }
            if mx.isFinite {
                let bound = Double(mx) + naturalLog(Double(kept)) * (1 + 8 * eps) + 8 * eps * abs(Double(mx)) + 1e-300
                require(Double(v) <= bound || v == .infinity && Double(mx) + naturalLog(Double(kept)) > Double(T.greatestFiniteMagnitude),
                        "\(what): logsumexp \(v) > max + log(count) in slice \(s)")
            }
        }
    }

    // ---- sigmoid, log_sigmoid ----
    mutating func runSigmoid(log: Bool) {
        let c = count
        let xs = values(c)
        let x = pointer(xs)
        defer { x?.deallocate() }
        if overlap && c >= 2 {
            let region = exact(xs + [0])
            defer { region.deallocate() }
            let keep = Array(UnsafeBufferPointer(start: region, count: c + 1))
            let st = T.sigmoid(region + 1, region, c, log: log)
            require(st == OVERLAPPING, "\(what): partial overlap gave \(st)")
            require(same(region, keep), "\(what): refused call wrote")
            return
        }
        let y = Output<T>(c)
        defer { y.free() }
        require(T.sigmoid(x, c == 0 && nullWhenEmpty ? nil : y.ptr, c, log: log) == OK, "\(what): status")
        require(y.guardsIntact(), "\(what): wrote outside y")
        for k in 0..<c {
            let v = y[k]
            require(v.isNaN == xs[k].isNaN, "\(what): NaN-ness of y[\(k)] = \(v) for x = \(xs[k])")
            if !v.isNaN { require(log ? v <= 0 : (v >= 0 && v <= 1), "\(what): y[\(k)] = \(v) for x = \(xs[k])") }
        }
        if inPlace && c > 0 {
            let z = exact(xs)
            defer { z.deallocate() }
            require(T.sigmoid(z, z, c, log: log) == OK && memcmp(z, y.ptr, c * MemoryLayout<T>.stride) == 0,
                    "\(what): in place differs")
        }
    }

    // ---- normalize: only safety (IEEE results) ----
    mutating func runNormalize() {
        let xs = values(count)
        let x = pointer(xs)
        defer { x?.deallocate() }
        let y = Output<T>(count)
        defer { y.free() }
        require(T.normalize(x, count == 0 && nullWhenEmpty ? nil : y.ptr, outer, n, inner) == OK, "\(what): status")
        require(y.guardsIntact(), "\(what): wrote outside y")
        require(x == nil || same(x!, xs), "\(what): input modified")
        if inPlace && count > 0 {
            let z = exact(xs)
            defer { z.deallocate() }
            require(T.normalize(z, z, outer, n, inner) == OK && memcmp(z, y.ptr, count * MemoryLayout<T>.stride) == 0,
                    "\(what): in place differs")
        }
    }

    // ---- softmax Jacobian ----
    mutating func runJacobian() {
        let xs = values(count)
        let (t, valid) = temperature(&input) as (T, Bool)
        let x = pointer(xs)
        defer { x?.deallocate() }
        let jc = slices * n * n
        let jac = Output<T>(jc)
        defer { jac.free() }
        let st = T.jacobian(x, jc == 0 && nullWhenEmpty ? nil : jac.ptr, outer, n, inner, t)
        require(st == (valid ? OK : INVALID_ARGUMENT), "\(what): temperature \(t) gave \(st)")
        if !valid { require(jac.untouched(), "\(what): refused call wrote"); return }
        require(jac.guardsIntact(), "\(what): wrote outside jac")
        for s in 0..<slices {
            let hasNaN = (0..<n).contains { xs[index(s, $0)].isNaN }
            let base = s * n * n
            for i in 0..<n {
                var sum = 0.0, mag = 0.0
                for j in 0..<n {
                    let v = jac[base + i * n + j]
                    if hasNaN { require(v.isNaN, "\(what): NaN slice \(s) gives J = \(v)"); continue }
                    require(v.isFinite, "\(what): J[\(i)][\(j)] = \(v) in slice \(s)")
                    let w = jac[base + j * n + i]
                    require(abs(Double(v) - Double(w)) <= 4 * eps * max(abs(Double(v)), abs(Double(w))) + Double(T.leastNormalMagnitude),
                            "\(what): J not symmetric at (\(i), \(j)): \(v) vs \(w)")
                    sum += Double(v)
                    mag += abs(Double(v))
                }
                if hasNaN { continue }
                require(jac[base + i * n + i] >= 0, "\(what): negative diagonal in slice \(s)")
                require(abs(sum) <= Double(n + 2) * 8 * eps * mag + 4 * Double(T.leastNormalMagnitude),
                        "\(what): Jacobian row \(i) of slice \(s) sums to \(sum)")
            }
        }
    }

    // ---- VJPs: safety, in place (dx = y) equal to out of place ----
    mutating func runVJP(log: Bool) {
        let ys = values(count)
        let gs = values(count)
        let (t, valid) = temperature(&input) as (T, Bool)
        let yp = pointer(ys), gp = pointer(gs)
        defer { yp?.deallocate(); gp?.deallocate() }
        if overlap && count >= 2 {
            let region = exact(gs + [0])
            defer { region.deallocate() }
            let keep = Array(UnsafeBufferPointer(start: region, count: count + 1))
            let st = T.vjp(yp, region, region + 1, outer, n, inner, t, log: log)
            require(st == OVERLAPPING, "\(what): partial overlap gave \(st)")
            require(same(region, keep), "\(what): refused call wrote")
            return
        }
        let dx = Output<T>(count)
        defer { dx.free() }
        let st = T.vjp(yp, gp, count == 0 && nullWhenEmpty ? nil : dx.ptr, outer, n, inner, t, log: log)
        require(st == (valid ? OK : INVALID_ARGUMENT), "\(what): temperature \(t) gave \(st)")
        require((yp == nil || same(yp!, ys)) && (gp == nil || same(gp!, gs)), "\(what): input modified")
        if !valid { require(dx.untouched(), "\(what): refused call wrote"); return }
        require(dx.guardsIntact(), "\(what): wrote outside dx")
        if inPlace && count > 0 {
            let z = exact(ys)
            defer { z.deallocate() }
            require(T.vjp(z, gp, z, outer, n, inner, t, log: log) == OK && memcmp(z, dx.ptr, count * MemoryLayout<T>.stride) == 0,
                    "\(what): in place (dx = y) differs")
        }
    }

    // ---- one_hot ----
    mutating func runOneHot() {
        let c = slices
        let k = n
        let labels: [Int64] = (0..<c).map { _ in
            let b = input.byte()
            return b == 255 ? Int64(bitPattern: input.u64()) : Int64(b % UInt8(max(1, min(255, k + 1)))) - (b & 0x80 != 0 ? 1 : 0)
        }
        let bad = labels.firstIndex { $0 < 0 || $0 >= Int64(k) }
        let lp: UnsafeMutablePointer<Int64>? = labels.isEmpty && nullWhenEmpty ? nil : exact(labels)
        defer { lp?.deallocate() }
        let out = Output<T>(c * k)
        defer { out.free() }
        let st = T.oneHot(lp, c, k, c * k == 0 && nullWhenEmpty ? nil : out.ptr)
        require(st == (bad == nil ? OK : LABEL_OUT_OF_RANGE), "\(what): labels \(labels.prefix(8)) gave \(st)")
        if bad != nil { require(out.untouched(), "\(what): refused call wrote"); return }
        require(out.guardsIntact(), "\(what): wrote outside out")
        for r in 0..<c {
            for j in 0..<k {
                require(out[r * k + j] == (Int64(j) == labels[r] ? 1 : 0), "\(what): one-hot row \(r)")
            }
        }
    }

    // ---- cross-entropy (labels or probabilities), with or without the options ----
    mutating func runCrossEntropy(soft: Bool, options: Bool = false) {
        let xs = values(count)
        let smoothingTable: [T] = [0, 0, 0, 0.1, 0.5, 1, -0.1, 1.5, .nan, .infinity]
        let eps = smoothingTable[Int(input.byte()) % smoothingTable.count]
        let red = Int32(input.byte() % 8) - 2  // -2...5: 0, 1, 2 valid
        let weightTable: [T] = [1, 0.5, 2, 0, 3.25, 1e-3]
        let useWeight = input.byte() & 1 == 1
        let ws: [T] = useWeight ? (0..<n).map { _ in weightTable[Int(input.byte()) % weightTable.count] } : []
        let ignore: Int64 = input.byte() & 1 == 0 ? -100 : Int64(n / 2)
        let labels: [Int64] = soft ? [] : (0..<slices).map { _ in
            let b = input.byte()
            if b >= 250 { return Int64(n) + Int64(b - 250) - 2 }  // sometimes out of range
            return b & 0x40 != 0 ? ignore : Int64(Int(b) % max(1, n))
        }
        let qs: [T] = soft ? values(count) : []
        // The options: z-loss, softcap, sample weights (invalid values now and then), lse output.
        let zTable: [Double] = [0, 0, 1e-4, 0.5, -1, .nan, .infinity]
        let capTable: [Double] = [0, 0, 1, 30, 1e-3, -1, .nan, .infinity]
        let swTable: [T] = [1, 0, 2.5, 1e-3, 1, 0.5, 3, 1, -1, .nan]
        let zLoss = options ? zTable[Int(input.byte()) % zTable.count] : 0
        let cap = options ? capTable[Int(input.byte()) % capTable.count] : 0
        let useSW = options && input.byte() & 1 == 1
        let sws: [T] = useSW ? (0..<slices).map { _ in swTable[Int(input.byte()) % swTable.count] } : []
        let wantLse = options && input.byte() & 1 == 1
        let optionsValid = zLoss.isFinite && zLoss >= 0 && (cap == 0 || cap.isFinite && cap > 0)
            && sws.allSatisfy { $0.isFinite && $0 >= 0 }
        let validArgs = eps >= 0 && eps <= 1 && (0...2).contains(red) && optionsValid
        let badLabel = !soft && labels.contains { $0 != ignore && ($0 < 0 || $0 >= Int64(n)) }
        let expected = !validArgs ? INVALID_ARGUMENT : (badLabel ? LABEL_OUT_OF_RANGE : OK)

        let x = pointer(xs)
        let q: UnsafeMutablePointer<T>? = soft ? pointer(qs) : nil
        let w: UnsafeMutablePointer<T>? = useWeight ? exact(ws) : nil
        let lp: UnsafeMutablePointer<Int64>? = soft || (labels.isEmpty && nullWhenEmpty) ? nil : exact(labels)
        let sw: UnsafeMutablePointer<T>? = useSW ? exact(sws) : nil
        defer { x?.deallocate(); q?.deallocate(); w?.deallocate(); lp?.deallocate(); sw?.deallocate() }
        var opt = ssm_ce_options(struct_size: MemoryLayout<ssm_ce_options>.size, z_loss: zLoss, softcap: cap)
        let lossCount = red == 0 ? slices : 1
        let loss = Output<T>(lossCount)
        let wantGrad = flags & 0x20 != 0
        let grad = Output<T>(count)
        let lse = Output<T>(slices)
        defer { loss.free(); grad.free(); lse.free() }
        let lossPtr = lossCount == 0 && nullWhenEmpty ? nil : loss.ptr
        let gradPtr = wantGrad ? (count == 0 && nullWhenEmpty ? nil : grad.ptr) : nil
        let lsePtr = wantLse ? (slices == 0 && nullWhenEmpty ? nil : lse.ptr) : nil
        func call(_ x: UnsafeMutablePointer<T>?, _ loss: UnsafeMutablePointer<T>?, _ grad: UnsafeMutablePointer<T>?,
                  _ lse: UnsafeMutablePointer<T>?) -> UInt32 {
            if options {
                return T.crossEntropyEx(soft: soft, x, lp, q, w, sw, outer, n, inner, ignore, eps, red, &opt, loss, grad, lse)
            }
            return soft
                ? T.crossEntropySoft(x, q, w, outer, n, inner, eps, red, loss, grad)
                : T.crossEntropy(x, lp, w, outer, n, inner, ignore, eps, red, loss, grad)
        }
        let st = call(x, lossPtr, gradPtr, lsePtr)
        require(st == expected, "\(what): smoothing \(eps), reduction \(red), labels \(labels.prefix(8)) gave \(st), expected \(expected)")
        require((x == nil || same(x!, xs)) && (q == nil || same(q!, qs)), "\(what): input modified")
        if st != OK {
            require(loss.untouched() && grad.untouched() && lse.untouched(), "\(what): refused call wrote")
            return
        }
        require(loss.guardsIntact() && grad.guardsIntact() && lse.guardsIntact(), "\(what): wrote outside loss/grad/lse")
        if !wantLse { require(lse.untouched(), "\(what): wrote an lse nobody asked for") }
        if !wantGrad { require(grad.untouched(), "\(what): wrote a gradient nobody asked for") }
        // Invariants on samples whose targets and logits are ordinary.
        let qOK = qs.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1e4 }
        // The target coefficients c_j of a sample (their sum bounds the gradient's rounding) and
        // the reduction's divisor.
        func weight(_ j: Int) -> Double { useWeight ? Double(ws[j]) : 1 }
        func coefficientSum(_ s: Int) -> Double {
            let e = Double(eps), spread = n > 0 ? e / Double(n) : 0
            var c = 0.0
            for j in 0..<n {
                let target = soft ? Double(qs[index(s, j)]) * (1 - e) : (Int64(j) == labels[s] ? 1 - e : 0)
                c += weight(j) * (target + spread)
            }
            return !soft && labels[s] == ignore ? 0 : c
        }
        var divisor = 1.0
        if red == 1 {
            func sampleWeight(_ s: Int) -> Double { useSW ? Double(sws[s]) : 1 }
            divisor = soft ? (0..<slices).reduce(0.0) { $0 + sampleWeight($1) }
                : (0..<slices).filter { labels[$0] != ignore }.reduce(0.0) { $0 + weight(Int(labels[$1])) * sampleWeight($1) }
        }
        for s in 0..<slices {
            let row = (0..<n).map { xs[index(s, $0)] }
            if row.contains(where: { $0.isNaN }) || !qOK { continue }
            if wantLse && n > 0 {
                // lse >= the largest (capped) logit.
                let top = Double(row.max()!)
                let capped = cap == 0 ? top : cap * tanh(top / cap)
                let v = Double(lse[s])
                require(v >= capped - (capped.isFinite ? 1e-5 * abs(capped) : 0) || (top.isNaN && v.isNaN), "\(what): lse \(v) below the maximum \(capped) in slice \(s)")
            }
            // The z-loss and the cap change the gradient's sum; a sample weight scales it.
            if options && (zLoss != 0 || cap != 0) { continue }
            if red == 0 {
                let l = loss[s]
                require(l >= 0 || l.isNaN && row.allSatisfy { $0 == -.infinity }, "\(what): per-sample loss \(l) < 0 in slice \(s)")
            }
            guard wantGrad, check("ce-gradient-sum"), row.contains(where: { $0 != -.infinity }) else { continue }
            var sum = 0.0, mag = 0.0
            for j in 0..<n {
                let g = grad[index(s, j)]
                require(g.isFinite, "\(what): gradient \(g) in slice \(s)")
                sum += Double(g)
                mag += abs(Double(g))
            }
            let scale = divisor > 0 ? coefficientSum(s) * (useSW ? Double(sws[s]) : 1) / divisor : 0
            require(abs(sum) <= Double(n + 2) * 16 * self.eps * (mag + scale) + 8 * Double(T.leastNormalMagnitude),
                    "\(what): gradient of slice \(s) sums to \(sum): logits \(row), "
                    + (soft ? "targets \((0..<n).map { qs[index(s, $0)] })" : "label \(labels[s]) (ignore_index \(ignore))")
                    + ", smoothing \(eps), reduction \(red), weights \(ws), gradient \((0..<n).map { grad[index(s, $0)] })")
        }
        if red != 0 && slices > 0 && qOK && !xs.contains(where: { $0.isNaN }) {
            let l = loss[0]
            require(l >= 0 || l.isNaN, "\(what): reduced loss \(l) < 0")
        }
        if wantGrad && inPlace && count > 0 {
            let z = exact(xs)
            let other = Output<T>(lossCount), otherLse = Output<T>(slices)
            defer { z.deallocate(); other.free(); otherLse.free() }
            // The same outputs asked for as above: asking for the lse may take another kernel.
            let st2 = call(z, other.ptr, z, wantLse ? otherLse.ptr : nil)
            let k = (0..<count).first { memcmp(z + $0, grad.ptr + $0, MemoryLayout<T>.stride) != 0 }
            require(st2 == OK && k == nil,
                    "\(what): in-place gradient (grad = logits) differs: status \(st2), at \(k ?? -1): \(k.map { z[$0] } ?? 0) against \(k.map { grad[$0] } ?? 0), x \(k.map { xs[$0] } ?? 0), z-loss \(zLoss), cap \(cap), sample weights \(sws.prefix(8)), lse \(wantLse)")
        }
    }

    // ---- kl_div (two logits) and entropy (one), with their gradients ----
    /// Refused calls write nothing; divergences and entropies are >= 0 (entropy <= log n on
    /// finite slices), NaN wherever a slice has a NaN; gradient rows sum to about 0; in
    /// place (gradient = its logits) equals out of place.
    mutating func runDivergence(kl: Bool) {
        let xs = values(count)
        let qs: [T] = kl ? values(count) : []
        let (t, tempValid) = temperature(&input) as (T, Bool)
        let red = kl ? Int32(input.byte() % 4) : 0  // 3: not a reduction
        let wantGrad = flags & 0x20 != 0
        let x = pointer(xs)
        let q: UnsafeMutablePointer<T>? = kl ? pointer(qs) : nil
        defer { x?.deallocate(); q?.deallocate() }
        let lossCount = red == 0 ? slices : 1
        let loss = Output<T>(lossCount), gx = Output<T>(count), gq = Output<T>(count)
        defer { loss.free(); gx.free(); gq.free() }
        let lossPtr = lossCount == 0 && nullWhenEmpty ? nil : loss.ptr
        let gxPtr = wantGrad ? (count == 0 && nullWhenEmpty ? nil : gx.ptr) : nil
        let gqPtr = wantGrad && kl ? (count == 0 && nullWhenEmpty ? nil : gq.ptr) : nil
        func call(_ x: UnsafeMutablePointer<T>?, _ q: UnsafeMutablePointer<T>?, _ loss: UnsafeMutablePointer<T>?,
                  _ gx: UnsafeMutablePointer<T>?, _ gq: UnsafeMutablePointer<T>?) -> UInt32 {
            kl ? T.klDiv(x, q, outer, n, inner, t, red, loss, gx, gq) : T.entropy(x, outer, n, inner, t, loss, gx)
        }
        let st = call(x, q, lossPtr, gxPtr, gqPtr)
        let expected = red == 3 || !tempValid ? INVALID_ARGUMENT : OK
        require(st == expected, "\(what): temperature \(t), reduction \(red) gave \(st), expected \(expected)")
        require((x == nil || same(x!, xs)) && (q == nil || same(q!, qs)), "\(what): input modified")
        if st != OK {
            require(loss.untouched() && gx.untouched() && gq.untouched(), "\(what): refused call wrote")
            return
        }
        require(loss.guardsIntact() && gx.guardsIntact() && gq.guardsIntact(), "\(what): wrote outside its outputs")
        if !wantGrad { require(gx.untouched() && gq.untouched(), "\(what): wrote a gradient nobody asked for") }
        var anyNaN = false
        for s in 0..<slices {
            let row = (0..<n).map { xs[index(s, $0)] }
            let qrow = kl ? (0..<n).map { qs[index(s, $0)] } : []
            let hasNaN = row.contains { $0.isNaN } || qrow.contains { $0.isNaN }
            anyNaN = anyNaN || hasNaN
            guard red == 0 else { continue }
            let v = loss[s]
            if hasNaN { require(v.isNaN, "\(what): slice \(s) has a NaN, result \(v)"); continue }
            if n == 0 { require(v == 0, "\(what): empty slice \(s) gives \(v)"); continue }
            if v.isNaN { continue }  // a limit the formula leaves undefined (e.g. +inf against -inf)
            require(v >= 0, "\(what): result \(v) < 0 in slice \(s)")
            if !kl && row.allSatisfy({ $0.isFinite }) {
                let bound = naturalLog(Double(n)) * (1 + 64 * eps) + 64 * eps
                require(Double(v) <= bound, "\(what): entropy \(v) > log(\(n)) in slice \(s)")
            }
            // Gradient rows sum to 0: sum over j of P_j (d_j - KL), of Q_j - P_j, of -P_j (log P_j + H).
            guard wantGrad, row.allSatisfy({ $0.isFinite }), qrow.allSatisfy({ $0.isFinite }), v.isFinite else { continue }
            for g in kl ? [gx, gq] : [gx] {
                var sum = 0.0, size = 0.0
                for j in 0..<n { let e = Double(g[index(s, j)]); sum += e; size += abs(e) }
                if !size.isFinite { continue }
                // Each entry is P_j (or Q_j) times a log-ratio over T, rounded: the sum's error
                // scales with (1 + |log-ratios|)/T, where the log-ratios reach spread/T, and not
                // with the entries, which may all be tiny.
                let spread = (row + qrow).reduce(0.0) { max($0, abs(Double($1))) } * 2 / Double(t)
                let scale = size + (1 + spread) / Double(t) + Double(T.leastNormalMagnitude)
                require(abs(sum) <= Double(n + 4) * 16 * eps * scale,
                        "\(what): gradient of slice \(s) sums to \(sum) (magnitude \(size))")
            }
        }
        if red != 0 && !anyNaN {
            let v = loss[0]
            require(v >= 0 || v.isNaN, "\(what): reduced result \(v) < 0")
        }
        if wantGrad && inPlace && count > 0 {
            let z = exact(xs)
            let other = Output<T>(lossCount), otherQ = Output<T>(count)
            defer { z.deallocate(); other.free(); otherQ.free() }
            let st2 = call(z, q, other.ptr, z, kl ? otherQ.ptr : nil)
            require(st2 == OK && memcmp(z, gx.ptr, count * MemoryLayout<T>.stride) == 0,
                    "\(what): in-place gradient (grad = logits) differs")
        }
    }

    mutating func run() {
        ssm_set_num_threads(flags & 0x01 != 0 ? 2 : 1)
        switch family {
        case .softmax: runSoftmax(masked: false, log: false)
        case .logSoftmax: runSoftmax(masked: false, log: true)
        case .softmaxMasked: runSoftmax(masked: true, log: false)
        case .logSoftmaxMasked: runSoftmax(masked: true, log: true)
        case .logsumexp: runLogsumexp(masked: false)
        case .logsumexpMasked: runLogsumexp(masked: true)
        case .sigmoid: runSigmoid(log: false)
        case .logSigmoid: runSigmoid(log: true)
        case .normalize: runNormalize()
        case .jacobian: runJacobian()
        case .softmaxVJP: runVJP(log: false)
        case .logSoftmaxVJP: runVJP(log: true)
        case .oneHot: runOneHot()
        case .crossEntropy: runCrossEntropy(soft: false)
        case .crossEntropySoft: runCrossEntropy(soft: true)
        case .crossEntropyOptions: runCrossEntropy(soft: flags & 0x40 != 0, options: true)
        case .klDiv: runDivergence(kl: true)
        case .entropy: runDivergence(kl: false)
        }
    }
}

func naturalLog(_ v: Double) -> Double { log(v) }

/// Header: family, flags, dtype + size class, then outer, n, inner.
///   flags bit 0: two threads; 1: also in place; 2: null pointers for empty arrays;
///   3+4: partial overlap; 5: cross-entropy gradient; 6: probability targets (the options' family).
/// Size class "large" (one input in 32) reaches the multi-threaded paths (> 65536 elements).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = Input(bytes: UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    let family = Family.allCases[Int(input.byte()) % Family.allCases.count]
    let flags = input.byte()
    let kind = input.byte()
    let large = kind & 0x3E == 0x3E
    var outer = Int(input.byte() % (large ? 13 : 6))
    if outer == 0 && input.byte() & 3 != 0 { outer = 1 }  // empty batches now and then
    var n = Int(input.u16() % (large ? 3200 : 70))
    var inner = 1 + Int(input.byte() % (large ? 2 : 5))
    if family == .jacobian { n = min(n, 48); outer = min(outer, 4); inner = min(inner, 3) }
    if family == .oneHot { inner = 1 }
    if kind & 0x10 != 0 && !large { inner = 1 }  // the common row layout
    if kind & 0x01 == 0 {
        var c = Case<Float>(input, family, flags, (outer, n, inner))
        c.run()
    } else {
        var c = Case<Double>(input, family, flags, (outer, n, inner))
        c.run()
    }
    return 0
}

/// Says which kernel tier is fuzzed; a tier forced by SWIFTSOFTMAX_ISA that this CPU cannot run
/// is an error (the Makefile only asks for tiers the CPU has).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let isa = String(cString: ssm_isa())
    fputs("FuzzABI: libswiftsoftmax \(String(cString: ssm_version())) on tier \(isa)\n", stderr)
    if isa.contains("SWIFTSOFTMAX_ISA") { fail("tier not available: \(isa)") }
    return 0
}
