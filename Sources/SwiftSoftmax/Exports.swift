// Users of SwiftSoftmax see the scalar protocol without importing an internal module.
@_exported import SoftmaxCore
