// Package config reads /etc/l3dsr/l3dsr.conf (YAML) and Yahoo dsrtools
// VIP=DSCP files, writes the running state back in the same format, and
// computes and applies the difference between a file and the running state.
//
// Parsing is strict: an unknown key, a bad value or a duplicate is an error
// that names the file and line, and a file with any error is refused whole,
// so that nothing is ever applied from a file the operator did not mean.
// The package never prints.
package config
