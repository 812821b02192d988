// swift-tools-version:6.0
// swiftsoftmax: softmax, its family, derivatives and cross-entropy, exported as a Swift library
// (SwiftSoftmax) and as a self-contained C library (libswiftsoftmax.so).
import PackageDescription

// Kernels are pure arithmetic over raw pointers; bounds are established once by the API layer.
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"])]

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
            dependencies: ["SoftmaxCore", "SoftmaxKernels", "CSoftmaxSupport"]),
        // The C ABI: @_cdecl shims that translate pointers and errors, nothing else.
        .target(
            name: "SwiftSoftmaxCABI",
            dependencies: ["SwiftSoftmax", "CSoftmaxSupport"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .testTarget(name: "SwiftSoftmaxTests", dependencies: ["SwiftSoftmax"]),
    ]
)
