package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	// cobra's doc package renders man pages through github.com/cpuguy83/go-md2man
	// (a build-time-only dependency of the hidden gen-docs command).
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd is the hidden command `make packages` runs to write the man
// pages and the shell completions that the l3dsr package ships. It is hidden
// because users get both from the package; `l3dsr completion` stays public.
func newGenDocsCmd(sys *system) *cobra.Command {
	var manDir, complDir string
	cmd := &cobra.Command{
		Use:    "gen-docs --man DIR --completions DIR",
		Short:  "Write man pages and bash/zsh/fish completions (for packaging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if manDir == "" && complDir == "" {
				return usageErrorf("gen-docs: give --man DIR and/or --completions DIR")
			}
			return sys.writeDocs(cmd.Root(), manDir, complDir)
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "directory for the section 1 man pages")
	cmd.Flags().StringVar(&complDir, "completions", "", "directory for l3dsr.bash, _l3dsr and l3dsr.fish")
	return cmd
}

// writeDocs writes the man pages and completions of root.
func writeDocs(root *cobra.Command, manDir, complDir string) error {
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
