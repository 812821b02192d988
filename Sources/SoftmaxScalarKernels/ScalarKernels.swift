import SoftmaxCore

/// The scalar kernels the library ships, compiled once (not per CPU tier): each runs one
/// operation over a range of slices (or elements) of an [outer, n, inner] view whose pointers and
/// sizes the API layer has already validated. They follow the special-value policy of
/// docs/design.md, "Special values".
package enum ScalarKernels {}
