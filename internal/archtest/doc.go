// Package archtest holds tests of the tree's shape, not of its behaviour:
// which package may import which (docs/architecture.md), and that every
// exported name has a reader outside its package. It has no code.
package archtest
