// Package gendocs writes the man pages and the shell completions of a cobra
// command tree, as the l3dsr package ships them (`l3dsr gen-docs`, run by
// `make packages`).
package gendocs

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	// cobra's doc package renders man pages through github.com/cpuguy83/go-md2man
	// (a build-time-only dependency of the hidden gen-docs command).
	"github.com/spf13/cobra/doc"
)

// Write writes the section 1 man pages of root to manDir and its bash, zsh
// and fish completions to complDir; an empty directory is skipped. version
// goes in the man pages' source line.
func Write(root *cobra.Command, manDir, complDir, version string) error {
	if manDir != "" {
		if err := os.MkdirAll(manDir, 0o755); err != nil {
			return err
		}
		// The date comes from SOURCE_DATE_EPOCH when it is set (reproducible builds).
		hdr := &doc.GenManHeader{Title: "L3DSR", Section: "1", Source: "l3dsr " + version, Manual: "l3dsr manual"}
		if err := doc.GenManTree(root, hdr, manDir); err != nil {
			return fmt.Errorf("gen-docs: man pages: %w", err)
		}
	}
	if complDir != "" {
		if err := os.MkdirAll(complDir, 0o755); err != nil {
			return err
		}
		for name, gen := range map[string]func(string) error{
			"l3dsr.bash": func(f string) error { return root.GenBashCompletionFileV2(f, true) },
			"_l3dsr":     root.GenZshCompletionFile,
			"l3dsr.fish": func(f string) error { return root.GenFishCompletionFile(f, true) },
		} {
			if err := gen(filepath.Join(complDir, name)); err != nil {
				return fmt.Errorf("gen-docs: completion %s: %w", name, err)
			}
		}
	}
	return nil
}
