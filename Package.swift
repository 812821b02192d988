// swift-tools-version:6.0
// swiftsoftmax: softmax, its family, derivatives and cross-entropy, exported as a Swift library
// (SwiftSoftmax) and as a self-contained C library (libswiftsoftmax.so).
import PackageDescription

// Kernels are pure arithmetic over raw pointers; bounds are established once by the API layer.
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]

// Swift has no per-function target attributes, so the kernel sources are compiled once per CPU
// tier: Sources/Tiers/<TIER> are symbolic links to Sources/SoftmaxKernels. The API picks one
// tier at load time from cpuid (or SWIFTSOFTMAX_ISA).
struct Tier { let name: String; let cpu: String; let defines: [String] }
#if arch(x86_64)
let tiers = [
    Tier(name: "AVX2", cpu: "haswell", defines: ["SSM_TIER_AVX2", "SSM_FMA"]),
    Tier(name: "AVX512", cpu: "skylake-avx512", defines: ["SSM_TIER_AVX512", "SSM_FMA"]),
]
#else
let tiers: [Tier] = []
#endif
let tierTargets: [Target] = tiers.map { t in
    .target(
        name: "SoftmaxKernels\(t.name)", dependencies: ["SoftmaxCore"], path: "Sources/Tiers/\(t.name)",
        swiftSettings: kernelFlags + [.unsafeFlags(["-target-cpu", t.cpu])] + t.defines.map { .define($0) })
}
let tierDependencies: [Target.Dependency] = tiers.map { .target(name: "SoftmaxKernels\($0.name)") }

// libswiftsoftmax.so carries its own copy of the Swift runtime (-static-stdlib), so that C and
// Python programs need no libswift*. `SWIFTSOFTMAX_SANITIZE=1` (set by `make fuzz`) links the
// runtime dynamically instead: a Swift host process (the libFuzzer harness) must share one runtime
// with the library.
let staticStdlib: [LinkerSetting] =
    Context.environment["SWIFTSOFTMAX_SANITIZE"] == "1" ? [] : [.unsafeFlags(["-static-stdlib"])]

let package = Package(
    name: "swiftsoftmax",
    products: [
        .library(name: "SwiftSoftmax", targets: ["SwiftSoftmax"]),
        .library(name: "swiftsoftmax", type: .dynamic, targets: ["SwiftSoftmaxCABI"]),
    ],
    targets: [
        // Per-call thread-local error text and CPU feature detection: the two things C does best.
        .target(name: "CSoftmaxSupport"),
        // The scalar protocol shared by every kernel tier and the API.
        .target(name: "SoftmaxCore", swiftSettings: kernelFlags),
        // Micro-kernels over one [outer, n, inner] view.
        .target(name: "SoftmaxKernels", dependencies: ["SoftmaxCore"], swiftSettings: kernelFlags),
        // Public Swift API: shapes, validation, special values, threading.
        .target(
            name: "SwiftSoftmax",
            dependencies: ["SoftmaxCore", "SoftmaxKernels", "CSoftmaxSupport"] + tierDependencies),
        // The C ABI: @_cdecl shims that translate pointers and errors, nothing else.
        .target(
            name: "SwiftSoftmaxCABI",
            dependencies: ["SwiftSoftmax", "CSoftmaxSupport"],
            linkerSettings: staticStdlib),
        .testTarget(
            name: "SwiftSoftmaxTests",
            dependencies: ["SwiftSoftmax", "SoftmaxCore", "SoftmaxKernels"] + tierDependencies),
    ] + tierTargets
)
