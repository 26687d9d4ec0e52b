package xtrule

import (
	"fmt"
	"os"
)

// VariantEnv chooses the variant where no --iptables flag is given.
const VariantEnv = "L3DSR_IPTABLES"

// VariantFlag is an --iptables flag (a pflag.Value). Set keeps the text as
// given: Variant parses it, or $L3DSR_IPTABLES without the flag, which only
// the run can read, so that both are checked at one point of a command's
// checks and in one wording.
type VariantFlag struct {
	text  string
	given bool
}

func (f *VariantFlag) Set(s string) error {
	f.text, f.given = s, true
	return nil
}

func (f *VariantFlag) String() string { return f.text }

// Type is the flag's type in help.
func (f *VariantFlag) Type() string { return "string" }

// Variant is the variant --iptables gives, else the one $L3DSR_IPTABLES
// gives; an error says which of them is wrong.
func (f *VariantFlag) Variant() (Variant, error) {
	s, what := f.text, "--iptables"
	if !f.given {
		s, what = os.Getenv(VariantEnv), "$"+VariantEnv
	}
	v, err := ParseVariant(s)
	if err != nil {
		return v, fmt.Errorf("%s: %v", what, err)
	}
	return v, nil
}
