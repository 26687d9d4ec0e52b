package main

import "github.com/spf13/cobra"

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
