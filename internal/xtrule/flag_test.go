package xtrule

import "testing"

// The flag given wins over the environment, even given empty (the
// system's default); an error names the source that is wrong.
func TestVariantFlag(t *testing.T) {
	for _, tt := range []struct {
		env  string
		flag *string
		want Variant
		err  string
	}{
		{env: "nft", want: NFT},
		{env: "nft", flag: ptr("legacy"), want: Legacy},
		{env: "nft", flag: ptr(""), want: Default},
		{env: "bogus", err: `$L3DSR_IPTABLES: iptables variant "bogus" is unknown: use default, legacy or nft`},
		{env: "nft", flag: ptr("bogus"), err: `--iptables: iptables variant "bogus" is unknown: use default, legacy or nft`},
	} {
		t.Setenv(VariantEnv, tt.env)
		var f VariantFlag
		if tt.flag != nil {
			if err := f.Set(*tt.flag); err != nil {
				t.Fatal(err)
			}
		}
		v, err := f.Variant()
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("env %q flag %v: error %v, want %s", tt.env, tt.flag, err, tt.err)
			}
		} else if err != nil || v != tt.want {
			t.Errorf("env %q flag %v: %q, %v; want %q", tt.env, tt.flag, v, err, tt.want)
		}
	}
}

func ptr(s string) *string { return &s }
